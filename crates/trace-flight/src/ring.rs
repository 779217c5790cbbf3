//! The ring of recent generations: a [`Subscriber`] that keeps whole
//! generations, evicts the oldest by size and age, and gives snapshots
//! shared references to them.
//!
//! # Design
//!
//! The runtime delivers from one thread at a time (its flusher, or a caller
//! of `advance` switching the generation itself), the only writer: it
//! copies each delivery
//! into the open generation (in pooled blocks, see `blocks.rs`) and, when
//! the generation ends, freezes it into an immutable [`Complete`] behind an
//! `Arc`. A snapshot takes the ring's lock only to clone those `Arc`s, then
//! writes without any lock, so neither recording threads (which never touch
//! the ring) nor the flusher wait for a snapshot to be written.
//!
//! Retained bytes are the complete generations plus the open one. After
//! every delivery, while they exceed `max_bytes`, the oldest complete
//! generation is evicted. In the *hard* mode (`max_bytes` of at least
//! [`HARD_MIN`]) the newest one goes too if need be; and a generation that
//! alone outgrows `max_bytes` is cut:
//! its bytes are dropped (a partial generation is not a valid trace) and an
//! advance is requested. The ring starts again with the generation after
//! it; the older ones, which that one cannot follow in a trace, stay until
//! it is complete. So retained bytes never exceed `max_bytes`. Below
//! [`HARD_MIN`] the newest complete generation is always kept, even when it
//! alone is larger, as Go does.
//!
//! A snapshot does not stop eviction. It *arms* the ring, asks the runtime
//! for an advance, and takes what the ring captured for it: the complete
//! generations as they were when the first generation ended after arming
//! (the `Arc`s are cloned then, under the lock). Eviction after that point
//! cannot take the generation the snapshot waited for.
//!
//! Cuts lose data, so the ring asks the runtime to advance early, once the
//! open generation reaches a quarter of `max_bytes`: a generation is then
//! cut only if it overshoots that target by three quarters of `max_bytes`
//! (what arrives between reaching the target and the end of the generation:
//! batches still open in the per-CPU buffers, the tables, and what writers
//! add while the flusher waits for a CPU, which can be tens of milliseconds
//! with more busy threads than CPUs). The ring then holds about three
//! complete generations besides the open one. (Since writers yield to the
//! flusher once the target is passed, see `trace_runtime`'s `limits`, cuts
//! are rare even with many more busy threads than CPUs.) Lowering the target when
//! generations overshoot was tried and did not help: the overshoot comes
//! from the advance's latency, and more advances meant more chances of a
//! long one.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use trace_runtime::{Format, Generation, GenerationLimits, LimitGuard, Subscriber};

use crate::blocks::{Blocks, Pool, BLOCK};
use crate::retain::{Retention, Watch};
use crate::triggers::TriggerConfig;

/// The smallest `max_bytes` that is enforced as a hard bound: the size of
/// one batch, below which a busy thread's generation cannot fit.
pub(crate) const HARD_MIN: u64 = 64 << 10;

/// The shortest generation period a recorder asks for.
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// The generation period a recorder with window `min_age` asks for: a
/// quarter of it, so that the window is at most about 1.25 `min_age` plus the
/// open generation.
pub(crate) fn period_for(min_age: Duration) -> Duration {
    (min_age / 4).max(MIN_PERIOD)
}

/// A complete generation, immutable and shared with snapshots.
#[derive(Debug)]
pub(crate) struct Complete {
    pub(crate) gen: Generation,
    /// The trace format it is in (the session's: all generations of a ring
    /// share it).
    pub(crate) format: Format,
    pub(crate) started: Instant,
    pub(crate) ended: Instant,
    pub(crate) data: Blocks,
}

#[derive(Debug)]
struct Open {
    gen: Generation,
    started: Instant,
    data: Blocks,
    /// Dropped for being too large: its further batches are dropped too.
    cut: bool,
}

