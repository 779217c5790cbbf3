//! A validator of the event stream, after Go's test validator
//! (`internal/trace/testtrace`).
//!
//! The reader already enforces the format's ordering rules; the validator
//! re-checks the high-level stream for consistency: strictly increasing
//! times, state transitions that agree with each other and with the threads
//! that run them, balanced ranges, matching task types, complete stack
//! frames, and (for Go 1.25 traces) sequential syncs with sane clock
//! snapshots. It checks the stream of today's reader ([`Validator::new`])
//! or of Go 1.23's ([`Validator::with_compat`]). It is what our own recorder's output is tested against, and
//! what `trace-tool validate` runs.
//!
//! Unlike the reader, which stops at its first error, the validator reports
//! every problem of every event; [`validate`] collects them all.
//!
//! ```
//! use trace_reader::validate;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let report = validate(std::fs::File::open(path)?);
//! assert!(report.is_valid(), "{report}");
//! // 33 events and a sync before and after the one generation.
//! assert_eq!(report.n_events, 35);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::io::Read;

use hashbrown::HashMap;

use crate::consume::Consume;
use crate::idmap::IdMap;

use crate::{
    Error, Event, EventKind, GoId, GoState, ProcId, ProcState, Reader, ResourceId, Stack,
    StateChange, TaskId, ThreadId, Time, Version, BACKGROUND_TASK, NO_GOROUTINE, NO_PROC, NO_TASK,
    NO_THREAD,
};

/// One problem found by the [`Validator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The position of the offending event in the stream, counting from 0.
    pub event_index: u64,
    /// The offending event's time.
    pub time: Time,
    /// The generation the event belongs to, counted from 1 at the start of
    /// the file (not the generation number written in the trace, which may
    /// start higher).
    pub generation: u64,
    /// What is wrong, in Go's words where Go's validator has the rule.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {} (generation {}, time {}): {}",
            self.event_index, self.generation, self.time, self.message
        )
    }
}

/// Checks events one at a time, in stream order.
#[derive(Debug)]
pub struct Validator {
    version: Version,
    n_events: u64,
    last_time: Option<Time>,
    goroutines: IdMap<Resource<GoState>>,
    procs: IdMap<Resource<ProcState>>,
    threads: IdMap<SchedContext>,
    ranges: HashMap<ResourceId, Vec<ActiveRange>>,
    tasks: HashMap<TaskId, Vec<u8>>,
    last_sync: Option<SyncSeen>,
    /// Whether the stream has a sync before each generation and one at the
    /// end (today's reader), not one after each generation (Go 1.23's, for
    /// Go 1.22 and 1.23 traces).
    sync_before: bool,
    /// The stacks found complete, by id, in `stacks_table` (the stacks of
    /// one generation: events repeat them). The table is held so that its
    /// identity cannot be taken by another.
    stacks_ok: StackSet,
    stacks_table: Option<std::sync::Arc<crate::tables::GenTables>>,
}

/// A set of stack ids: a bit set for the small dense ids every writer
/// assigns, a hash set for the rest.
#[derive(Debug, Default)]
struct StackSet {
    bits: Vec<u64>,
    others: hashbrown::HashSet<u64>,
}

impl StackSet {
    /// Ids below this go in the bit set (128 KiB of bits at most).
    const DENSE: u64 = 1 << 20;

    fn clear(&mut self) {
        self.bits.iter_mut().for_each(|w| *w = 0);
        self.others.clear();
    }

    #[inline]
    fn contains(&self, id: u64) -> bool {
        if id < Self::DENSE {
            self.bits
                .get((id / 64) as usize)
                .is_some_and(|w| w & (1 << (id % 64)) != 0)
        } else {
            self.others.contains(&id)
        }
    }

    fn insert(&mut self, id: u64) {
        if id < Self::DENSE {
            let i = (id / 64) as usize;
            if i >= self.bits.len() {
                self.bits.resize(i + 1, 0);
            }
            self.bits[i] |= 1 << (id % 64);
        } else {
            self.others.insert(id);
        }
    }
}

