//! The reader's error type.
//!
//! [`Error`] says what went wrong ([`ErrorKind`], whose `Display` is exactly
//! the message Go's reader gives for the same problem) and where: the
//! generation being read and, when known, the byte offset in the file.

use std::fmt;

use trace_wire::IoCause;

/// A failure to read a trace.
///
/// Its `Display` is Go's error message. After an error the reader yields no
/// more events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    generation: Option<u64>,
    offset: Option<u64>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner {
            kind,
            generation: None,
            offset: None,
        }))
    }

    pub(crate) fn at(mut self, offset: u64) -> Self {
        self.0.offset.get_or_insert(offset);
        self
    }

    pub(crate) fn in_generation(mut self, generation: u64) -> Self {
        if generation != 0 {
            self.0.generation.get_or_insert(generation);
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The generation being read when the error happened, if one had started.
    pub fn generation(&self) -> Option<u64> {
        self.0.generation
    }

    /// The byte offset in the file (counting the header) of the batch, table
    /// entry or event that is at fault, when known.
    pub fn offset(&self) -> Option<u64> {
        self.0.offset
    }

    /// Whether Go's reader reports this error as a bare `io.EOF`, which its
    /// callers (such as `go tool trace`) cannot tell apart from the end of
    /// the trace. This happens when a table batch ends in the middle of an
    /// entry header (for example a frequency batch holding only its type
    /// byte).
    pub fn is_go_eof(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::Wire(trace_wire::ErrorKind::Io(IoCause::Eof))
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.kind, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Wire(e) => Some(e),
            _ => None,
        }
    }
}

impl From<trace_wire::Error> for Error {
    fn from(e: trace_wire::Error) -> Self {
        Error::new(ErrorKind::Wire(e.kind())).at(e.offset())
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

/// The scheduling-context requirement an event violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextViolation {
    /// The event needs a thread.
    MissingThread,
    /// The event must not have a thread.
    UnexpectedThread,
    /// The event needs a proc.
    MissingProc,
    /// The event must not have a proc.
    UnexpectedProc,
    /// The event needs a goroutine.
    MissingGoroutine,
    /// The event must not have a goroutine.
    UnexpectedGoroutine,
}

impl fmt::Display for ContextViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextViolation::MissingThread => "expected a thread but didn't have one",
            ContextViolation::UnexpectedThread => "expected no thread but had one",
            ContextViolation::MissingProc => "expected a proc but didn't have one",
            ContextViolation::UnexpectedProc => "expected no proc but had one",
            ContextViolation::MissingGoroutine => "expected a goroutine but didn't have one",
            ContextViolation::UnexpectedGoroutine => "expected no goroutine but had one",
        })
    }
}

