//! [`Event`], the unit the reader yields, and its kind-specific views.
//!
//! An event is small and cheap to move: its fields are copied from the wire
//! and it shares its generation's string and stack tables through an `Arc`
//! (if it refers to them at all). Views such as [`StateTransition`] borrow
//! from the event.

use std::fmt;
use std::sync::Arc;

use trace_wire::{ty, Version};

use crate::tables::{ClockSnapshot, ExperimentalData, GenTables};
use crate::types::{
    GoId, GoState, ProcId, ProcState, ResourceId, TaskId, ThreadId, Time, TraceStr, Value,
};

/// The type byte the reader uses for its synthesized `Sync` events (Go's
/// `evSync`); no wire event has it.
pub(crate) const SYNC: u8 = u8::MAX;

/// What an event is about. Use the matching accessor of [`Event`] for the
/// details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A global synchronization point: emitted by the reader around
    /// generations ([`Event::sync`]).
    Sync,
    /// The value of a metric ([`Event::metric`]).
    Metric,
    /// A label attached to a resource ([`Event::label`]).
    Label,
    /// A CPU profile sample ([`Event::stack`]).
    StackSample,
    /// The start of a range of time ([`Event::range`]).
    RangeBegin,
    /// A range already in progress at a generation's start.
    RangeActive,
    /// The end of a range ([`Event::range_attributes`] may have details).
    RangeEnd,
    /// The start of a user task ([`Event::task`]).
    TaskBegin,
    /// The end of a user task.
    TaskEnd,
    /// The start of a user region ([`Event::region`]).
    RegionBegin,
    /// The end of a user region.
    RegionEnd,
    /// A user log message ([`Event::log`]).
    Log,
    /// A goroutine or proc changed state ([`Event::state_transition`]).
    StateTransition,
    /// An experimental event, unvalidated ([`Event::experimental`]).
    Experimental,
}

impl EventKind {
    /// Go's name of the kind, e.g. `StateTransition`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Sync => "Sync",
            EventKind::Metric => "Metric",
            EventKind::Label => "Label",
            EventKind::StackSample => "StackSample",
            EventKind::RangeBegin => "RangeBegin",
            EventKind::RangeActive => "RangeActive",
            EventKind::RangeEnd => "RangeEnd",
            EventKind::TaskBegin => "TaskBegin",
            EventKind::TaskEnd => "TaskEnd",
            EventKind::RegionBegin => "RegionBegin",
            EventKind::RegionEnd => "RegionEnd",
            EventKind::Log => "Log",
            EventKind::StateTransition => "StateTransition",
            EventKind::Experimental => "Experimental",
        }
    }

    /// The kind of events of wire type `t` (Go's `go122Type2Kind`).
    pub(crate) fn of(t: u8) -> EventKind {
        match t {
            ty::CPU_SAMPLE => EventKind::StackSample,
            ty::PROCS_CHANGE | ty::HEAP_ALLOC | ty::HEAP_GOAL => EventKind::Metric,
            ty::STW_BEGIN | ty::GC_BEGIN | ty::GC_SWEEP_BEGIN | ty::GC_MARK_ASSIST_BEGIN => {
                EventKind::RangeBegin
            }
            ty::GC_ACTIVE | ty::GC_SWEEP_ACTIVE | ty::GC_MARK_ASSIST_ACTIVE => {
                EventKind::RangeActive
            }
            ty::STW_END | ty::GC_END | ty::GC_SWEEP_END | ty::GC_MARK_ASSIST_END => {
                EventKind::RangeEnd
            }
            ty::GO_LABEL => EventKind::Label,
            ty::USER_TASK_BEGIN => EventKind::TaskBegin,
            ty::USER_TASK_END => EventKind::TaskEnd,
            ty::USER_REGION_BEGIN => EventKind::RegionBegin,
            ty::USER_REGION_END => EventKind::RegionEnd,
            ty::USER_LOG => EventKind::Log,
            ty::SPAN..=ty::GOROUTINE_STACK_FREE => EventKind::Experimental,
            SYNC => EventKind::Sync,
            _ => EventKind::StateTransition,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The scheduling context of an event: thread, proc and goroutine (−1 for
/// none), as Go's reader tracks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ctx {
    pub(crate) g: i64,
    pub(crate) p: i64,
    pub(crate) m: i64,
}

impl Ctx {
    pub(crate) const NONE: Ctx = Ctx {
        g: -1,
        p: -1,
        m: -1,
    };
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::NONE
    }
}

/// One event of the ordered, validated stream.
///
/// Go's `trace.Event`: the common accessors are always valid; the
/// kind-specific ones return `None` for events of other kinds. `Display`
/// prints exactly what Go 1.23's `Event.String()` prints (one line, plus
/// stack blocks), i.e. what `go tool trace -d=1` shows for the event.
#[derive(Clone)]
pub struct Event {
    pub(crate) ty: u8,
    pub(crate) time: i64,
    pub(crate) ctx: Ctx,
    /// The wire arguments after `dt`, plus what the ordering smuggles in
    /// after them (old states, task parents), as in Go.
    pub(crate) args: [u64; 5],
    /// The generation's tables; `None` for events that refer to none.
    pub(crate) table: Option<Arc<GenTables>>,
    /// The name of the task a `TaskEnd` ends, carried from its `TaskBegin`.
    pub(crate) name: Option<Arc<[u8]>>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("kind", &self.kind())
            .field("time", &self.time)
            .field("thread", &self.ctx.m)
            .field("proc", &self.ctx.p)
            .field("goroutine", &self.ctx.g)
            .field("type", &self.wire_name())
            .field("args", &self.args)
            .finish()
    }
}

