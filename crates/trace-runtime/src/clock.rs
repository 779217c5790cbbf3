//! Timestamps: the time-stamp counter where it is invariant and the kernel
//! itself trusts it, otherwise `CLOCK_MONOTONIC` in nanoseconds.
//!
//! The trace format carries the tick frequency of each generation, so ticks
//! need not be nanoseconds. On the 2-vCPU development VM one `rdtsc` costs
//! about 15 ns and one `clock_gettime(CLOCK_MONOTONIC)` about 37 ns (the
//! benchmarks print both next to every figure).
//!
//! The TSC frequency is calibrated against `CLOCK_MONOTONIC`: the first pair of
//! readings is taken when the clock is initialized, the second when a
//! generation first needs its frequency (at the end of the first generation,
//! at least 20 ms later), and the result is then frozen for the life of the
//! process, so that all generations and all traces of a process agree.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::raw;

/// Which clock timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClockSource {
    /// The TSC if it is invariant (`constant_tsc` and `nonstop_tsc`) and it
    /// is the kernel's clock source, otherwise `CLOCK_MONOTONIC`.
    #[default]
    Auto,
    /// The x86-64 time-stamp counter (falls back to `Monotonic` elsewhere).
    Tsc,
    /// `CLOCK_MONOTONIC`, in nanoseconds.
    Monotonic,
}

const UNINIT: u8 = 0;
const TSC: u8 = 1;
const MONOTONIC: u8 = 2;

static KIND: AtomicU8 = AtomicU8::new(UNINIT);
static CALIBRATION_START: OnceLock<(u64, u64)> = OnceLock::new();
static FREQUENCY: OnceLock<u64> = OnceLock::new();

/// The shortest calibration window for the TSC frequency.
const MIN_CALIBRATION: Duration = Duration::from_millis(20);

/// Chooses the clock (once per process: later calls keep the first choice)
/// and returns the source in use.
pub(crate) fn init(source: ClockSource) -> ClockSource {
    if KIND.load(Ordering::Acquire) == UNINIT {
        let want_tsc = match source {
            ClockSource::Auto => tsc_is_trustworthy(),
            ClockSource::Tsc => raw::tsc().is_some(),
            ClockSource::Monotonic => false,
        };
        let kind = if want_tsc { TSC } else { MONOTONIC };
        if KIND
            .compare_exchange(UNINIT, kind, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            && kind == TSC
        {
            CALIBRATION_START.get_or_init(|| (raw::tsc().unwrap_or(0), raw::monotonic_ns()));
        }
    }
    source_in_use()
}

/// The clock in use ([`ClockSource::Auto`] before the first trace started).
pub(crate) fn source_in_use() -> ClockSource {
    match KIND.load(Ordering::Acquire) {
        TSC => ClockSource::Tsc,
        MONOTONIC => ClockSource::Monotonic,
        _ => ClockSource::Auto,
    }
}

/// The current time in ticks.
#[inline(always)]
pub(crate) fn now() -> u64 {
    if KIND.load(Ordering::Relaxed) == TSC {
        if let Some(t) = raw::tsc() {
            return t;
        }
    }
    raw::monotonic_ns()
}

/// The trace clock, `CLOCK_MONOTONIC` and the wall clock, read together
/// (what a Go 1.25+ sync batch's `ClockSnapshot` holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The trace clock, in ticks.
    pub(crate) ticks: u64,
    /// `CLOCK_MONOTONIC`, in nanoseconds.
    pub(crate) mono: u64,
    /// The wall clock: seconds since the Unix epoch (0 before it).
    pub(crate) sec: u64,
    /// The wall clock: nanoseconds within the second.
    pub(crate) nsec: u64,
}

/// Reads the three clocks, one right after the other (about 100 ns apart
/// in all, the trace clock first).
pub(crate) fn snapshot() -> Snapshot {
    let ticks = now();
    let mono = raw::monotonic_ns();
    let wall = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Snapshot {
        ticks,
        mono,
        sec: wall.as_secs(),
        nsec: u64::from(wall.subsec_nanos()),
    }
}

/// Ticks per second. For the TSC, the first call calibrates (sleeping until
/// the calibration window is long enough) and freezes the result.
pub(crate) fn frequency() -> u64 {
    if KIND.load(Ordering::Acquire) != TSC {
        return 1_000_000_000;
    }
    *FREQUENCY.get_or_init(|| {
        let (tsc0, mono0) = *CALIBRATION_START.get_or_init(|| (now(), raw::monotonic_ns()));
        let min = MIN_CALIBRATION.as_nanos() as u64;
        let elapsed = raw::monotonic_ns().saturating_sub(mono0);
        if elapsed < min {
            std::thread::sleep(Duration::from_nanos(min - elapsed));
        }
        let mono1 = raw::monotonic_ns();
        let tsc1 = now();
        let ticks = u128::from(tsc1.saturating_sub(tsc0));
        let nanos = u128::from(mono1.saturating_sub(mono0)).max(1);
        u64::try_from(ticks * 1_000_000_000 / nanos)
            .unwrap_or(u64::MAX)
            .max(1)
    })
}

/// Whether the TSC is invariant and the kernel uses it for its own clocks
/// (so it checked that the CPUs' counters are synchronized).
fn tsc_is_trustworthy() -> bool {
    if raw::tsc().is_none() {
        return false;
    }
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .unwrap_or_default();
    if source.trim() != "tsc" {
        return false;
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or("");
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    has("constant_tsc") && has("nonstop_tsc")
}
