//! Limits that subscribers put on generations: how long one may last and how
//! many bytes it may grow to before the recorder advances, and a request to
//! advance soon that does not wait.
//!
//! A flight recorder keeps whole generations, so a generation is the
//! granularity of its window, in time and in bytes. With fixed one-second
//! generations, a recorder asked for the last 100 ms keeps a whole second,
//! and one asked to keep at most 1 MiB cannot keep its word when a busy
//! second writes 50 MiB. A subscriber that needs finer generations registers
//! [`GenerationLimits`] with [`limit_generations`]; the recorder applies the
//! tightest limits of all registrations (and of
//! [`Config::generation_period`](crate::Config::generation_period)) for as
//! long as the returned [`LimitGuard`] lives.
//!
//! # Design
//!
//! The byte limit is checked by the flusher, against the bytes it delivered
//! in the current generation plus the finished batches waiting for it. The
//! flusher normally sleeps for its flush period, during which a busy process
//! can write many megabytes, so while a byte limit is set a writer that
//! closes a batch and finds a quarter of the limit waiting wakes the flusher
//! (one relaxed load per closed batch, and an unpark at most once per
//! flusher round). The limit is thus reached by at most the bytes written
//! while the flusher wakes up and switches generations, plus the batches
//! still open in the per-CPU buffers and the generation's string and stack
//! tables, which are only known when it ends.
//!
//! With more busy threads than CPUs the flusher can wait tens of
//! milliseconds for a CPU after it is woken, while the writers that keep it
//! from running fill the generation far past its bound (a flight recorder
//! then has to drop it whole). So a writer that closes a batch once the
//! bound is reached and the flusher was already woken yields its CPU, once
//! per batch, after releasing its slot. This costs nothing until the bound
//! is passed, and under the flight recorder's soak (8 threads annotating
//! flat out on 2 CPUs, 4 MiB bound) it took dropped generations from about
//! 8% to under 0.1%, for about a quarter of the writers' throughput at that
//! saturating load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use crate::runtime::runtime;
use crate::sync::lock_std;

/// Upper bounds on a generation's duration and size, registered with
/// [`limit_generations`].
///
/// ```
/// use std::time::Duration;
/// use trace_runtime::GenerationLimits;
///
/// let limits = GenerationLimits::default()
///     .max_period(Duration::from_millis(50))
///     .max_bytes(1 << 20);
/// assert_eq!(limits.get_max_bytes(), Some(1 << 20));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerationLimits {
    max_period: Option<Duration>,
    max_bytes: Option<u64>,
}

impl GenerationLimits {
    /// Advance at least this often (at least every 100 µs, as
    /// [`Config::generation_period`](crate::Config::generation_period)).
    pub fn max_period(mut self, period: Duration) -> Self {
        self.max_period = Some(period.max(Duration::from_micros(100)));
        self
    }

    /// Advance once the current generation has about this many bytes (at
    /// least 4 KiB).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes.max(4 << 10));
        self
    }

    /// The period bound, if any.
    pub fn get_max_period(&self) -> Option<Duration> {
        self.max_period
    }

    /// The byte bound, if any.
    pub fn get_max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }
}

/// Keeps a [`limit_generations`] registration in force; dropping it removes
/// the registration.
#[derive(Debug)]
#[must_use = "the limits are removed when the guard is dropped"]
pub struct LimitGuard {
    id: u64,
}

impl Drop for LimitGuard {
    fn drop(&mut self) {
        let mut registry = lock_std(&REGISTRY);
        registry.retain(|(id, _)| *id != self.id);
        apply(&registry);
    }
}

/// Registers `limits` until the returned guard is dropped. The recorder
/// advances when the current generation is older than the smallest
/// registered (or configured) period, or larger than the smallest registered
/// byte bound. Limits only ever make generations shorter.
///
/// ```
/// use std::time::Duration;
/// use trace_runtime::{limit_generations, GenerationLimits};
///
/// let guard = limit_generations(GenerationLimits::default().max_period(Duration::from_millis(10)));
/// // ... subscribe a recorder that wants 10 ms generations ...
/// drop(guard);
/// ```
pub fn limit_generations(limits: GenerationLimits) -> LimitGuard {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut registry = lock_std(&REGISTRY);
    registry.push((id, limits));
    apply(&registry);
    LimitGuard { id }
}

/// Asks the recorder to complete the current generation soon, without
/// waiting for it. Unlike [`advance`](crate::advance), this may be called
/// from a [`Subscriber`](crate::Subscriber) callback (the advance happens
/// after the callback returns). Does nothing while tracing never started.
///
/// ```
/// trace_runtime::request_advance();
/// ```
pub fn request_advance() {
    if let Some(rt) = runtime() {
        rt.request_advance();
    }
}

static REGISTRY: Mutex<Vec<(u64, GenerationLimits)>> = Mutex::new(Vec::new());