/// A stack: a handle into its generation's stack table.
///
/// Frames are leaf first.
#[derive(Clone, Copy)]
pub struct Stack<'a> {
    table: &'a GenTables,
    id: u64,
}

impl<'a> Stack<'a> {
    /// The stack's id in its generation's table (0 is the empty stack).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The frames, leaf first.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = Frame<'a>> + 'a {
        let table = self.table;
        table.stack(self.id).unwrap_or(&[]).iter().map(move |&i| {
            let f = table.frame(i);
            Frame {
                pc: f.pc,
                func: TraceStr::new(table.string(f.func).unwrap_or_default()),
                file: TraceStr::new(table.string(f.file).unwrap_or_default()),
                line: f.line,
            }
        })
    }

    /// The number of frames.
    pub fn len(&self) -> usize {
        self.table.stack(self.id).map_or(0, <[u32]>::len)
    }

    /// Whether the stack has no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Stack<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("id", &self.id)
            .field("frames", &self.frames().collect::<Vec<_>>())
            .finish()
    }
}

impl PartialEq for Stack<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.table, other.table) && self.id == other.id
    }
}

/// One stack frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The program counter (for the leaf frame, where the stack was taken).
    pub pc: u64,
    /// The function's name.
    pub func: TraceStr<'a>,
    /// The source file's name.
    pub file: TraceStr<'a>,
    /// The line number in `file`.
    pub line: u64,
}

/// Details of a [`EventKind::Metric`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The metric's name, in `runtime/metrics` form, e.g.
    /// `/sched/gomaxprocs:threads`.
    pub name: &'static str,
    /// The sampled value.
    pub value: Value,
}

/// Details of a [`EventKind::Label`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    /// The label.
    pub label: TraceStr<'a>,
    /// The labelled resource (always the current goroutine).
    pub resource: ResourceId,
}

/// The name of a range. Prints as Go's `Range.Name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RangeName<'a> {
    /// `stop-the-world (<kind>)`.
    StopTheWorld(TraceStr<'a>),
    /// `GC concurrent mark phase`.
    GcConcurrentMark,
    /// `GC incremental sweep`.
    GcIncrementalSweep,
    /// `GC mark assist`.
    GcMarkAssist,
}

impl RangeName<'_> {
    /// The fixed part of the name: the whole name, or for stop-the-world
    /// ranges the text around the kind.
    pub(crate) fn parts(&self) -> (&'static str, &[u8], &'static str) {
        match self {
            RangeName::StopTheWorld(kind) => ("stop-the-world (", kind.as_bytes(), ")"),
            RangeName::GcConcurrentMark => ("GC concurrent mark phase", b"", ""),
            RangeName::GcIncrementalSweep => ("GC incremental sweep", b"", ""),
            RangeName::GcMarkAssist => ("GC mark assist", b"", ""),
        }
    }
}

impl fmt::Display for RangeName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (pre, mid, post) = self.parts();
        write!(f, "{pre}{}{post}", String::from_utf8_lossy(mid))
    }
}

