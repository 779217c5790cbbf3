//! Events built by hand, after Go's `trace.MakeEvent`: for writers of
//! traces (`trace-rewrite`'s event writer takes them as it takes the
//! reader's) and for tests.

use std::sync::Arc;

use trace_wire::{encode_stack, encode_string, ty, Frequency, RawFrame};

use crate::event::{Ctx, Event, SYNC};
use crate::tables::{ClockSnapshot, TablesBuilder};
use crate::types::{GoId, GoState, ProcId, ProcState, TaskId, ThreadId, Time, NO_TASK};

/// One frame of a stack built by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpec<'a> {
    /// The program counter.
    pub pc: u64,
    /// The function's name.
    pub func: &'a str,
    /// The source file's name.
    pub file: &'a str,
    /// The line number.
    pub line: u64,
}

/// Why an event cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot make the event: {0}")]
pub struct MakeError(&'static str);

/// Builds an [`Event`] by hand, as Go's `trace.MakeEvent` does: the time and
/// the scheduling context (thread, proc, goroutine; none by default), the
/// stack of whoever runs it, then one kind of event with its details.
///
/// ```
/// use trace_reader::{EventBuilder, EventKind, GoId, GoState, ProcId, ThreadId, Time};
///
/// let ev = EventBuilder::new(Time(100))
///     .thread(ThreadId(1))
///     .proc(ProcId(0))
///     .goroutine(GoId(1))
///     .log(trace_reader::BACKGROUND_TASK, "greet", "hello");
/// assert_eq!(ev.kind(), EventKind::Log);
/// assert_eq!(ev.to_string(), r#"M=1 P=0 G=1 Log Time=100 Task=0 Category="greet" Message="hello""#);
///
/// let start = EventBuilder::new(Time(200))
///     .thread(ThreadId(1))
///     .proc(ProcId(0))
///     .goroutine_transition(GoId(2), GoState::Runnable, GoState::Running, "")?;
/// assert!(start.to_string().contains("GoID=2 Runnable->Running"));
/// # Ok::<(), trace_reader::MakeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventBuilder<'a> {
    time: i64,
    ctx: Ctx,
    stack: Vec<FrameSpec<'a>>,
}

/// Strings and stacks of one event, encoded as a generation's tables.
#[derive(Default)]
struct Tables {
    strings: Vec<u8>,
    n_strings: u64,
    stacks: Vec<u8>,
    n_stacks: u64,
}

impl Tables {
    fn string(&mut self, s: &str) -> u64 {
        if s.is_empty() {
            return 0;
        }
        self.n_strings += 1;
        encode_string(self.n_strings, s.as_bytes(), &mut self.strings);
        self.n_strings
    }

    fn stack(&mut self, frames: &[FrameSpec<'_>]) -> u64 {
        if frames.is_empty() {
            return 0;
        }
        let raw: Vec<RawFrame> = frames
            .iter()
            .map(|f| RawFrame {
                pc: f.pc,
                func: self.string(f.func),
                file: self.string(f.file),
                line: f.line,
            })
            .collect();
        self.n_stacks += 1;
        encode_stack(self.n_stacks, &raw, &mut self.stacks);
        self.n_stacks
    }

    fn finish(
        self,
        clock: Option<ClockSnapshot>,
    ) -> Result<Arc<crate::tables::GenTables>, MakeError> {
        let mut b = TablesBuilder::new();
        let bad = |_| MakeError("a string or stack breaks the format's limits");
        if !self.strings.is_empty() {
            let mut payload = vec![ty::STRINGS];
            payload.extend_from_slice(&self.strings);
            b.add_strings(&payload, 0).map_err(bad)?;
        }
        if !self.stacks.is_empty() {
            let mut payload = vec![ty::STACKS];
            payload.extend_from_slice(&self.stacks);
            b.add_stacks(&payload, 0).map_err(bad)?;
        }
        let t = b
            .finish(0, Frequency::new(1_000_000_000), clock)
            .map_err(bad)?;
        Ok(Arc::new(t))
    }
}

impl<'a> EventBuilder<'a> {
    /// An event at `time`, with no thread, proc or goroutine.
    pub fn new(time: Time) -> Self {
        EventBuilder {
            time: time.0,
            ctx: Ctx::NONE,
            stack: Vec::new(),
        }
    }

    /// The thread it happens on.
    pub fn thread(mut self, m: ThreadId) -> Self {
        self.ctx.m = m.0;
        self
    }

