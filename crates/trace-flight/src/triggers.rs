//! Trigger rules, retention of the slowest, and their settings
//! ([`TriggerConfig`]).
//!
//! A recorder made with [`FlightRecorder::with_triggers`] watches what it
//! receives for the tasks, regions and logs its rules name (on the
//! runtime's flusher thread, see `scan.rs`), and each rule that fires opens
//! a *window*: the generations from `lookback` before the trigger to
//! `lookforward` after it, pinned so that eviction cannot take them, then
//! written to the dump directory by a background thread (`dumper.rs`).
//!
//! [`FlightRecorder::with_triggers`]: crate::FlightRecorder::with_triggers

use std::path::PathBuf;
use std::time::Duration;

/// A rule that fires a window dump.
///
/// ```
/// use std::time::Duration;
/// use trace_flight::Rule;
///
/// let rules = [
///     Rule::slow_task("request", Duration::from_millis(100)),
///     Rule::slow_region("db.query", Duration::from_millis(20)),
///     Rule::log("error"),
/// ];
/// # drop(rules);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// A task of type `name` that took longer than `over`.
    SlowTask {
        /// The task type (the name given to `new_task`).
        name: String,
        /// The duration it must exceed.
        over: Duration,
    },
    /// A region named `name` that took longer than `over`.
    SlowRegion {
        /// The region name.
        name: String,
        /// The duration it must exceed.
        over: Duration,
    },
    /// A log with this category.
    Log {
        /// The category.
        category: String,
    },
}

impl Rule {
    /// A task of type `name` slower than `over`.
    pub fn slow_task(name: impl Into<String>, over: Duration) -> Self {
        Self::SlowTask {
            name: name.into(),
            over,
        }
    }

    /// A region named `name` slower than `over`.
    pub fn slow_region(name: impl Into<String>, over: Duration) -> Self {
        Self::SlowRegion {
            name: name.into(),
            over,
        }
    }

    /// A log of category `category`.
    pub fn log(category: impl Into<String>) -> Self {
        Self::Log {
            category: category.into(),
        }
    }
}

/// Keep the `n` slowest tasks (or regions) of one type, each with the
/// generations it spans, until the recorder stops; they are then written
/// to the dump directory.
///
/// ```
/// use trace_flight::KeepSlowest;
/// let keep = KeepSlowest::tasks("request", 5);
/// assert_eq!(keep.n, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepSlowest {
    /// Regions rather than tasks.
    pub regions: bool,
    /// The task type or region name.
    pub name: String,
    /// How many to keep.
    pub n: usize,
}

impl KeepSlowest {
    /// The `n` slowest tasks of type `name`.
    pub fn tasks(name: impl Into<String>, n: usize) -> Self {
        Self {
            regions: false,
            name: name.into(),
            n,
        }
    }

    /// The `n` slowest regions named `name`.
    pub fn regions(name: impl Into<String>, n: usize) -> Self {
        Self {
            regions: true,
            name: name.into(),
            n,
        }
    }
}

/// The settings of a recorder's triggers, retention and dump directory.
///
/// # The byte budget
///
/// `max_bytes` stays a hard bound on everything the recorder holds: the
/// ring of recent generations, the generation being received, and the
/// *pinned* generations (those of open trigger windows, of windows being
/// written, and of the slowest tasks and regions kept). Pinned
/// generations may take at most `retain_bytes` (default: half of
/// `max_bytes`, and never more than half); the ring gets what they leave,
/// so with nothing pinned it has all of `max_bytes`, as without triggers.
/// A generation pinned while still in the ring is counted once.
///
/// When pinned bytes would exceed `retain_bytes`, the kept slowest entries
/// of the lowest rank go first (each type's `n`-th slowest before any
/// type's `n-1`-th); a window never takes a type's slowest; a window
/// that finds no room closes early and is written as it is.
///
/// ```
/// use std::time::Duration;
/// use trace_flight::{KeepSlowest, Rule, TriggerConfig};
///
/// let mut config = TriggerConfig::new(std::env::temp_dir().join("dumps"));
/// config.rules.push(Rule::slow_task("request", Duration::from_millis(100)));
/// config.keep_slowest.push(KeepSlowest::tasks("request", 5));
/// config.max_dumps = 10;
/// assert_eq!(config.lookforward, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TriggerConfig {
    /// The dump directory (created if missing). Dumps are named
    /// `flight-NNNNNN-KIND.trace`, listed in `manifest.json`.
    pub dir: PathBuf,
    /// The rules that fire window dumps.
    pub rules: Vec<Rule>,
    /// The slowest tasks and regions to keep.
    pub keep_slowest: Vec<KeepSlowest>,
    /// How far before a trigger a window reaches (default 1 s), at
    /// generation granularity.
    pub lookback: Duration,
    /// How far after a trigger a window reaches (default 500 ms).
    pub lookforward: Duration,
    /// After a window dump closes, triggers are ignored (counted as
    /// suppressed) for this long (default 1 s). Triggers while a window is
    /// open always join it, extending it to their own lookforward, up to
    /// four lookforwards past its first trigger.
    pub cooldown: Duration,
    /// The most dumps in the directory (default 16); the oldest window
    /// dumps are removed first.
    pub max_dumps: usize,
    /// The most bytes of dumps and manifest in the directory (default
    /// 64 MiB). A dump that cannot fit even alone is skipped.
    pub max_dir_bytes: u64,
    /// The most bytes pinned generations may take, within `max_bytes`
    /// (0: half of `max_bytes`; more than half is cut to half, which leaves
    /// the ring room for the generation being received and about one
    /// more). See the type's docs.
    pub retain_bytes: u64,
    /// How often the slowest kept are written to the directory when they
    /// changed (default 5 s), so that a crash loses at most this much of
    /// them; each write replaces the previous `slowest` dumps.
    /// `Duration::MAX`: only when the recorder stops.
    pub kept_sync: Duration,
}

impl TriggerConfig {
    /// Defaults, dumping to `dir`, with no rules and nothing kept.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            rules: Vec::new(),
            keep_slowest: Vec::new(),
            lookback: Duration::from_secs(1),
            lookforward: Duration::from_millis(500),
            cooldown: Duration::from_secs(1),
            max_dumps: 16,
            max_dir_bytes: 64 << 20,
            retain_bytes: 0,
            kept_sync: Duration::from_secs(5),
        }
    }
}

/// What the triggers did, from
/// [`FlightRecorder::trigger_stats`](crate::FlightRecorder::trigger_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TriggerStats {
    /// Triggers that opened a window.
    pub windows: u64,
    /// Triggers that joined an open window.
    pub coalesced: u64,
    /// Triggers ignored during a cooldown.
    pub suppressed: u64,
    /// Dumps written to the directory.
    pub dumps_written: u64,
    /// Dumps removed to respect `max_dumps` and `max_dir_bytes`.
    pub dumps_rotated: u64,
    /// Dumps not written: too large for the directory, or writing failed.
    pub dumps_failed: u64,
    /// Slowest tasks and regions kept now.
    pub kept: usize,
    /// Bytes of pinned generations now.
    pub pinned_bytes: u64,
}