/// Details of a range event ([`EventKind::RangeBegin`], `RangeActive`,
/// `RangeEnd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range<'a> {
    /// The range's name; a begin and its end have the same name.
    pub name: RangeName<'a>,
    /// The resource the range belongs to.
    pub scope: ResourceId,
}

/// An attribute of a completed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeAttribute {
    /// The attribute's name.
    pub name: &'static str,
    /// Its value.
    pub value: Value,
}

/// Details of a [`EventKind::TaskBegin`] or [`EventKind::TaskEnd`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task<'a> {
    /// The task.
    pub id: TaskId,
    /// Its parent, or [`NO_TASK`](crate::NO_TASK).
    pub parent: TaskId,
    /// The task type passed to `trace.NewTask`; empty for the end of a task
    /// whose begin is not in the trace.
    pub ty: TraceStr<'a>,
}

/// Details of a [`EventKind::RegionBegin`] or [`EventKind::RegionEnd`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region<'a> {
    /// The task the region belongs to (0 is the background task).
    pub task: TaskId,
    /// The region type passed to `trace.StartRegion`.
    pub ty: TraceStr<'a>,
}

/// Details of a [`EventKind::Log`] event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log<'a> {
    /// The task the message belongs to.
    pub task: TaskId,
    /// The category.
    pub category: TraceStr<'a>,
    /// The message.
    pub message: TraceStr<'a>,
}

/// A change of state, with the states before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateChange {
    /// A goroutine's state changed.
    Goroutine {
        /// The goroutine.
        id: GoId,
        /// Before.
        from: GoState,
        /// After.
        to: GoState,
    },
    /// A proc's state changed.
    Proc {
        /// The proc.
        id: ProcId,
        /// Before.
        from: ProcState,
        /// After.
        to: ProcState,
    },
}

/// Details of a [`EventKind::StateTransition`] event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateTransition<'a> {
    /// The resource that changed state.
    pub resource: ResourceId,
    /// Why (the runtime's block or stop reason), often empty.
    pub reason: TraceStr<'a>,
    /// The transitioning resource's stack: for a goroutine creation the new
    /// goroutine's start stack, for a goroutine blocking its own stack.
    /// Distinct from [`Event::stack`], the stack of whoever executed the event.
    pub stack: Option<Stack<'a>>,
    /// The change itself.
    pub change: StateChange,
}

impl<'a> StateTransition<'a> {
    /// For a goroutine transition with a stack, the goroutine's start
    /// function: the outermost frame of its own stack. Go's tools name
    /// goroutines after it (`G12 main.worker`); the first transition of a
    /// goroutine that has a stack tells it.
    ///
    /// ```
    /// use trace_reader::Reader;
    ///
    /// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
    /// let mut reader = Reader::new(std::fs::File::open(path)?)?;
    /// let mut names = std::collections::BTreeMap::new();
    /// while let Some(event) = reader.read_event_ref()? {
    ///     let Some(st) = event.state_transition() else { continue };
    ///     if let (Some(g), Some(func)) = (st.resource.goroutine(), st.start_function()) {
    ///         names.entry(g).or_insert_with(|| func.to_string());
    ///     }
    /// }
    /// assert!(names.values().any(|f| f == "main.main"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_function(&self) -> Option<TraceStr<'a>> {
        match self.change {
            StateChange::Goroutine { .. } => self.stack?.frames().last().map(|f| f.func),
            StateChange::Proc { .. } => None,
        }
    }

    /// The goroutine states before and after, for a goroutine transition.
    pub fn goroutine(&self) -> Option<(GoState, GoState)> {
        match self.change {
            StateChange::Goroutine { from, to, .. } => Some((from, to)),
            StateChange::Proc { .. } => None,
        }
    }

    /// The proc states before and after, for a proc transition.
    pub fn proc(&self) -> Option<(ProcState, ProcState)> {
        match self.change {
            StateChange::Proc { from, to, .. } => Some((from, to)),
            StateChange::Goroutine { .. } => None,
        }
    }
}

/// Details of a [`EventKind::Sync`] event.
#[derive(Debug, Clone, Copy)]
pub struct SyncInfo<'a> {
    /// The ordinal of this sync event in the stream, counting from 1.
    pub n: u64,
    /// For Go 1.25+ traces, the clock snapshot recorded at the start of the
    /// generation that follows this sync.
    pub clock_snapshot: Option<ClockSnapshot>,
    table: Option<&'a GenTables>,
}