    /// The proc that thread holds.
    pub fn proc(mut self, p: ProcId) -> Self {
        self.ctx.p = p.0;
        self
    }

    /// The goroutine that thread runs.
    pub fn goroutine(mut self, g: GoId) -> Self {
        self.ctx.g = g.0;
        self
    }

    /// The stack of whoever runs the event, leaf first.
    pub fn stack(mut self, frames: &[FrameSpec<'a>]) -> Self {
        self.stack = frames.to_vec();
        self
    }

    fn event(self, ty: u8, args: [u64; 5], mut tables: Tables) -> Result<Event, MakeError> {
        let mut args = args;
        if let Some(&i) = Version123::spec(ty).and_then(|s| s.stack_ids.first()) {
            args[i - 1] = tables.stack(&self.stack);
        }
        Ok(Event {
            ty,
            time: self.time,
            ctx: self.ctx,
            args,
            table: Some(tables.finish(None)?),
            name: None,
        })
    }

    /// A user log message of `task`.
    pub fn log(self, task: TaskId, category: &str, message: &str) -> Event {
        let mut t = Tables::default();
        let (k, v) = (t.string(category), t.string(message));
        self.event(ty::USER_LOG, [task.0, k, v, 0, 0], t)
            .expect("a log's strings fit")
    }

    /// The start of task `id` of type `ty` (`parent`: [`NO_TASK`] for none).
    pub fn task_begin(self, id: TaskId, parent: TaskId, ty_name: &str) -> Result<Event, MakeError> {
        if id == NO_TASK {
            return Err(MakeError("a task cannot be NoTask"));
        }
        let mut t = Tables::default();
        let name = t.string(ty_name);
        self.event(ty::USER_TASK_BEGIN, [id.0, parent.0, name, 0, 0], t)
    }

    /// The end of task `id` (of type `ty_name`, child of `parent`).
    pub fn task_end(self, id: TaskId, parent: TaskId, ty_name: &str) -> Result<Event, MakeError> {
        if id == NO_TASK {
            return Err(MakeError("a task cannot be NoTask"));
        }
        let mut ev = self.event(
            ty::USER_TASK_END,
            [id.0, 0, parent.0, 0, 0],
            Tables::default(),
        )?;
        ev.name = Some(ty_name.as_bytes().into());
        Ok(ev)
    }

    /// The start (`begin`) or end of a region of type `ty_name` in `task`.
    pub fn region(self, begin: bool, task: TaskId, ty_name: &str) -> Event {
        let mut t = Tables::default();
        let name = t.string(ty_name);
        let ty = if begin {
            ty::USER_REGION_BEGIN
        } else {
            ty::USER_REGION_END
        };
        self.event(ty, [task.0, name, 0, 0, 0], t)
            .expect("a region's strings fit")
    }

    /// A label on the current goroutine.
    pub fn label(self, label: &str) -> Event {
        let mut t = Tables::default();
        let id = t.string(label);
        self.event(ty::GO_LABEL, [id, 0, 0, 0, 0], t)
            .expect("a label fits")
    }

    /// A metric: one of Go's three (`/sched/gomaxprocs:threads`,
    /// `/memory/classes/heap/objects:bytes`, `/gc/heap/goal:bytes`).
    pub fn metric(self, name: &str, value: u64) -> Result<Event, MakeError> {
        let ty = match name {
            "/sched/gomaxprocs:threads" => ty::PROCS_CHANGE,
            "/memory/classes/heap/objects:bytes" => ty::HEAP_ALLOC,
            "/gc/heap/goal:bytes" => ty::HEAP_GOAL,
            _ => return Err(MakeError("unknown metric name")),
        };
        self.event(ty, [value, 0, 0, 0, 0], Tables::default())
    }

    /// A sync event (the `n`th), with the clock snapshot of the generation
    /// it opens.
    pub fn sync(self, n: u64, clock: Option<ClockSnapshot>) -> Event {
        let table = Tables::default().finish(clock).expect("empty tables");
        Event {
            ty: SYNC,
            time: self.time,
            ctx: Ctx::NONE,
            args: [n, u64::from(clock.is_some()), 0, 0, 0],
            table: Some(table),
            name: None,
        }
    }

    /// A proc's change of state, as Go maps it: `Idle->Running` is a
    /// `ProcStart`, `Running->Idle` a `ProcStop` (or a steal, of another
    /// proc than the context's), and a change to the same state (or from
    /// `Undetermined`/`NotExist`) a status.
    pub fn proc_transition(
        self,
        id: ProcId,
        from: ProcState,
        to: ProcState,
    ) -> Result<Event, MakeError> {
        let p = id.0 as u64;
        let t = Tables::default();
        match (from, to) {
            (ProcState::Idle, ProcState::Running) => self.event(ty::PROC_START, [p, 0, 0, 0, 0], t),
            (ProcState::Running, ProcState::Idle) if id.0 == self.ctx.p => {
                self.event(ty::PROC_STOP, [0; 5], t)
            }
            (ProcState::Running, ProcState::Idle) => {
                // A steal of a proc in a syscall (status 3).
                self.event(ty::PROC_STEAL, [p, 1, 0, 3, 0], t)
            }
            (_, ProcState::Running | ProcState::Idle) => {
                let status = if to == ProcState::Running { 1 } else { 2 };
                self.event(
                    ty::PROC_STATUS,
                    [p, status, u64::from(from.as_u8()), 0, 0],
                    t,
                )
            }
            _ => Err(MakeError("unexpected proc transition")),
        }
    }

    /// A goroutine's change of state, as Go's `MakeEvent` maps it (a
    /// creation from `NotExist`, a status for a change to the same state or
    /// from `Undetermined`, a start, a block with `reason`, …). The
    /// builder's stack is the stack of whoever runs it; for a creation it is
    /// the new goroutine's start stack as well.
    pub fn goroutine_transition(
        self,
        id: GoId,
        from: GoState,
        to: GoState,
        reason: &str,
    ) -> Result<Event, MakeError> {
        use GoState as G;
        let g = id.0 as u64;
        let mut t = Tables::default();
        let status = |s: GoState| match s {
            G::Runnable => Ok(1),
            G::Running => Ok(2),
            G::Syscall => Ok(3),
            G::Waiting => Ok(4),
            _ => Err(MakeError("unexpected goroutine transition")),
        };
        let mut b = self;
        let (ty, args) = match (from, to) {
            _ if from == to || from == G::Undetermined => {
                let m = if matches!(to, G::Running | G::Syscall) {
                    b.ctx.m as u64
                } else {
                    u64::MAX
                };
                (
                    ty::GO_STATUS,
                    [g, m, status(to)?, u64::from(from.as_u8()), 0],
                )
            }
            (G::NotExist, G::Runnable | G::Waiting) => {
                let new_stack = t.stack(&b.stack);
                let ty = if to == G::Runnable {
                    ty::GO_CREATE
                } else {
                    ty::GO_CREATE_BLOCKED
                };
                (ty, [g, new_stack, 0, 0, 0])
            }
            (G::NotExist, G::Syscall) => (ty::GO_CREATE_SYSCALL, [g, 0, 0, 0, 0]),
            (G::Runnable, G::Running) => (ty::GO_START, [g, 0, 0, 0, 0]),
            (G::Waiting, G::Runnable) => (ty::GO_UNBLOCK, [g, 0, 0, 0, 0]),
            (G::Running, _) | (G::Syscall, _) => {
                b.ctx.g = id.0;
                match (from, to) {
                    (G::Running, G::NotExist) => (ty::GO_DESTROY, [0; 5]),
                    (G::Running, G::Runnable) => (ty::GO_STOP, [t.string(reason), 0, 0, 0, 0]),
                    (G::Running, G::Waiting) => (ty::GO_BLOCK, [t.string(reason), 0, 0, 0, 0]),
                    (G::Running, G::Syscall) => (ty::GO_SYSCALL_BEGIN, [0; 5]),
                    (G::Syscall, G::NotExist) => (ty::GO_DESTROY_SYSCALL, [0; 5]),
                    (G::Syscall, G::Running) => (ty::GO_SYSCALL_END, [0; 5]),
                    (G::Syscall, G::Runnable) => (ty::GO_SYSCALL_END_BLOCKED, [0; 5]),
                    _ => return Err(MakeError("unexpected goroutine transition")),
                }
            }
            _ => return Err(MakeError("unexpected goroutine transition")),
        };
        b.event(ty, args, t)
    }
}

/// The event table the builder's events follow.
struct Version123;

impl Version123 {
    fn spec(ty: u8) -> Option<&'static trace_wire::EventSpec> {
        trace_wire::Version::Go123.spec(ty)
    }
}