/// What went wrong. The `Display` text is Go's message for the same problem.
///
/// Event names (`&'static str`) are Go's names (`GoStart`, `ProcStop`, …);
/// statuses are printed with Go's names for wire statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A framing, table or event decoding error (see [`trace_wire::ErrorKind`]).
    #[error("{0}")]
    Wire(trace_wire::ErrorKind),
    /// A batch with generation number 0.
    #[error("invalid generation number 0")]
    InvalidGenerationZero,
    /// A batch of neither the current nor the next generation.
    #[error("generations out of order")]
    GenerationsOutOfOrder,
    /// A generation without a frequency.
    #[error("no frequency event found")]
    NoFrequency,
    /// A generation (1.25+) without a clock snapshot.
    #[error("no clock snapshot event found")]
    NoClockSnapshot,
    /// A 1.26+ trace whose input ends inside a generation (after its first
    /// event batch, before its end-of-generation event).
    #[error("incomplete generation found; trace likely truncated")]
    IncompleteGeneration,
    /// A 1.26+ batch of another generation before the current one's
    /// end-of-generation event.
    #[error("broken trace: missing end-of-generation event, or generations are interleaved")]
    MissingEndOfGeneration,
    /// A string id declared twice in one generation.
    #[error(
        "multiple strings with the same ID: id={id}, new={}, existing={}",
        String::from_utf8_lossy(new),
        String::from_utf8_lossy(existing)
    )]
    DuplicateString {
        /// The id.
        id: u64,
        /// The second declaration.
        new: Vec<u8>,
        /// The first declaration.
        existing: Vec<u8>,
    },
    /// A stack id declared twice in one generation.
    #[error(
        "multiple trace.stacks with the same ID: id={id}, new={}, existing={}",
        Pcs(new),
        Pcs(existing)
    )]
    DuplicateStack {
        /// The id.
        id: u64,
        /// The PCs of the second declaration.
        new: Vec<u64>,
        /// The PCs of the first declaration.
        existing: Vec<u64>,
    },
    /// A stack frame naming an undeclared function name string.
    #[error("found invalid func string ID {string} for stack {stack}")]
    InvalidFuncString {
        /// The string id.
        string: u64,
        /// The stack id.
        stack: u64,
    },
    /// A stack frame naming an undeclared file name string.
    #[error("found invalid file string ID {string} for stack {stack}")]
    InvalidFileString {
        /// The string id.
        string: u64,
        /// The stack id.
        stack: u64,
    },
    /// An event referencing an undeclared stack.
    #[error("found invalid stack ID {id} for event {event}")]
    InvalidStackId {
        /// The stack id.
        id: u64,
        /// The event's name.
        event: &'static str,
    },
    /// An event referencing an undeclared string.
    #[error("found invalid string ID {id} for event {event}")]
    InvalidStringId {
        /// The string id.
        id: u64,
        /// The event's name.
        event: &'static str,
    },
    /// A task or region name that is not a declared string (checked while
    /// ordering; Go prints the event type as a number).
    #[error("invalid string ID {id} for {ty} event")]
    InvalidNameString {
        /// The string id.
        id: u64,
        /// The event's type byte.
        ty: u8,
    },
    /// A generation with nothing to order. `dump` is Go's debugging dump of
    /// the ordering state.
    #[error("broken trace: frontier is empty:\n{dump}")]
    FrontierEmpty {
        /// The state dump, in Go's layout.
        dump: String,
    },
    /// No thread's next event can be ordered. `dump` is Go's debugging dump
    /// of the frontier and the ordering state.
    #[error("broken trace: failed to advance: frontier:\n{dump}")]
    FailedToAdvance {
        /// The state dump, in Go's layout.
        dump: String,
    },
    /// An event's scheduling context breaks the event's requirements.
    #[error("{0}")]
    Context(ContextViolation),
    /// An event type the ordering has no rule for.
    #[error("bad event type found while ordering: {0}")]
    BadEventType(u8),
    /// A proc status value out of range.
    #[error("invalid status for proc {proc}: {status}")]
    InvalidProcStatus {
        /// The proc.
        proc: i64,
        /// The status value.
        status: u64,
    },
    /// A proc status contradicting the known state.
    #[error("inconsistent status for proc {proc}: old {} vs. new {}", proc_status_name(*old), proc_status_name(*new))]
    InconsistentProcStatus {
        /// The proc.
        proc: i64,
        /// The known wire status.
        old: u8,
        /// The status in the event.
        new: u8,
    },
    /// A proc in a syscall about to be stolen is bound to no thread.
    #[error("failed to find sched context for proc {0} that's about to be stolen")]
    NoContextForStolenProc(i64),
    /// An event about a proc that was never seen.
    #[error("event {event} for proc ({proc}) that doesn't exist")]
    UnknownProc {
        /// The event's name.
        event: &'static str,
        /// The proc.
        proc: i64,
    },
    /// A `ProcStop` of a proc that is neither running nor in a syscall.
    #[error("{event} event for proc that's not Running or Syscall")]
    ProcNotRunningOrSyscall {
        /// The event's name.
        event: &'static str,
    },
    /// A thread stealing its own proc names another proc.
    #[error("tried to self-steal proc {proc} (thread {thread}), but got proc {held} instead")]
    SelfStealWrongProc {
        /// The stolen proc.
        proc: i64,
        /// The thread.
        thread: i64,
        /// The proc the thread holds.
        held: i64,
    },
    /// A steal from a thread never seen.
    #[error("stole proc from non-existent thread {0}")]
    StealFromUnknownThread(i64),
    /// A steal of a proc the victim thread does not hold.
    #[error("tried to steal proc {proc} from thread {thread}, but got proc {held} instead")]
    StealWrongProc {
        /// The stolen proc.
        proc: i64,
        /// The victim thread.
        thread: i64,
        /// The proc the victim holds.
        held: i64,
    },
    /// A goroutine status value out of range.
    #[error("invalid status for goroutine {goroutine}: {status}")]
    InvalidGoStatus {
        /// The goroutine.
        goroutine: i64,
        /// The status value.
        status: u64,
    },
    /// A goroutine status contradicting the known state.
    #[error("inconsistent status for goroutine {goroutine}: old {} vs. new {}", go_status_name(*old), go_status_name(*new))]
    InconsistentGoStatus {
        /// The goroutine.
        goroutine: i64,
        /// The known wire status.
        old: u8,
        /// The status in the event.
        new: u8,
    },
    /// A status for a goroutine first seen after the first generation.
    #[error("found goroutine status for new goroutine after the first generation: id={goroutine} status={}", go_status_name(*status))]
    StatusForNewGoroutine {
        /// The goroutine.
        goroutine: i64,
        /// Its wire status.
        status: u8,
    },
    /// A goroutine in a syscall with no thread.
    #[error("found goroutine {0} in syscall without a thread")]
    SyscallWithoutThread(i64),
    /// A goroutine in a syscall on a thread bound to another goroutine.
    #[error(
        "inconsistent thread for syscalling goroutine {goroutine}: thread has goroutine {held}"
    )]
    InconsistentSyscallThread {
        /// The goroutine.
        goroutine: i64,
        /// The goroutine the thread holds.
        held: i64,
    },
    /// A goroutine event for a goroutine in the wrong state. `expected` is
    /// the name Go prints (which for the syscall-end events is `Running`).
    #[error("{event} event for goroutine that's not {expected}")]
    GoroutineNotInState {
        /// The event's name.
        event: &'static str,
        /// The state name Go's message uses.
        expected: &'static str,
    },
    /// A creation of a goroutine that exists.
    #[error("tried to create goroutine ({0}) that already exists")]
    GoroutineExists(i64),
    /// A creation (in a syscall) of a goroutine that exists.
    #[error("tried to create goroutine ({0}) in syscall that already exists")]
    SyscallGoroutineExists(i64),
    /// An event about a goroutine that does not exist.
    #[error("event {event} for goroutine ({goroutine}) that doesn't exist")]
    UnknownGoroutine {
        /// The event's name.
        event: &'static str,
        /// The goroutine.
        goroutine: i64,
    },
    /// A proc used before its status was known.
    #[error("uninitialized proc {proc} found during {event}")]
    UninitializedProc {
        /// The proc.
        proc: i64,
        /// The event's name.
        event: &'static str,
    },
    /// A sequence number that does not follow the proc's.
    #[error("failed to advance {event}: can't make sequence: {old_seq} (gen={old_gen}) -> {new_seq} (gen={new_gen})")]
    BadSequence {
        /// The event's name.
        event: &'static str,
        /// The known sequence number.
        old_seq: u64,
        /// Its generation.
        old_gen: u64,
        /// The event's sequence number.
        new_seq: u64,
        /// Its generation.
        new_gen: u64,
    },
    /// A syscall end on a proc that is not in a syscall.
    #[error("expected proc {proc} in state Syscall, but got {} instead", proc_status_name(*status))]
    ProcNotInSyscall {
        /// The proc.
        proc: i64,
        /// Its wire status.
        status: u8,
    },
    /// A `GoDestroySyscall` holding a proc never seen.
    #[error("found invalid proc {proc} during {event}")]
    InvalidProc {
        /// The proc.
        proc: i64,
        /// The event's name.
        event: &'static str,
    },
    /// A `GoDestroySyscall` holding a proc not in a syscall.
    #[error("proc {proc} in unexpected state {} during {event}", proc_status_name(*status))]
    ProcUnexpectedState {
        /// The proc.
        proc: i64,
        /// Its wire status.
        status: u8,
        /// The event's name.
        event: &'static str,
    },
    /// A task begun twice.
    #[error("task ID conflict: {0}")]
    TaskIdConflict(u64),
    /// A region event on a goroutine never seen.
    #[error("encountered {event} without known state for current goroutine {goroutine}")]
    RegionOnUnknownGoroutine {
        /// `EvUserRegionBegin` or `EvUserRegionEnd`, as Go names them here.
        event: &'static str,
        /// The goroutine.
        goroutine: i64,
    },
    /// Regions not properly nested on a goroutine.
    #[error("misuse of region in goroutine {goroutine}: region end {{{task} {}}} when the inner-most active region start event is {{{open_task} {}}}", String::from_utf8_lossy(name), String::from_utf8_lossy(open_name))]
    RegionMisuse {
        /// The goroutine.
        goroutine: i64,
        /// The ending region's task.
        task: u64,
        /// The ending region's name.
        name: Vec<u8>,
        /// The innermost open region's task.
        open_task: u64,
        /// The innermost open region's name.
        open_name: Vec<u8>,
    },
    /// `GCActive` after another GC event in the first generation.
    #[error("GCActive in the first generation isn't first GC event")]
    GcActiveNotFirst,
    /// `GCActive` while no GC runs.
    #[error("encountered GCActive while GC was not in progress")]
    GcActiveNotRunning,
    /// `GCBegin` while a GC runs.
    #[error("encountered GCBegin while GC was already in progress")]
    GcBeginWhileRunning,
    /// `GCEnd` while no GC runs.
    #[error("encountered GCEnd when GC was not in progress")]
    GcEndNotRunning,
    /// `GCEnd` before any GC state is known.
    #[error("encountered GCEnd when GC was in an undetermined state")]
    GcEndUndetermined,
    /// `GCSweepActive` for a proc never seen.
    #[error("encountered GCSweepActive for unknown proc {0}")]
    SweepOnUnknownProc(i64),
    /// A goroutine range event on a goroutine never seen.
    #[error(
        "encountered event of type {ty} without known state for current goroutine {goroutine}"
    )]
    RangeOnUnknownGoroutine {
        /// The event's type byte.
        ty: u8,
        /// The goroutine.
        goroutine: i64,
    },
    /// An `*Active` event for a goroutine never seen.
    #[error("uninitialized goroutine {goroutine} found during {event}")]
    UninitializedGoroutine {
        /// The goroutine.
        goroutine: i64,
        /// The event's name.
        event: &'static str,
    },
    /// A range begun while already in flight.
    #[error("discovered event already in-flight for when starting event {begin}")]
    RangeAlreadyInFlight {
        /// The range's begin event name.
        begin: &'static str,
    },
    /// An `*Active` event repeated in the first generation.
    #[error("found named active range already in first gen: {{{ty} {desc}}}")]
    ActiveRangeRepeated {
        /// The range's begin event type byte.
        ty: u8,
        /// Its description string id.
        desc: u64,
    },
    /// An `*Active` event for a range that is not in flight.
    #[error("resource is missing active range: {begin} [{}]", RangeList(in_flight))]
    MissingActiveRange {
        /// The range's begin event name.
        begin: &'static str,
        /// The ranges in flight, as (begin type byte, description id).
        in_flight: Vec<(u8, u64)>,
    },
    /// A range end without a begin.
    #[error("tried to end event {begin}, but not in-flight")]
    RangeNotInFlight {
        /// The range's begin event name.
        begin: &'static str,
    },
}

/// Go's names of wire proc statuses (`go122.ProcStatus.String`).
pub(crate) fn proc_status_name(s: u8) -> &'static str {
    match s {
        1 => "Running",
        2 => "Idle",
        3 => "Syscall",
        _ => "Bad",
    }
}

/// Go's names of wire goroutine statuses (`go122.GoStatus.String`).
pub(crate) fn go_status_name(s: u8) -> &'static str {
    match s {
        1 => "Runnable",
        2 => "Running",
        3 => "Syscall",
        4 => "Waiting",
        _ => "Bad",
    }
}

/// PCs as Go prints a stack with `%v`: a tab, `0x<hex>` and a newline each.
struct Pcs<'a>(&'a [u64]);

impl fmt::Display for Pcs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|pc| writeln!(f, "\t{pc:#x}"))
    }
}

/// In-flight ranges as Go prints `[]rangeType` with `%v`.
struct RangeList<'a>(&'a [(u8, u64)]);

impl fmt::Display for RangeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (ty, desc)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{{{ty} {desc}}}")?;
        }
        Ok(())
    }
}