/// The name of an active range, owned: the fixed names need no copy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ActiveRange {
    /// A range with a fixed name (its prefix, see `RangeName::parts`).
    Fixed(&'static str),
    /// A stop-the-world range, with its kind.
    StopTheWorld(Box<[u8]>),
}

impl ActiveRange {
    fn of(name: &crate::RangeName<'_>) -> Self {
        match name {
            crate::RangeName::StopTheWorld(kind) => {
                ActiveRange::StopTheWorld(kind.as_bytes().into())
            }
            other => ActiveRange::Fixed(other.parts().0),
        }
    }

    fn is(&self, name: &crate::RangeName<'_>) -> bool {
        use crate::RangeName::StopTheWorld;
        match (self, name) {
            (ActiveRange::StopTheWorld(a), StopTheWorld(b)) => **a == *b.as_bytes(),
            (ActiveRange::Fixed(a), other) if !matches!(other, StopTheWorld(_)) => {
                *a == other.parts().0
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct SyncSeen {
    n: u64,
    clock: Option<crate::ClockSnapshot>,
}

/// What a thread runs, as far as the validator knows.
#[derive(Debug, Clone, Copy)]
struct SchedContext {
    p: ProcId,
    g: GoId,
}

/// A goroutine's or proc's state and the thread it is bound to.
#[derive(Debug, Clone, Copy)]
struct Resource<S> {
    state: S,
    bound_to: Option<ThreadId>,
}

impl Validator {
    /// A validator for the events today's [`Reader`] (with
    /// [`Compat::Current`](crate::Compat::Current)) yields for a trace of
    /// the given format version.
    pub fn new(version: Version) -> Self {
        Self::with_compat(version, crate::Compat::Current)
    }

    /// A validator for the events a [`Reader`] with `compat` yields for a
    /// trace of the given format version (which decides where syncs are
    /// expected).
    pub fn with_compat(version: Version, compat: crate::Compat) -> Self {
        Self {
            sync_before: compat == crate::Compat::Current || version > Version::Go123,
            stacks_ok: StackSet::default(),
            stacks_table: None,
            version,
            n_events: 0,
            last_time: None,
            goroutines: IdMap::default(),
            procs: IdMap::default(),
            threads: IdMap::default(),
            ranges: HashMap::new(),
            tasks: HashMap::new(),
            last_sync: None,
        }
    }

    /// Checks `event`, the next event of the stream, and returns its problems
    /// (none if it is consistent).
    pub fn event(&mut self, event: &Event) -> Vec<Violation> {
        let generation = self.generation_ordinal();
        let mut problems = Vec::new();
        self.check(event, &mut problems);
        let index = self.n_events;
        self.n_events += 1;
        problems
            .into_iter()
            .map(|message| Violation {
                event_index: index,
                time: event.time(),
                generation,
                message,
            })
            .collect()
    }

    fn check(&mut self, event: &Event, problems: &mut Vec<String>) {
        // Stack ids are per generation.
        if let Some(t) = &event.table {
            if !self
                .stacks_table
                .as_ref()
                .is_some_and(|held| std::sync::Arc::ptr_eq(held, t))
            {
                self.stacks_table = Some(t.clone());
                self.stacks_ok.clear();
            }
        }
        let time = event.time();
        match self.last_time {
            Some(last) if time <= last => problems.push(format!(
                "timestamp out-of-order (want > {last}) for {}",
                first_line(event)
            )),
            _ => self.last_time = Some(time),
        }
        self.check_stack(event.stack(), problems);

        match event.kind() {
            EventKind::Sync => self.sync(event, problems),
            EventKind::Metric => {
                if let Some(m) = event.metric() {
                    if !m.name.contains(':') {
                        problems.push(format!("invalid metric name {:?}", m.name));
                    }
                }
            }
            EventKind::Label => {
                if let Some(l) = event.label() {
                    if l.label.is_empty() {
                        problems.push("invalid label \"\"".to_string());
                    }
                    let known = match l.resource {
                        ResourceId::None => {
                            problems.push("label resource none".to_string());
                            true
                        }
                        ResourceId::Goroutine(g) => self.goroutines.contains(g.0 as u64),
                        ResourceId::Proc(p) => self.procs.contains(p.0 as u64),
                        ResourceId::Thread(m) => self.threads.contains(m.0 as u64),
                    };
                    if !known {
                        let (kind, id) = match l.resource {
                            ResourceId::Goroutine(g) => ("goroutine", g.0),
                            ResourceId::Proc(p) => ("proc", p.0),
                            ResourceId::Thread(m) => ("thread", m.0),
                            ResourceId::None => unreachable!("handled above"),
                        };
                        problems.push(format!("label for invalid {kind} {id}"));
                    }
                }
            }
            EventKind::StateTransition => self.transition(event, problems),
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                if let Some(r) = event.range() {
                    let active = self.ranges.entry(r.scope).or_default();
                    let pos = active.iter().position(|n| n.is(&r.name));
                    match event.kind() {
                        EventKind::RangeBegin => {
                            if pos.is_some() {
                                problems.push(format!(
                                    "already active range {:?} on {} begun again",
                                    r.name.to_string(),
                                    r.scope
                                ));
                            }
                            active.push(ActiveRange::of(&r.name));
                        }
                        EventKind::RangeActive => {
                            if pos.is_none() {
                                active.push(ActiveRange::of(&r.name));
                            }
                        }
                        _ => match pos {
                            Some(i) => {
                                active.remove(i);
                            }
                            None => problems.push(format!(
                                "inactive range {:?} on {} ended",
                                r.name.to_string(),
                                r.scope
                            )),
                        },
                    }
                }
            }
            EventKind::TaskBegin => {
                if let Some(t) = event.task() {
                    if t.id == NO_TASK || t.id == BACKGROUND_TASK {
                        problems.push(format!("found invalid task ID for task of type {}", t.ty));
                    }
                    if t.parent == BACKGROUND_TASK {
                        problems.push(format!(
                            "found background task as the parent for task of type {}",
                            t.ty
                        ));
                    }
                    self.tasks.insert(t.id, t.ty.as_bytes().to_vec());
                }
            }
            EventKind::TaskEnd => {
                if let Some(t) = event.task() {
                    if let Some(begun) = self.tasks.remove(&t.id) {
                        if begun != t.ty.as_bytes() {
                            problems.push(format!(
                                "task end type {:?} doesn't match task start type {:?} for task {}",
                                t.ty,
                                crate::TraceStr::new(&begun),
                                t.id
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn sync(&mut self, event: &Event, problems: &mut Vec<String>) {
        let Some(info) = event.sync() else { return };
        let expected = self.last_sync.map_or(1, |s| s.n + 1);
        if info.n != expected {
            problems.push(format!(
                "sync count is not sequential: expected {expected}, got {}",
                info.n
            ));
        }
        // Go 1.25 traces carry a clock snapshot on every sync but the final
        // one, which closes the trace; so only a sync followed by another
        // one can be checked, and it is checked when the next one arrives.
        if self.version >= Version::Go125 {
            if let Some(prev) = self.last_sync {
                match prev.clock {
                    None => problems.push(format!("sync {} has no clock snapshot", prev.n)),
                    Some(c) => {
                        if c.wall_sec == 0 && c.wall_nsec == 0 {
                            problems.push(format!("sync {} has zero wall time", prev.n));
                        }
                        if c.mono == 0 {
                            problems.push(format!("sync {} has zero mono time", prev.n));
                        }
                        if c.trace.0 == 0 {
                            problems.push(format!("sync {} has zero trace time", prev.n));
                        }
                        if let Some(now) = info.clock_snapshot {
                            if (now.wall_sec, now.wall_nsec) <= (c.wall_sec, c.wall_nsec) {
                                problems
                                    .push(format!("sync {} has non-increasing wall time", info.n));
                            }
                            if now.mono <= c.mono {
                                problems
                                    .push(format!("sync {} has non-increasing mono time", info.n));
                            }
                            if now.trace <= c.trace {
                                problems
                                    .push(format!("sync {} has non-increasing trace time", info.n));
                            }
                        }
                    }
                }
            }
        }
        self.last_sync = Some(SyncSeen {
            n: info.n,
            clock: info.clock_snapshot,
        });
    }

    /// Whether a resource first seen now may be undetermined: only before the
    /// first global sync (Go 1.23 emits a sync after each generation, today's
    /// reader before each generation as well).
    fn past_first_sync(&self) -> bool {
        match self.last_sync {
            None => false,
            Some(s) if self.sync_before => s.n > 1,
            Some(_) => true,
        }
    }

    fn transition(&mut self, event: &Event, problems: &mut Vec<String>) {
        let Some(tr) = event.state_transition() else {
            return;
        };
        self.check_stack(tr.stack, problems);
        let thread = event.thread();
        match tr.change {
            StateChange::Goroutine { id, from, to } => {
                if to == GoState::Undetermined {
                    problems.push(format!(
                        "transition to undetermined state for goroutine {id}"
                    ));
                }
                if self.past_first_sync() && from == GoState::Undetermined {
                    problems.push(format!(
                        "undetermined goroutine {id} after first global sync"
                    ));
                }
                if to == GoState::NotExist && self.has_any_range(ResourceId::Goroutine(id)) {
                    problems.push(format!("goroutine {id} died with active ranges"));
                }
                let state = match self.goroutines.get_mut(id.0 as u64) {
                    Some(s) => {
                        if from != s.state {
                            problems.push(format!(
                                "bad old state for goroutine {id}: got {from}, want {}",
                                s.state
                            ));
                        }
                        s.state = to;
                        s
                    }
                    None => {
                        if from != GoState::Undetermined && from != GoState::NotExist {
                            problems.push(format!(
                                "bad old state for unregistered goroutine {id}: {from}"
                            ));
                        }
                        self.goroutines
                            .get_or_insert_with(id.0 as u64, || Resource {
                                state: to,
                                bound_to: None,
                            })
                    }
                };
                if to.executing() {
                    if let Some(ctx) = thread_context(&mut self.threads, thread, problems) {
                        if ctx.g != NO_GOROUTINE && ctx.g != id {
                            problems.push(format!(
                                "tried to run goroutine {id} when one was already executing ({}) on thread {thread}",
                                ctx.g
                            ));
                        }
                        ctx.g = id;
                        state.bound_to = Some(thread);
                    }
                } else if from.executing() {
                    if tr.stack != event.stack() {
                        problems
                            .push("StateTransition.Stack doesn't match Event.Stack".to_string());
                    }
                    match state
                        .bound_to
                        .take()
                        .and_then(|m| self.threads.get_mut(m.0 as u64))
                    {
                        Some(ctx) => {
                            if ctx.g != id {
                                problems.push(format!(
                                    "tried to stop goroutine {id} when it wasn't currently executing (currently executing {}) on thread {thread}",
                                    ctx.g
                                ));
                            }
                            ctx.g = NO_GOROUTINE;
                        }
                        None => problems.push(format!(
                            "stopping goroutine {id} not bound to any active context"
                        )),
                    }
                }
            }
            StateChange::Proc { id, from, to } => {
                if to == ProcState::Undetermined {
                    problems.push(format!("transition to undetermined state for proc {id}"));
                }
                if self.past_first_sync() && from == ProcState::Undetermined {
                    problems.push(format!("undetermined proc {id} after first global sync"));
                }
                if to == ProcState::NotExist && self.has_any_range(ResourceId::Proc(id)) {
                    problems.push(format!("proc {id} died with active ranges"));
                }
                let state = match self.procs.get_mut(id.0 as u64) {
                    Some(s) => {
                        if from != s.state {
                            problems.push(format!(
                                "bad old state for proc {id}: got {from}, want {}",
                                s.state
                            ));
                        }
                        s.state = to;
                        s
                    }
                    None => {
                        if from != ProcState::Undetermined && from != ProcState::NotExist {
                            problems
                                .push(format!("bad old state for unregistered proc {id}: {from}"));
                        }
                        self.procs.get_or_insert_with(id.0 as u64, || Resource {
                            state: to,
                            bound_to: None,
                        })
                    }
                };
                if to.executing() {
                    if let Some(ctx) = thread_context(&mut self.threads, thread, problems) {
                        if ctx.p != NO_PROC && ctx.p != id {
                            problems.push(format!(
                                "tried to run proc {id} when one was already executing ({}) on thread {thread}",
                                ctx.p
                            ));
                        }
                        ctx.p = id;
                        state.bound_to = Some(thread);
                    }
                } else if from.executing() {
                    let bound = state.bound_to.take();
                    match bound.and_then(|m| self.threads.get_mut(m.0 as u64).map(|ctx| (m, ctx))) {
                        Some((m, ctx)) => {
                            if ctx.p != id {
                                problems.push(format!(
                                    "tried to stop proc {id} when it wasn't currently executing (currently executing {}) on thread {m}",
                                    ctx.p
                                ));
                            }
                            ctx.p = NO_PROC;
                        }
                        None => problems.push(format!(
                            "stopping proc {id} not bound to any active context"
                        )),
                    }
                }
            }
        }
    }

    /// The ordinal of the generation the next event belongs to. Go 1.23's
    /// reader emits a sync after each generation; today's one before each
    /// generation and one at the end.
    fn generation_ordinal(&self) -> u64 {
        let n_syncs = self.last_sync.map_or(0, |s| s.n);
        if self.sync_before {
            n_syncs.max(1)
        } else {
            n_syncs + 1
        }
    }

    /// The number of generations the events so far belong to.
    pub fn n_generations(&self) -> u64 {
        let n_syncs = self.last_sync.map_or(0, |s| s.n);
        if self.sync_before {
            n_syncs.saturating_sub(1)
        } else {
            n_syncs
        }
    }

    fn has_any_range(&self, r: ResourceId) -> bool {
        self.ranges.get(&r).is_some_and(|v| !v.is_empty())
    }
}

/// The context of thread `m`, created on first use; `None` (with a problem)
/// for "no thread".
fn thread_context<'a>(
    threads: &'a mut IdMap<SchedContext>,
    m: ThreadId,
    problems: &mut Vec<String>,
) -> Option<&'a mut SchedContext> {
    if m == NO_THREAD {
        problems.push("must have thread, but thread ID is none".to_string());
        return None;
    }
    Some(threads.get_or_insert_with(m.0 as u64, || SchedContext {
        p: NO_PROC,
        g: NO_GOROUTINE,
    }))
}

/// Every frame but the first must be complete. (Go 1.23's validator meant
/// to check this but skipped every frame; newer Go checks it as here.)
impl Validator {
    /// Checks that every frame of `stack` but the leaf is complete, once per
    /// stack of a generation.
    #[inline]
    fn check_stack(&mut self, stack: Option<Stack<'_>>, problems: &mut Vec<String>) {
        let Some(stack) = stack else { return };
        if self.stacks_ok.contains(stack.id()) {
            return;
        }
        let before = problems.len();
        check_frames(stack, problems);
        if problems.len() == before {
            self.stacks_ok.insert(stack.id());
        }
    }
}

fn check_frames(stack: Stack<'_>, problems: &mut Vec<String>) {
    for frame in stack.frames().skip(1) {
        if frame.func.is_empty() || frame.file.is_empty() || frame.pc == 0 || frame.line == 0 {
            problems.push(format!(
                "invalid stack frame {{pc: {:#x}, func: {:?}, file: {:?}, line: {}}}: missing information",
                frame.pc, frame.func, frame.file, frame.line
            ));
        }
    }
}

fn first_line(event: &Event) -> String {
    let s = event.to_string();
    s.lines().next().unwrap_or_default().to_string()
}

/// The outcome of [`validate`]: how much was read, the validator's findings,
/// and the reader's error if reading stopped early.
#[derive(Debug)]
#[non_exhaustive]
pub struct Report {
    /// The trace's format version, if the header could be read.
    pub version: Option<Version>,
    /// Events read.
    pub n_events: u64,
    /// Sync events read (one per generation, plus one for Go 1.25 traces).
    pub n_syncs: u64,
    /// Complete generations read.
    pub n_generations: u64,
    /// Distinct goroutines, procs and threads seen in state transitions and
    /// event contexts.
    pub n_goroutines: usize,
    /// See `n_goroutines`.
    pub n_procs: usize,
    /// See `n_goroutines`.
    pub n_threads: usize,
    /// The time of the first and the last event.
    pub span: Option<(Time, Time)>,
    /// Every problem the validator found, in stream order.
    pub violations: Vec<Violation>,
    /// The reader's error, if the trace could not be read to the end.
    pub error: Option<Error>,
}

impl Report {
    /// Whether the trace was read to the end without a reader error or a
    /// validator finding.
    pub fn is_valid(&self) -> bool {
        self.error.is_none() && self.violations.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = self
            .version
            .map_or_else(|| "unknown version".to_string(), |v| v.to_string());
        let duration = self.span.map_or(0, |(a, b)| b.0.saturating_sub(a.0));
        write!(
            f,
            "{}: {version} trace, {} events, {} generations, {} goroutines, {} procs, {} threads, {:.3} s",
            if self.is_valid() { "valid" } else { "invalid" },
            self.n_events,
            self.n_generations,
            self.n_goroutines,
            self.n_procs,
            self.n_threads,
            duration as f64 / 1e9,
        )?;
        for v in &self.violations {
            write!(f, "\n{v}")?;
        }
        if let Some(e) = &self.error {
            write!(f, "\n{e}")?;
        }
        Ok(())
    }
}

/// Reads the whole trace, validating every event.
pub fn validate(input: impl Read) -> Report {
    validate_with(input, &mut ())
}

/// [`validate`], feeding every event read to `also` as well, so that an
/// analysis runs in the same pass.
pub fn validate_with<C: Consume<Error = Infallible> + ?Sized>(
    input: impl Read,
    also: &mut C,
) -> Report {
    let mut report = Report {
        version: None,
        n_events: 0,
        n_syncs: 0,
        n_generations: 0,
        n_goroutines: 0,
        n_procs: 0,
        n_threads: 0,
        span: None,
        violations: Vec::new(),
        error: None,
    };
    let mut reader = match Reader::new(input) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let version = reader.version();
    report.version = Some(version);
    let mut validator = Validator::new(version);
    let mut goroutines = hashbrown::HashSet::new();
    let mut procs = hashbrown::HashSet::new();
    let mut threads = hashbrown::HashSet::new();
    let mut last_ctx = (NO_GOROUTINE, NO_PROC, NO_THREAD);
    loop {
        match reader.read_event_ref() {
            Ok(Some(event)) => {
                report.violations.extend(validator.event(event));
                let Ok(()) = also.event(event);
                report.n_events += 1;
                if event.kind() == EventKind::Sync {
                    report.n_syncs += 1;
                }
                let t = event.time();
                report.span = Some(report.span.map_or((t, t), |(a, _)| (a, t)));
                // Consecutive events mostly share their context: insert
                // only what changed.
                let (g, p, m) = (event.goroutine(), event.proc(), event.thread());
                if g != last_ctx.0 && g.is_some() {
                    goroutines.insert(g);
                }
                if p != last_ctx.1 && p.is_some() {
                    procs.insert(p);
                }
                if m != last_ctx.2 && m.is_some() {
                    threads.insert(m);
                }
                last_ctx = (g, p, m);
            }
            Ok(None) => break,
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
    }
    report.n_generations = validator.n_generations();
    // The goroutines and procs of state transitions are the validator's.
    goroutines.extend(validator.goroutines.ids().map(|id| GoId(id as i64)));
    procs.extend(validator.procs.ids().map(|id| ProcId(id as i64)));
    report.n_goroutines = goroutines.len();
    report.n_procs = procs.len();
    report.n_threads = threads.len();
    report
}