/// Counters for [`Stats`](crate::Stats).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) peak_retained: u64,
    pub(crate) completed: u64,
    pub(crate) evicted: u64,
    pub(crate) cut: u64,
    pub(crate) bytes_dropped: u64,
}

#[derive(Debug)]
pub(crate) struct State {
    /// The format of the tracing session the ring receives from (given to
    /// `on_join`; it never changes while the ring is subscribed).
    format: Format,
    open: Option<Open>,
    done: VecDeque<Arc<Complete>>,
    done_bytes: u64,
    /// When the previous generation ended: the next one's start.
    last_end: Instant,
    /// A snapshot waits for the next generation to end.
    armed: bool,
    /// What the ring held when a generation ended while armed.
    captured: Option<Vec<Arc<Complete>>>,
    counters: Counters,
    /// Pinned generations: trigger windows and the slowest kept.
    pub(crate) retention: Retention,
    /// The recorder stops: the dumper writes what is left and exits.
    pub(crate) stopping: bool,
}

impl State {
    fn retained(&self) -> u64 {
        self.done_bytes
            + self.retention.pinned_only(&self.done)
            + self.open.as_ref().map_or(0, |o| o.data.len())
    }

    /// The most bytes the open generation may reach: what pins outside the
    /// ring leave of `max_bytes`.
    fn room(&self, max_bytes: u64) -> u64 {
        max_bytes.saturating_sub(self.retention.pinned_only(&self.done))
    }

    /// The complete generations, oldest first (consecutive).
    pub(crate) fn done(&self) -> &VecDeque<Arc<Complete>> {
        &self.done
    }

    fn evict_oldest(&mut self) {
        if let Some(old) = self.done.pop_front() {
            self.done_bytes -= old.data.len();
            self.counters.evicted += 1;
        }
    }
}

/// What a [`Ring`] reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingStats {
    pub(crate) retained: u64,
    pub(crate) generations: usize,
    pub(crate) window: Duration,
    pub(crate) target: u64,
    pub(crate) counters: Counters,
}

/// The generations one recorder session keeps.
#[derive(Debug)]
pub(crate) struct Ring {
    max_bytes: u64,
    min_age: Duration,
    hard: bool,
    pool: Arc<Pool>,
    state: Mutex<State>,
    /// Wakes the dumper: a window closed, one opened, or the recorder stops.
    pub(crate) wake: Condvar,
    /// The rules' scanner, used by the flusher only (outside `state`, so
    /// that scanning does not delay snapshots).
    watch: Mutex<Option<Watch>>,
    /// The byte bound registered with the runtime.
    limit: Mutex<Option<LimitGuard>>,
}

impl Ring {
    #[cfg(test)]
    pub(crate) fn new(max_bytes: u64, min_age: Duration) -> Self {
        Self::with_triggers(max_bytes, min_age, None)
    }

