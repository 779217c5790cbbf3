//! Small value types of the event API: ids, states, resources, values, times
//! and trace strings.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use crate::quote::Quoted;

macro_rules! signed_id {
    ($(#[$doc:meta])* $name:ident, $none:ident, $none_doc:literal) => {
        $(#[$doc])*
        ///
        /// Ids are Go's: signed 64-bit, with −1 meaning "none".
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        #[doc = $none_doc]
        pub const $none: $name = $name(-1);

        impl $name {
            /// Whether this is a real id rather than the "none" value.
            pub fn is_some(self) -> bool {
                self.0 != -1
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

signed_id!(
    /// A goroutine id.
    GoId,
    NO_GOROUTINE,
    "No goroutine (Go's `NoGoroutine`)."
);
signed_id!(
    /// A proc (P) id.
    ProcId,
    NO_PROC,
    "No proc (Go's `NoProc`)."
);
signed_id!(
    /// A thread (M) id.
    ThreadId,
    NO_THREAD,
    "No thread (Go's `NoThread`)."
);

/// A user task id (`runtime/trace.NewTask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

/// No task (Go's `NoTask`): the parent of a root task.
pub const NO_TASK: TaskId = TaskId(u64::MAX);

/// The background task that regions and logs outside any task belong to.
pub const BACKGROUND_TASK: TaskId = TaskId(0);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A timestamp in nanoseconds on the traced program's monotonic clock.
///
/// Times returned by the reader strictly increase over the whole stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time(pub i64);

impl Time {
    /// The time in nanoseconds.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Nanoseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn nanos_since(self, earlier: Time) -> i64 {
        self.0.wrapping_sub(earlier.0)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later (as
    /// [`std::time::Instant::duration_since`]). `later - earlier` says the
    /// same.
    ///
    /// ```
    /// use std::time::Duration;
    /// use trace_reader::Time;
    ///
    /// let (start, end) = (Time(1_000), Time(4_500));
    /// assert_eq!(end - start, Duration::from_nanos(3_500));
    /// assert_eq!(start - end, Duration::ZERO);
    /// assert_eq!(start + Duration::from_nanos(3_500), end);
    /// ```
    pub fn duration_since(self, earlier: Time) -> Duration {
        self.checked_duration_since(earlier)
            .unwrap_or(Duration::ZERO)
    }

    /// The time from `earlier` to `self`, `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Time) -> Option<Duration> {
        let ns = self.0.checked_sub(earlier.0)?;
        u64::try_from(ns).ok().map(Duration::from_nanos)
    }
}

impl Sub for Time {
    type Output = Duration;

    /// [`Time::duration_since`]: zero if `rhs` is later.
    fn sub(self, rhs: Time) -> Duration {
        self.duration_since(rhs)
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates at the largest time.
    fn add(self, d: Duration) -> Time {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Time(self.0.saturating_add(ns))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;

    /// Saturates at the smallest time.
    fn sub(self, d: Duration) -> Time {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Time(self.0.saturating_sub(ns))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The state of a goroutine, as seen in a state transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GoState {
    /// Nothing is known about the goroutine (it was already there when the
    /// trace started).
    Undetermined,
    /// The goroutine does not exist.
    NotExist,
    /// Runnable but not running.
    Runnable,
    /// Running on a thread.
    Running,
    /// Waiting for something.
    Waiting,
    /// In a system call, bound to a thread.
    Syscall,
}

impl GoState {
    /// Whether a goroutine in this state is bound to a thread.
    pub fn executing(self) -> bool {
        matches!(self, GoState::Running | GoState::Syscall)
    }

    pub(crate) fn from_u8(v: u8) -> GoState {
        match v {
            1 => GoState::NotExist,
            2 => GoState::Runnable,
            3 => GoState::Running,
            4 => GoState::Waiting,
            5 => GoState::Syscall,
            _ => GoState::Undetermined,
        }
    }

    pub(crate) fn as_u8(self) -> u8 {
        match self {
            GoState::Undetermined => 0,
            GoState::NotExist => 1,
            GoState::Runnable => 2,
            GoState::Running => 3,
            GoState::Waiting => 4,
            GoState::Syscall => 5,
        }
    }
}

impl fmt::Display for GoState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GoState::Undetermined => "Undetermined",
            GoState::NotExist => "NotExist",
            GoState::Runnable => "Runnable",
            GoState::Running => "Running",
            GoState::Waiting => "Waiting",
            GoState::Syscall => "Syscall",
        })
    }
}

/// The state of a proc, as seen in a state transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcState {
    /// Nothing is known about the proc.
    Undetermined,
    /// The proc does not exist.
    NotExist,
    /// Running: bound to a thread.
    Running,
    /// Idle.
    Idle,
}

impl ProcState {
    /// Whether a proc in this state is bound to a thread.
    pub fn executing(self) -> bool {
        self == ProcState::Running
    }

    pub(crate) fn from_u8(v: u8) -> ProcState {
        match v {
            1 => ProcState::NotExist,
            2 => ProcState::Running,
            3 => ProcState::Idle,
            _ => ProcState::Undetermined,
        }
    }

    pub(crate) fn as_u8(self) -> u8 {
        match self {
            ProcState::Undetermined => 0,
            ProcState::NotExist => 1,
            ProcState::Running => 2,
            ProcState::Idle => 3,
        }
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcState::Undetermined => "Undetermined",
            ProcState::NotExist => "NotExist",
            ProcState::Running => "Running",
            ProcState::Idle => "Idle",
        })
    }
}

/// The kind of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceKind {
    /// No resource.
    None,
    /// A goroutine.
    Goroutine,
    /// A proc.
    Proc,
    /// A thread.
    Thread,
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceKind::None => "None",
            ResourceKind::Goroutine => "Goroutine",
            ResourceKind::Proc => "Proc",
            ResourceKind::Thread => "Thread",
        })
    }
}