impl<'a> SyncInfo<'a> {
    /// The experimental batches of the generation this sync belongs to, one
    /// entry per experiment.
    pub fn experimental_batches(
        &self,
    ) -> impl Iterator<Item = (trace_wire::Experiment, &'a ExperimentalData)> + 'a {
        self.table
            .into_iter()
            .flat_map(|t| t.experimental.iter().map(|(e, d)| (*e, d)))
    }
}

/// The wire form of an event ([`Event::wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireForm {
    /// The wire event type (`trace_wire::ty`), or [`WireForm::SYNC`].
    pub ty: u8,
    /// The arguments after the time delta, then what the ordering attached.
    pub args: [u64; 5],
}

impl WireForm {
    /// The type of the reader's synthesized sync events, which no wire
    /// event has.
    pub const SYNC: u8 = SYNC;
}

/// Details of a [`EventKind::Experimental`] event: the raw event.
#[derive(Debug, Clone, Copy)]
pub struct ExperimentalEvent<'a> {
    /// The event's name, e.g. `HeapObjectAlloc`.
    pub name: &'static str,
    /// The names of its arguments.
    pub arg_names: &'static [&'static str],
    /// The argument values.
    pub args: &'a [u64],
    /// The experiment's batches of the event's generation.
    pub data: Option<&'a ExperimentalData>,
}

fn spec(t: u8) -> Option<&'static trace_wire::EventSpec> {
    Version::Go123.spec(t)
}

/// Go's proc state for a wire proc status (`go122ProcStatus2ProcState`).
pub(crate) fn proc_state_of_status(status: u64) -> ProcState {
    match status {
        1 | 3 => ProcState::Running,
        2 | 4 => ProcState::Idle,
        _ => ProcState::Undetermined,
    }
}

/// Go's goroutine state for a wire goroutine status (`go122GoStatus2GoState`).
pub(crate) fn go_state_of_status(status: u64) -> GoState {
    match status {
        1 => GoState::Runnable,
        2 => GoState::Running,
        3 => GoState::Syscall,
        4 => GoState::Waiting,
        _ => GoState::Undetermined,
    }
}

impl Event {
    pub(crate) fn table(&self) -> Option<&GenTables> {
        self.table.as_deref()
    }