/// The tightest registered period in nanoseconds (`u64::MAX`: none).
static PERIOD_NS: AtomicU64 = AtomicU64::new(u64::MAX);
/// The tightest registered byte bound (`u64::MAX`: none).
static MAX_BYTES: AtomicU64 = AtomicU64::new(u64::MAX);
/// Waiting bytes at which a writer wakes the flusher (`u64::MAX`: never).
static WAKE_AT: AtomicU64 = AtomicU64::new(u64::MAX);
/// Whether a writer already woke the flusher in this round.
static WAKE_PENDING: AtomicBool = AtomicBool::new(false);
/// Bytes the flusher delivered in the current generation.
static DELIVERED: AtomicU64 = AtomicU64::new(0);
static FLUSHER: OnceLock<Thread> = OnceLock::new();

/// Publishes the tightest limits of `registry` and wakes the flusher so
/// that it applies them.
fn apply(registry: &[(u64, GenerationLimits)]) {
    let period = registry.iter().filter_map(|(_, l)| l.max_period).min();
    let bytes = registry.iter().filter_map(|(_, l)| l.max_bytes).min();
    let period_ns = period.map_or(u64::MAX, |p| {
        u64::try_from(p.as_nanos()).unwrap_or(u64::MAX)
    });
    PERIOD_NS.store(period_ns, Ordering::Relaxed);
    MAX_BYTES.store(bytes.unwrap_or(u64::MAX), Ordering::Relaxed);
    WAKE_AT.store(bytes.map_or(u64::MAX, |b| b / 4), Ordering::Relaxed);
    if let Some(flusher) = FLUSHER.get() {
        flusher.unpark();
    }
}

/// The flusher thread, for writers to wake (set once: it lives forever).
pub(crate) fn set_flusher(flusher: Thread) {
    let _ = FLUSHER.set(flusher);
}

/// The generation period in force: `configured`, or a registered one if
/// shorter.
pub(crate) fn period(configured: Duration) -> Duration {
    configured.min(Duration::from_nanos(PERIOD_NS.load(Ordering::Relaxed)))
}

/// Waiting bytes past which the flusher delivers without sleeping.
pub(crate) fn flush_early_bytes(default: u64) -> u64 {
    default.min(WAKE_AT.load(Ordering::Relaxed))
}

/// Whether the current generation reached the byte bound, with `waiting`
/// finished bytes not delivered yet.
pub(crate) fn bytes_reached(waiting: u64) -> bool {
    let total = DELIVERED
        .load(Ordering::Relaxed)
        .saturating_add(plausible(waiting));
    total >= MAX_BYTES.load(Ordering::Relaxed)
}

/// The count of waiting bytes is updated outside the lock that orders
/// batches, so it may briefly run below zero; reads it as zero then.
fn plausible(waiting: u64) -> u64 {
    if waiting > u64::MAX / 2 {
        0
    } else {
        waiting
    }
}

/// The flusher starts a round: writers may wake it again.
pub(crate) fn flusher_awake() {
    WAKE_PENDING.store(false, Ordering::Relaxed);
}

/// The flusher delivered `n` bytes of the current generation.
pub(crate) fn delivered(n: u64) {
    DELIVERED.fetch_add(n, Ordering::Relaxed);
}

/// The flusher switched generations.
pub(crate) fn generation_switched() {
    DELIVERED.store(0, Ordering::Relaxed);
}

/// A writer closed a batch and `waiting` finished bytes wait for the
/// flusher: wakes it if they reached a quarter of the byte bound. Returns
/// whether the generation is past its byte bound, which the flusher should
/// already have served: the writer then yields the CPU (see `buffer.rs`).
#[inline]
pub(crate) fn batch_closed(waiting: u64) -> bool {
    if plausible(waiting) < WAKE_AT.load(Ordering::Relaxed) {
        return false;
    }
    if !WAKE_PENDING.swap(true, Ordering::Relaxed) {
        if let Some(flusher) = FLUSHER.get() {
            flusher.unpark();
        }
        return false;
    }
    bytes_reached(waiting)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_limits_apply_while_their_guards_live() {
        let configured = Duration::from_secs(1);
        let a = limit_generations(
            GenerationLimits::default()
                .max_period(Duration::from_millis(200))
                .max_bytes(1 << 20),
        );
        let b =
            limit_generations(GenerationLimits::default().max_period(Duration::from_millis(50)));
        assert_eq!(period(configured), Duration::from_millis(50));
        assert_eq!(MAX_BYTES.load(Ordering::Relaxed), 1 << 20);
        assert_eq!(flush_early_bytes(8 << 20), 256 << 10);
        drop(b);
        assert_eq!(period(configured), Duration::from_millis(200));
        drop(a);
        assert_eq!(period(configured), configured);
        assert_eq!(flush_early_bytes(8 << 20), 8 << 20);
        assert!(!bytes_reached(u64::MAX - 1));
    }
}