/// A resource: what a state transition, range or label is about.
///
/// Prints as Go does: `None`, `Goroutine(17)`, `Proc(0)`, `Thread(9201)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceId {
    /// No resource (a global range such as the GC mark phase).
    None,
    /// A goroutine.
    Goroutine(GoId),
    /// A proc.
    Proc(ProcId),
    /// A thread.
    Thread(ThreadId),
}

impl ResourceId {
    /// The kind of resource.
    pub fn kind(self) -> ResourceKind {
        match self {
            ResourceId::None => ResourceKind::None,
            ResourceId::Goroutine(_) => ResourceKind::Goroutine,
            ResourceId::Proc(_) => ResourceKind::Proc,
            ResourceId::Thread(_) => ResourceKind::Thread,
        }
    }

    /// The goroutine, if this is a goroutine resource.
    pub fn goroutine(self) -> Option<GoId> {
        match self {
            ResourceId::Goroutine(g) => Some(g),
            _ => None,
        }
    }

    /// The proc, if this is a proc resource.
    pub fn proc(self) -> Option<ProcId> {
        match self {
            ResourceId::Proc(p) => Some(p),
            _ => None,
        }
    }

    /// The thread, if this is a thread resource.
    pub fn thread(self) -> Option<ThreadId> {
        match self {
            ResourceId::Thread(m) => Some(m),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceId::None => f.write_str("None"),
            ResourceId::Goroutine(g) => write!(f, "Goroutine({g})"),
            ResourceId::Proc(p) => write!(f, "Proc({p})"),
            ResourceId::Thread(m) => write!(f, "Thread({m})"),
        }
    }
}

/// The value of a metric or range attribute.
///
/// Prints as Go 1.23's `go tool trace -d=1` does, e.g. `Uint64(4194304)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Value {
    /// An unsigned integer.
    Uint64(u64),
}

impl Value {
    /// The value as an unsigned integer, if it is one.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Value::Uint64(v) => Some(v),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Uint64(v) => write!(f, "Uint64({v})"),
        }
    }
}

/// A string from the trace: raw bytes, customarily but not necessarily UTF-8.
///
/// `Display` shows it lossily as UTF-8; `Debug` and [`TraceStr::quoted`]
/// quote it exactly as Go's `%q` does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceStr<'a>(&'a [u8]);

impl<'a> TraceStr<'a> {
    pub(crate) const EMPTY: TraceStr<'static> = TraceStr(b"");

    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        TraceStr(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }

    /// The string, if it is valid UTF-8.
    pub fn to_str(self) -> Option<&'a str> {
        std::str::from_utf8(self.0).ok()
    }

    /// The string, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// Whether the string is empty.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// Its length in bytes.
    pub fn len(self) -> usize {
        self.0.len()
    }

    /// A `Display` adapter printing the string quoted like Go's `%q`.
    pub fn quoted(self) -> impl fmt::Display + 'a {
        Quoted(self.0)
    }
}

impl fmt::Display for TraceStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Debug for TraceStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Quoted(self.0), f)
    }
}

impl PartialEq<str> for TraceStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for TraceStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}