    pub(crate) fn string(&self, id: u64) -> TraceStr<'_> {
        TraceStr::new(self.table().and_then(|t| t.string(id)).unwrap_or_default())
    }

    /// Go's name of the underlying wire event (e.g. `GoBlock`), or `Sync`.
    pub(crate) fn wire_name(&self) -> &'static str {
        if self.ty == SYNC {
            return "Sync";
        }
        spec(self.ty).map_or("", |s| s.name)
    }

    /// What the event is about.
    pub fn kind(&self) -> EventKind {
        EventKind::of(self.ty)
    }

    /// When it happened. Times strictly increase along the stream.
    pub fn time(&self) -> Time {
        Time(self.time)
    }

    /// The goroutine running on the event's thread before the event, or
    /// [`NO_GOROUTINE`](crate::NO_GOROUTINE).
    pub fn goroutine(&self) -> GoId {
        GoId(self.ctx.g)
    }

    /// The proc held by the event's thread before the event, or
    /// [`NO_PROC`](crate::NO_PROC).
    pub fn proc(&self) -> ProcId {
        ProcId(self.ctx.p)
    }

    /// The thread the event happened on, or [`NO_THREAD`](crate::NO_THREAD)
    /// (sync events and goroutine statuses the runtime writes for no thread).
    pub fn thread(&self) -> ThreadId {
        ThreadId(self.ctx.m)
    }

    /// The stack of whoever executed the event, if the event has one.
    ///
    /// A CPU sample always has a stack, possibly empty.
    pub fn stack(&self) -> Option<Stack<'_>> {
        let table = self.table()?;
        if self.ty == SYNC {
            return None;
        }
        if self.ty == ty::CPU_SAMPLE {
            return Some(Stack {
                table,
                id: self.args[0],
            });
        }
        let &i = spec(self.ty)?.stack_ids.first()?;
        match self.args[i - 1] {
            0 => None,
            id => Some(Stack { table, id }),
        }
    }

    /// Details of a metric event.
    pub fn metric(&self) -> Option<Metric> {
        let name = match self.ty {
            ty::PROCS_CHANGE => "/sched/gomaxprocs:threads",
            ty::HEAP_ALLOC => "/memory/classes/heap/objects:bytes",
            ty::HEAP_GOAL => "/gc/heap/goal:bytes",
            _ => return None,
        };
        Some(Metric {
            name,
            value: Value::Uint64(self.args[0]),
        })
    }

    /// Details of a label event.
    pub fn label(&self) -> Option<Label<'_>> {
        (self.ty == ty::GO_LABEL).then(|| Label {
            label: self.string(self.args[0]),
            resource: ResourceId::Goroutine(GoId(self.ctx.g)),
        })
    }

    /// Details of a range event.
    pub fn range(&self) -> Option<Range<'_>> {
        let (name, scope) = match self.ty {
            ty::STW_BEGIN | ty::STW_END => (
                RangeName::StopTheWorld(self.string(self.args[0])),
                ResourceId::Goroutine(GoId(self.ctx.g)),
            ),
            ty::GC_BEGIN | ty::GC_ACTIVE | ty::GC_END => {
                (RangeName::GcConcurrentMark, ResourceId::None)
            }
            // Go 1.23 scopes GCSweepActive to the current proc too, not to
            // its argument.
            ty::GC_SWEEP_BEGIN | ty::GC_SWEEP_ACTIVE | ty::GC_SWEEP_END => (
                RangeName::GcIncrementalSweep,
                ResourceId::Proc(ProcId(self.ctx.p)),
            ),
            ty::GC_MARK_ASSIST_BEGIN | ty::GC_MARK_ASSIST_END => (
                RangeName::GcMarkAssist,
                ResourceId::Goroutine(GoId(self.ctx.g)),
            ),
            ty::GC_MARK_ASSIST_ACTIVE => (
                RangeName::GcMarkAssist,
                ResourceId::Goroutine(GoId(self.args[0] as i64)),
            ),
            _ => return None,
        };
        Some(Range { name, scope })
    }

    /// Attributes of a completed range: for the end of a GC sweep, the bytes
    /// swept and reclaimed; empty for every other event.
    pub fn range_attributes(&self) -> impl ExactSizeIterator<Item = RangeAttribute> {
        let n = if self.ty == ty::GC_SWEEP_END { 2 } else { 0 };
        [
            RangeAttribute {
                name: "bytes swept",
                value: Value::Uint64(self.args[0]),
            },
            RangeAttribute {
                name: "bytes reclaimed",
                value: Value::Uint64(self.args[1]),
            },
        ]
        .into_iter()
        .take(n)
    }

    /// Details of a task event.
    pub fn task(&self) -> Option<Task<'_>> {
        match self.ty {
            ty::USER_TASK_BEGIN => Some(Task {
                id: TaskId(self.args[0]),
                parent: TaskId(self.args[1]),
                ty: self.string(self.args[2]),
            }),
            ty::USER_TASK_END => Some(Task {
                id: TaskId(self.args[0]),
                parent: TaskId(self.args[2]),
                ty: TraceStr::new(self.name.as_deref().unwrap_or_default()),
            }),
            _ => None,
        }
    }

    /// Details of a region event.
    pub fn region(&self) -> Option<Region<'_>> {
        matches!(self.ty, ty::USER_REGION_BEGIN | ty::USER_REGION_END).then(|| Region {
            task: TaskId(self.args[0]),
            ty: self.string(self.args[1]),
        })
    }

    /// Details of a log event.
    pub fn log(&self) -> Option<Log<'_>> {
        (self.ty == ty::USER_LOG).then(|| Log {
            task: TaskId(self.args[0]),
            category: self.string(self.args[1]),
            message: self.string(self.args[2]),
        })
    }

    /// Details of a state transition.
    pub fn state_transition(&self) -> Option<StateTransition<'_>> {
        use GoState as G;
        use ProcState as P;
        let a = &self.args;
        let cur_g = GoId(self.ctx.g);
        let go = |id: GoId, from, to| StateChange::Goroutine { id, from, to };
        let pr = |id: ProcId, from, to| StateChange::Proc { id, from, to };
        let mut reason = TraceStr::EMPTY;
        let mut stack = None;
        let change = match self.ty {
            ty::PROC_START => pr(ProcId(a[0] as i64), P::Idle, P::Running),
            ty::PROC_STOP => pr(ProcId(self.ctx.p), P::Running, P::Idle),
            ty::PROC_STEAL => {
                // The ordering stores the proc's status before the steal.
                let from = if a[3] == 4 { P::Idle } else { P::Running };
                pr(ProcId(a[0] as i64), from, P::Idle)
            }
            ty::PROC_STATUS => pr(
                ProcId(a[0] as i64),
                ProcState::from_u8(a[2] as u8),
                proc_state_of_status(a[1]),
            ),
            ty::GO_CREATE | ty::GO_CREATE_BLOCKED => {
                let to = if self.ty == ty::GO_CREATE {
                    G::Runnable
                } else {
                    G::Waiting
                };
                stack = self.table().map(|table| Stack { table, id: a[1] });
                go(GoId(a[0] as i64), G::NotExist, to)
            }
            ty::GO_CREATE_SYSCALL => go(GoId(a[0] as i64), G::NotExist, G::Syscall),
            ty::GO_START => go(GoId(a[0] as i64), G::Runnable, G::Running),
            ty::GO_DESTROY => go(cur_g, G::Running, G::NotExist),
            ty::GO_DESTROY_SYSCALL => go(cur_g, G::Syscall, G::NotExist),
            ty::GO_STOP | ty::GO_BLOCK => {
                reason = self.string(a[0]);
                stack = self.stack();
                let to = if self.ty == ty::GO_STOP {
                    G::Runnable
                } else {
                    G::Waiting
                };
                go(cur_g, G::Running, to)
            }
            ty::GO_UNBLOCK | ty::GO_SWITCH | ty::GO_SWITCH_DESTROY => {
                go(GoId(a[0] as i64), G::Waiting, G::Runnable)
            }
            ty::GO_SYSCALL_BEGIN => {
                stack = self.stack();
                go(cur_g, G::Running, G::Syscall)
            }
            ty::GO_SYSCALL_END => go(cur_g, G::Syscall, G::Running),
            ty::GO_SYSCALL_END_BLOCKED => go(cur_g, G::Syscall, G::Runnable),
            ty::GO_STATUS | ty::GO_STATUS_STACK => {
                let old = if self.ty == ty::GO_STATUS {
                    a[3]
                } else {
                    // Go 1.26+: the status's stack is the transition's too.
                    stack = self.stack();
                    a[4]
                };
                go(
                    GoId(a[0] as i64),
                    GoState::from_u8(old as u8),
                    go_state_of_status(a[2]),
                )
            }
            _ => return None,
        };
        let resource = match change {
            StateChange::Goroutine { id, .. } => ResourceId::Goroutine(id),
            StateChange::Proc { id, .. } => ResourceId::Proc(id),
        };
        Some(StateTransition {
            resource,
            reason,
            stack,
            change,
        })
    }

    /// Details of a sync event.
    pub fn sync(&self) -> Option<SyncInfo<'_>> {
        (self.ty == SYNC).then(|| SyncInfo {
            n: self.args[0],
            clock_snapshot: if self.args[1] != 0 {
                self.table().and_then(|t| t.clock)
            } else {
                None
            },
            table: self.table(),
        })
    }

    /// The event as Go's reader keeps it: the wire event type and the
    /// arguments after the time delta, for writers of traces
    /// (`trace-rewrite`'s event writer re-encodes events from it).
    ///
    /// String and stack ids in the arguments are ids of the event's
    /// generation; after the wire arguments come what the ordering attached
    /// (the old state of a status or steal, a task end's parent). Events the
    /// reader synthesizes keep the type of what they stand for: the
    /// unblock of a coroutine switch is a `GoSwitch`, and the proc a
    /// `GoDestroySyscall` gives up is a `ProcSteal` with sequence number 0.
    /// A sync event has type [`WireForm::SYNC`] and a CPU sample
    /// `CPUSample`, with its stack id as the first argument.
    pub fn wire(&self) -> WireForm {
        WireForm {
            ty: self.ty,
            args: self.args,
        }
    }

    /// The raw view of an experimental event.
    pub fn experimental(&self) -> Option<ExperimentalEvent<'_>> {
        if self.kind() != EventKind::Experimental {
            return None;
        }
        let spec = spec(self.ty)?;
        let arg_names = &spec.args[1..];
        Some(ExperimentalEvent {
            name: spec.name,
            arg_names,
            args: &self.args[..arg_names.len()],
            data: self
                .table()
                .and_then(|t| t.experimental_data(spec.experiment)),
        })
    }
}