    /// A ring whose pins may take `triggers.retain_bytes` (default half of
    /// `max_bytes`), and that watches for `triggers`' rules.
    pub(crate) fn with_triggers(
        max_bytes: u64,
        min_age: Duration,
        triggers: Option<&TriggerConfig>,
    ) -> Self {
        let hard = max_bytes >= HARD_MIN;
        let watch = triggers.map(Watch::new).filter(|w| !w.scanner.is_idle());
        let cap = match triggers.map_or(0, |t| t.retain_bytes) {
            0 => max_bytes / 2,
            n => n.min(max_bytes / 2),
        };
        let retention = Retention::new(cap, triggers, watch.as_ref());
        Self {
            max_bytes,
            min_age,
            hard,
            // Enough free blocks for the generations evicted at a time.
            pool: Arc::new(Pool::new((max_bytes as usize / BLOCK / 4).max(4))),
            state: Mutex::new(State {
                format: Format::default(),
                open: None,
                done: VecDeque::new(),
                done_bytes: 0,
                last_end: Instant::now(),
                armed: false,
                captured: None,
                counters: Counters::default(),
                retention,
                stopping: false,
            }),
            wake: Condvar::new(),
            watch: Mutex::new(watch),
            limit: Mutex::new(None),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock panics; if something did, the state is
        // still consistent enough to keep recording.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation size at which the ring asks the runtime to advance
    /// (0: none).
    pub(crate) fn target(&self) -> u64 {
        if self.hard {
            self.max_bytes / 4
        } else {
            0
        }
    }

    /// Registers the early-advance target with the runtime.
    pub(crate) fn register_limit(&self) {
        if self.hard {
            let limits = GenerationLimits::default().max_bytes(self.target());
            *self.limit.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(trace_runtime::limit_generations(limits));
        }
    }

    /// Removes the runtime byte bound (the session ended).
    pub(crate) fn release_limit(&self) {
        self.limit.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Evicts (and, in the hard mode, cuts) until the retained bytes fit;
    /// returns whether the open generation was cut.
    fn enforce(&self, st: &mut State) -> bool {
        let keep = if self.hard { 0 } else { 1 };
        while st.retained() > self.max_bytes && st.done.len() > keep {
            st.evict_oldest();
        }
        let mut cut = false;
        if self.hard && st.retained() > self.max_bytes {
            if let Some(open) = &mut st.open {
                st.counters.bytes_dropped += open.data.len();
                open.data.clear();
                open.cut = true;
                cut = true;
            }
        }
        st.counters.peak_retained = st.counters.peak_retained.max(st.retained());
        cut
    }

    /// Arms the ring for a snapshot: the next generation to end is
    /// captured with the ones before it, for [`disarm`](Ring::disarm).
    pub(crate) fn arm(&self) {
        let mut st = self.state();
        st.armed = true;
        st.captured = None;
    }

    /// Ends [`arm`](Ring::arm): the generations captured since (oldest
    /// first, consecutive), if one ended whole.
    pub(crate) fn disarm(&self) -> Option<Vec<Arc<Complete>>> {
        let mut st = self.state();
        st.armed = false;
        st.captured.take()
    }

    /// The complete generations, oldest first (consecutive).
    pub(crate) fn complete(&self) -> Vec<Arc<Complete>> {
        self.state().done.iter().cloned().collect()
    }

    pub(crate) fn stats(&self) -> RingStats {
        let st = self.state();
        RingStats {
            retained: st.retained(),
            generations: st.done.len(),
            window: st
                .done
                .front()
                .map_or(Duration::ZERO, |g| g.started.elapsed()),
            target: self.target(),
            counters: st.counters,
        }
    }
}

impl Subscriber for Ring {
    fn on_join(&self, _first: Generation, format: Format) {
        self.state().format = format;
        if let Some(w) = self
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            w.scanner.set_version(format.version());
        }
    }

    fn on_batches(&self, gen: Generation, batches: &[u8]) {
        // The copy happens under the lock that snapshots take to share the
        // complete generations; deliveries are small enough (a quarter of
        // the advance target) that this delays a snapshot by well under a
        // millisecond.
        let n = batches.len() as u64;
        if let Some(w) = self
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            w.scanner.scan(gen.get(), batches);
        }
        let mut guard = self.state();
        let st = &mut *guard;
        let room = st.room(self.max_bytes);
        let open = match &mut st.open {
            Some(open) if open.gen == gen => open,
            other => {
                // The previous generation never ended (the runtime's
                // protocol rules this out): drop it.
                if other.is_some() {
                    st.counters.cut += 1;
                }
                other.insert(Open {
                    gen,
                    started: st.last_end,
                    data: Blocks::new(self.pool.clone()),
                    cut: false,
                })
            }
        };
        let cut = if open.cut {
            st.counters.bytes_dropped += n;
            false
        } else if self.hard && open.data.len() + n > room {
            // Too large whatever is evicted: drop it without copying.
            st.counters.bytes_dropped += n + open.data.len();
            open.data.clear();
            open.cut = true;
            true
        } else {
            open.data.extend(batches);
            self.enforce(st)
        };
        drop(guard);
        if cut {
            trace_runtime::request_advance();
        }
    }

    fn on_generation_end(&self, gen: Generation) {
        let findings = {
            let mut watch = self.watch.lock().unwrap_or_else(|e| e.into_inner());
            watch.as_mut().map(Watch::evaluate).unwrap_or_default()
        };
        let now = Instant::now();
        let mut guard = self.state();
        let st = &mut *guard;
        st.last_end = now;
        let Some(open) = st.open.take() else { return };
        if open.gen != gen || open.cut {
            st.counters.cut += 1;
            if let Some(w) = self
                .watch
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_mut()
            {
                w.scanner.reset();
            }
            return;
        }
        // A generation follows the previous one or starts the ring anew.
        if st
            .done
            .back()
            .is_some_and(|last| last.gen.get() + 1 != gen.get())
        {
            while !st.done.is_empty() {
                st.evict_oldest();
            }
        }
        st.done_bytes += open.data.len();
        let format = st.format;
        let complete = Arc::new(Complete {
            gen,
            format,
            started: open.started,
            ended: now,
            data: open.data,
        });
        st.done.push_back(complete.clone());
        st.counters.completed += 1;
        let closed = st
            .retention
            .on_generation_end(&st.done, &complete, now, findings);
        let keep_floor = st.retention.keep_floor();
        // Keep the newest generations that cover `min_age`, and no more.
        while st.done.len() > 1 && now.duration_since(st.done[1].started) >= self.min_age {
            st.evict_oldest();
        }
        // Nothing is open, and the new generation fits alone (or it would
        // have been cut): this only evicts older ones.
        self.enforce(st);
        if st.armed && st.captured.is_none() {
            st.captured = Some(st.done.iter().cloned().collect());
        }
        drop(guard);
        if let Some(w) = self
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            w.set_floor(keep_floor);
        }
        if closed {
            self.wake.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(n: u64) -> Generation {
        Generation::new(n).unwrap()
    }

    /// Delivers generation `n` as `chunks` chunks of `size` bytes.
    fn deliver(ring: &Ring, n: u64, chunks: usize, size: usize) {
        for _ in 0..chunks {
            ring.on_batches(gen(n), &vec![n as u8; size]);
        }
        ring.on_generation_end(gen(n));
    }

    fn gens(ring: &Ring) -> Vec<u64> {
        ring.complete().iter().map(|g| g.gen.get()).collect()
    }

    #[test]
    fn keeps_whole_recent_generations_within_max_bytes() {
        let ring = Ring::new(1 << 20, Duration::from_secs(3600));
        for n in 1..=10 {
            deliver(&ring, n, 4, 50_000);
        }
        // 200 kB each: five fit in 1 MiB.
        assert_eq!(gens(&ring), [6, 7, 8, 9, 10]);
        let stats = ring.stats();
        assert!(stats.counters.peak_retained <= 1 << 20);
        assert_eq!(stats.counters.evicted, 5);
        let complete = ring.complete();
        assert_eq!(complete[0].data.len(), 200_000);
        assert!(complete[0].data.iter().all(|c| c.iter().all(|&b| b == 6)));
    }

    #[test]
    fn min_age_bounds_the_window() {
        let ring = Ring::new(1 << 30, Duration::ZERO);
        for n in 1..=5 {
            deliver(&ring, n, 1, 10);
        }
        assert_eq!(gens(&ring), [5]);
    }

    #[test]
    fn an_oversized_generation_is_cut_and_the_ring_restarts_after_it() {
        let ring = Ring::new(HARD_MIN * 4, Duration::from_secs(3600));
        deliver(&ring, 1, 1, 1000);
        deliver(&ring, 2, 1, 1000);
        // Generation 3 alone outgrows the bound: it is cut, and 1 and 2 stay
        // until a generation that can follow them is complete.
        deliver(&ring, 3, 10, 40_000);
        assert_eq!(gens(&ring), [1, 2]);
        assert_eq!(ring.stats().counters.cut, 1);
        deliver(&ring, 4, 1, 1000);
        deliver(&ring, 5, 1, 1000);
        assert_eq!(gens(&ring), [4, 5]);
        assert!(ring.stats().counters.peak_retained <= HARD_MIN * 4);
    }

    #[test]
    fn an_armed_ring_captures_the_next_generation_before_eviction() {
        let ring = Ring::new(HARD_MIN * 4, Duration::from_secs(3600));
        deliver(&ring, 1, 1, 150_000);
        ring.arm();
        ring.on_batches(gen(2), &vec![0; 150_000]);
        // The open generation makes room by evicting the complete one.
        assert_eq!(gens(&ring), Vec::<u64>::new());
        ring.on_generation_end(gen(2));
        // Generation 3 evicts 2 from the ring, not from the capture.
        deliver(&ring, 3, 1, 150_000);
        assert_eq!(gens(&ring), [3]);
        let captured = ring.disarm().expect("a capture");
        assert_eq!(captured.len(), 1);
        assert_eq!(captured[0].gen.get(), 2);
        assert_eq!(captured[0].data.len(), 150_000);
        assert!(ring.disarm().is_none());
        assert!(ring.stats().counters.peak_retained <= HARD_MIN * 4);
    }

    #[test]
    fn a_cut_generation_is_not_captured() {
        let ring = Ring::new(HARD_MIN, Duration::from_secs(3600));
        ring.arm();
        deliver(&ring, 1, 2, 40_000);
        assert!(ring.disarm().is_none());
        assert_eq!(gens(&ring), Vec::<u64>::new());
        ring.arm();
        deliver(&ring, 2, 1, 1000);
        let captured = ring.disarm().expect("a capture");
        assert_eq!(
            captured.iter().map(|g| g.gen.get()).collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn generations_keep_the_format_the_ring_joined_in() {
        for format in [Format::Go123, Format::Go126] {
            let ring = Ring::new(1 << 20, Duration::from_secs(3600));
            ring.on_join(gen(4), format);
            deliver(&ring, 4, 1, 10);
            deliver(&ring, 5, 1, 10);
            assert!(ring.complete().iter().all(|g| g.format == format));
        }
    }

    #[test]
    fn pinned_generations_count_once_and_stay_within_max_bytes() {
        const MAX: u64 = 512 << 10;
        let hour = Duration::from_secs(3600);
        let ring = Ring::with_triggers(MAX, hour, None);
        for n in 1..=3 {
            deliver(&ring, n, 1, 100_000);
        }
        {
            let mut st = ring.state();
            let st = &mut *st;
            let done = st.done.clone();
            let id = st.retention.open_window(
                &done,
                Instant::now(),
                Some(hour),
                Some(Duration::ZERO),
                "test".into(),
                None,
                true,
            );
            assert!(id.is_some());
            // Three generations do not fit in the pins' half: the oldest
            // is left out. Pinned generations still in the ring count once.
            assert_eq!(st.retention.pinned_bytes(), 200_000);
            assert_eq!(st.retained(), 300_000);
        }
        for n in 4..=9 {
            deliver(&ring, n, 1, 100_000);
        }
        // The ring has what the pins leave: 2 and 3 are pinned (no longer
        // in the ring), and three more fit beside them.
        assert_eq!(gens(&ring), [7, 8, 9]);
        let st = ring.state();
        assert_eq!(st.retention.pinned_bytes(), 200_000);
        assert_eq!(st.retained(), 500_000);
        assert!(st.counters.peak_retained <= MAX);
    }

    #[test]
    fn below_the_hard_minimum_the_newest_generation_is_kept_whole() {
        let ring = Ring::new(16, Duration::from_secs(3600));
        deliver(&ring, 1, 2, 100);
        deliver(&ring, 2, 2, 100);
        ring.on_batches(gen(3), &[0; 100]);
        assert_eq!(gens(&ring), [2]);
        assert_eq!(ring.stats().retained, 300);
    }
}
