//! Per-goroutine summaries: what each goroutine spent its time on, and the
//! user regions it went through.
//!
//! This follows Go 1.23's `internal/trace` `Summarizer` (what `go tool
//! trace`'s goroutine pages and its pprof profiles are built on), rule for
//! rule, so the figures agree with Go's: execution time, scheduler wait,
//! block time by reason, syscall time, syscall block time, the time spent in
//! ranges such as `GC mark assist`, and each goroutine's creation, first
//! start and end.
//!
//! The summarizer is fed one event at a time and keeps state per goroutine
//! only, never per event. Regions are handed back as they complete (from
//! [`Summarizer::event`]) rather than accumulated.
//!
//! ```
//! use trace_analysis::summary::Summarizer;
//! use trace_reader::Reader;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let mut summarizer = Summarizer::new();
//! let mut regions = 0;
//! for event in Reader::new(std::fs::File::open(path)?)? {
//!     regions += summarizer.event(&event?).len();
//! }
//! let summary = summarizer.finish();
//! let main = summary.goroutines.iter().find(|g| &*g.name == "main.main").unwrap();
//! assert!(main.stats.exec > std::time::Duration::ZERO);
//! assert!(regions > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashMap;
use trace_reader::{
    Event, EventKind, GoId, GoState, ProcId, ProcState, RangeName, ResourceId, StateChange, TaskId,
    Time,
};

use crate::intern::{Interner, Sym};

/// Nanoseconds as a [`Duration`], negative values (which only a malformed
/// trace could produce) as zero.
pub(crate) fn nanos(ns: i64) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

/// Go's "time not set" (`Time(0)`): the summarizer uses zero timestamps as
/// absent values, exactly as Go's does.
const UNSET: i64 = 0;

/// Whether a goroutine with start function `name` is a runtime goroutine
/// (Go's `IsSystemGoroutine`): an unnamed one, or one starting in `runtime.`
/// other than `runtime.main`.
pub fn is_system_goroutine(name: &str) -> bool {
    name.is_empty() || name != "runtime.main" && name.starts_with("runtime.")
}

/// How a goroutine spent its time (Go's `GoroutineExecStats`).
///
/// Execution, scheduler wait, block, syscall and syscall block times do
/// not overlap; [`ExecStats::total`] is the goroutine's whole presence in
/// the trace, and the range times overlap the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Time running.
    pub exec: Duration,
    /// Time runnable, waiting for a proc; also the time after a syscall
    /// blocked until the goroutine ran again.
    pub sched_wait: Duration,
    /// Time blocked, by the runtime's reason (`chan receive`, `sync`,
    /// `network`, `select`, `sleep`, …), sorted by reason.
    pub block_by_reason: Vec<(Arc<str>, Duration)>,
    /// Time in system calls.
    pub syscall: Duration,
    /// Time in system calls that blocked (the proc was taken away).
    pub syscall_block: Duration,
    /// Time from the goroutine's creation (or the start of the trace) to its
    /// end (or the end of the trace).
    pub total: Duration,
    /// Time in ranges scoped to the goroutine, e.g. `GC mark assist`, by
    /// name, sorted by name.
    pub range_time: Vec<(Arc<str>, Duration)>,
}

impl ExecStats {
    /// Blocked time for reasons that `matches`.
    pub fn block_time_where(&self, mut matches: impl FnMut(&str) -> bool) -> Duration {
        self.block_by_reason
            .iter()
            .filter(|(r, _)| matches(r))
            .map(|(_, d)| *d)
            .sum()
    }

    /// Time in the range called `name`.
    pub fn range(&self, name: &str) -> Duration {
        self.range_time
            .iter()
            .find(|(n, _)| &**n == name)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }

    /// What the non-overlapping times leave unaccounted of
    /// [`ExecStats::total`] (Go's `UnknownTime`).
    pub fn unknown(&self) -> Duration {
        let sum = self.exec
            + self.sched_wait
            + self.syscall
            + self.syscall_block
            + self
                .block_by_reason
                .iter()
                .map(|(_, d)| *d)
                .sum::<Duration>();
        self.total.saturating_sub(sum)
    }
}

/// One goroutine (Go's `GoroutineSummary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoroutineSummary {
    /// The goroutine.
    pub id: GoId,
    /// Its start function, from the outermost frame of the first stack seen
    /// for it; empty if none was seen.
    pub name: Arc<str>,
    /// The program counter of that frame (0 if none).
    pub pc: u64,
    /// When it was created, or the start of its generation for goroutines
    /// that were already there.
    pub creation_time: Time,
    /// When it first ran, if it did.
    pub start_time: Option<Time>,
    /// When it ended (exited, or blocked forever), if it did.
    pub end_time: Option<Time>,
    /// Where its time went.
    pub stats: ExecStats,
}

/// How a [`RegionSummary`] began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionStart {
    /// At a `RegionBegin` event.
    Began(Time),
    /// Not a user region: the goroutine was created inside a region of
    /// another goroutine and inherits its task (Go's synthetic region; its
    /// type is empty).
    Inherited(Time),
    /// Before the trace started (the trace has the end only).
    BeforeTrace,
}

impl RegionStart {
    /// The time, if the start is in the trace.
    pub fn time(self) -> Option<Time> {
        match self {
            RegionStart::Began(t) | RegionStart::Inherited(t) => Some(t),
            RegionStart::BeforeTrace => None,
        }
    }
}

/// How a [`RegionSummary`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionEnd {
    /// At a `RegionEnd` event.
    Ended(Time),
    /// The goroutine exited (or blocked forever) inside the region.
    GoroutineEnded(Time),
    /// Still open when the trace ended.
    Unfinished,
}

impl RegionEnd {
    /// The time, if the end is in the trace.
    pub fn time(self) -> Option<Time> {
        match self {
            RegionEnd::Ended(t) | RegionEnd::GoroutineEnded(t) => Some(t),
            RegionEnd::Unfinished => None,
        }
    }
}

/// A user region (`trace.WithRegion`, `trace.StartRegion`) of one goroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSummary {
    /// The goroutine the region ran on.
    pub goroutine: GoId,
    /// The task it belongs to (0: the background task).
    pub task: TaskId,
    /// The region type.
    pub ty: Arc<str>,
    /// How it began.
    pub start: RegionStart,
    /// How it ended.
    pub end: RegionEnd,
}

impl RegionSummary {
    /// Its duration, if both ends are explicit region events.
    pub fn duration(&self) -> Option<Duration> {
        match (self.start, self.end) {
            (RegionStart::Began(s), RegionEnd::Ended(e)) => Some(nanos(e.nanos_since(s))),
            _ => None,
        }
    }
}

/// The result of [`Summarizer::finish`].
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// One summary per goroutine id, sorted by id. A goroutine id that was
    /// reused (goroutines of C threads calling into Go) has the summary of
    /// its last incarnation, as in Go.
    pub goroutines: Vec<GoroutineSummary>,
    /// Regions still open at the end of the trace, on user goroutines.
    pub unfinished_regions: Vec<RegionSummary>,
}

/// Times a region summary is being built from.
#[derive(Debug, Clone)]
struct ActiveRegion {
    task: TaskId,
    ty: Sym,
    start: RegionStart,
}

/// The running state of one goroutine.
#[derive(Debug)]
struct GState {
    id: GoId,
    name: Sym,
    pc: u64,
    creation: i64,
    start: i64,
    end: i64,
    // Accumulated, non-overlapping except for `range_time` and `total`.
    exec: i64,
    sched_wait: i64,
    block: Vec<(Sym, i64)>,
    syscall: i64,
    syscall_block: i64,
    total: i64,
    range_time: Vec<(Sym, i64)>,
    // Pending: when the current state was entered (UNSET if not in it).
    last_start: i64,
    last_runnable: i64,
    last_block: i64,
    last_block_reason: Sym,
    last_syscall: i64,
    last_syscall_block: i64,
    last_range: Vec<(Sym, i64)>,
    active_regions: Vec<ActiveRegion>,
}

fn add(list: &mut Vec<(Sym, i64)>, key: Sym, dt: i64) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v += dt,
        None => list.push((key, dt)),
    }
}

fn get(list: &[(Sym, i64)], key: Sym) -> i64 {
    list.iter()
        .find(|(k, _)| *k == key)
        .map_or(UNSET, |(_, v)| *v)
}

fn remove(list: &mut Vec<(Sym, i64)>, key: Sym) {
    list.retain(|(k, _)| *k != key);
}

/// The accumulated statistics of a goroutine, including what is pending at
/// `last_ts` (Go's `snapshotStat`).
#[derive(Debug, Clone)]
struct Snapshot {
    exec: i64,
    sched_wait: i64,
    block: Vec<(Sym, i64)>,
    syscall: i64,
    syscall_block: i64,
    total: i64,
    range_time: Vec<(Sym, i64)>,
}

impl GState {
    fn new(id: GoId, creation: i64) -> GState {
        GState {
            id,
            name: Sym::EMPTY,
            pc: 0,
            creation,
            start: UNSET,
            end: UNSET,
            exec: 0,
            sched_wait: 0,
            block: Vec::new(),
            syscall: 0,
            syscall_block: 0,
            total: 0,
            range_time: Vec::new(),
            last_start: UNSET,
            last_runnable: UNSET,
            last_block: UNSET,
            last_block_reason: Sym::EMPTY,
            last_syscall: UNSET,
            last_syscall_block: UNSET,
            last_range: Vec::new(),
            active_regions: Vec::new(),
        }
    }

    fn snapshot(&self, last_ts: i64) -> Snapshot {
        let mut s = Snapshot {
            exec: self.exec,
            sched_wait: self.sched_wait,
            block: self.block.clone(),
            syscall: self.syscall,
            syscall_block: self.syscall_block,
            total: self.total,
            range_time: self.range_time.clone(),
        };
        if s.total == 0 {
            s.total = last_ts - self.creation;
        }
        if self.last_start != UNSET {
            s.exec += last_ts - self.last_start;
        }
        if self.last_runnable != UNSET {
            s.sched_wait += last_ts - self.last_runnable;
        }
        if self.last_block != UNSET {
            add(
                &mut s.block,
                self.last_block_reason,
                last_ts - self.last_block,
            );
        }
        if self.last_syscall != UNSET {
            s.syscall += last_ts - self.last_syscall;
        }
        if self.last_syscall_block != UNSET {
            // Go counts a syscall still blocked at the end as scheduler wait.
            s.sched_wait += last_ts - self.last_syscall_block;
        }
        for &(name, ts) in &self.last_range {
            add(&mut s.range_time, name, last_ts - ts);
        }
        s
    }

    /// Folds the pending times in at `last_ts` and, if `trigger` is the time
    /// of the goroutine's end, records it; returns the regions it ends.
    fn finalize(
        &mut self,
        last_ts: i64,
        trigger: Option<i64>,
        names: &Interner,
        done: &mut Vec<RegionSummary>,
    ) {
        if let Some(t) = trigger {
            self.end = t;
        }
        let s = self.snapshot(last_ts);
        self.exec = s.exec;
        self.sched_wait = s.sched_wait;
        self.block = s.block;
        self.syscall = s.syscall;
        self.syscall_block = s.syscall_block;
        self.total = s.total;
        self.range_time = s.range_time;
        // Runtime goroutines are never part of regions, even if they
        // inherited a task by being created inside one.
        if !is_system_goroutine(names.get(self.name)) {
            for r in self.active_regions.drain(..) {
                done.push(RegionSummary {
                    goroutine: self.id,
                    task: r.task,
                    ty: names.get(r.ty).clone(),
                    start: r.start,
                    end: trigger.map_or(RegionEnd::Unfinished, |t| {
                        RegionEnd::GoroutineEnded(Time(t))
                    }),
                });
            }
        }
        self.last_start = UNSET;
        self.last_runnable = UNSET;
        self.last_block = UNSET;
        self.last_block_reason = Sym::EMPTY;
        self.last_syscall = UNSET;
        self.last_syscall_block = UNSET;
        self.last_range.clear();
        self.active_regions.clear();
    }

    fn summary(&self, names: &Interner) -> GoroutineSummary {
        let list = |l: &[(Sym, i64)]| {
            let mut v: Vec<(Arc<str>, Duration)> = l
                .iter()
                .map(|&(k, ns)| (names.get(k).clone(), nanos(ns)))
                .collect();
            v.sort();
            v
        };
        let opt = |t: i64| (t != UNSET).then_some(Time(t));
        GoroutineSummary {
            id: self.id,
            name: names.get(self.name).clone(),
            pc: self.pc,
            creation_time: Time(self.creation),
            start_time: opt(self.start),
            end_time: opt(self.end),
            stats: ExecStats {
                exec: nanos(self.exec),
                sched_wait: nanos(self.sched_wait),
                block_by_reason: list(&self.block),
                syscall: nanos(self.syscall),
                syscall_block: nanos(self.syscall_block),
                total: nanos(self.total),
                range_time: list(&self.range_time),
            },
        }
    }
}

/// Builds [`GoroutineSummary`]s from the event stream (Go's `Summarizer`).
///
/// Feed every event of a trace, in order, to [`Summarizer::event`], then
/// call [`Summarizer::finish`].
#[derive(Debug, Default)]
pub struct Summarizer {
    gs: HashMap<GoId, GState>,
    syscalling_p: HashMap<ProcId, GoId>,
    syscalling_g: HashMap<GoId, ProcId>,
    ranges_p: HashMap<(ProcId, Sym), GoId>,
    names: Interner,
    last_ts: i64,
    sync_ts: i64,
    done: Vec<RegionSummary>,
    range_name: Vec<u8>,
}

impl trace_reader::Consume for Summarizer {
    type Error = std::convert::Infallible;

    fn event(&mut self, ev: &Event) -> Result<(), Self::Error> {
        self.take_in(ev);
        Ok(())
    }
}

impl Summarizer {
    /// A summarizer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The goroutine's start time and end time so far, as Go's summary will
    /// have them if the trace ended now (`None`: not yet).
    pub fn lifetime(&self, g: GoId) -> Option<(Option<Time>, Option<Time>)> {
        let s = self.gs.get(&g)?;
        let opt = |t: i64| (t != UNSET).then_some(Time(t));
        Some((opt(s.start), opt(s.end)))
    }

    /// The goroutine's start function as known so far (empty if unknown).
    pub fn name(&self, g: GoId) -> Option<&Arc<str>> {
        self.gs.get(&g).map(|s| self.names.get(s.name))
    }

    /// Takes in the next event; returns the regions it completed (a region
    /// end, or a goroutine ending inside regions).
    pub fn event(&mut self, ev: &Event) -> &[RegionSummary] {
        self.take_in(ev);
        &self.done
    }

    fn take_in(&mut self, ev: &Event) {
        self.done.clear();
        let t = ev.time().as_nanos();
        if self.sync_ts == UNSET {
            self.sync_ts = t;
        }
        self.last_ts = t;
        match ev.kind() {
            EventKind::Sync => self.sync_ts = t,
            EventKind::StateTransition => self.transition(ev),
            EventKind::RangeBegin | EventKind::RangeActive => self.range_begin(ev),
            EventKind::RangeEnd => self.range_end(ev),
            EventKind::RegionBegin => self.region_begin(ev),
            EventKind::RegionEnd => self.region_end(ev),
            _ => {}
        }
    }

    fn transition(&mut self, ev: &Event) {
        let Some(st) = ev.state_transition() else {
            return;
        };
        let t = ev.time().as_nanos();
        match st.change {
            StateChange::Goroutine { id, from, to } => {
                if from == to {
                    return;
                }
                match from {
                    GoState::Undetermined | GoState::NotExist => {
                        let creation = if from == GoState::Undetermined {
                            self.sync_ts
                        } else {
                            t
                        };
                        let mut g = GState::new(id, creation);
                        // A goroutine created inside a region inherits the
                        // task of the creator's innermost region.
                        if let Some(top) = self
                            .gs
                            .get(&ev.goroutine())
                            .and_then(|c| c.active_regions.last())
                        {
                            g.active_regions.push(ActiveRegion {
                                task: top.task,
                                ty: Sym::EMPTY,
                                start: RegionStart::Inherited(ev.time()),
                            });
                        }
                        self.gs.insert(id, g);
                    }
                    _ => {}
                }
                let Some(g) = self.gs.get_mut(&id) else {
                    // A transition of a goroutine never created: only in
                    // traces Go's own summarizer would crash on.
                    return;
                };
                match from {
                    GoState::Running => {
                        g.exec += t - g.last_start;
                        g.last_start = UNSET;
                    }
                    GoState::Waiting if g.last_block != UNSET => {
                        add(&mut g.block, g.last_block_reason, t - g.last_block);
                        g.last_block = UNSET;
                    }
                    GoState::Runnable if g.last_runnable != UNSET => {
                        g.sched_wait += t - g.last_runnable;
                        g.last_runnable = UNSET;
                    }
                    GoState::Syscall if g.last_syscall != UNSET => {
                        if g.last_syscall_block != UNSET {
                            g.syscall_block += t - g.last_syscall_block;
                            g.syscall += g.last_syscall_block - g.last_syscall;
                        } else {
                            g.syscall += t - g.last_syscall;
                        }
                        g.last_syscall = UNSET;
                        g.last_syscall_block = UNSET;
                        let p = self.syscalling_g.remove(&id).unwrap_or(ProcId(0));
                        self.syscalling_p.remove(&p);
                    }
                    _ => {}
                }
                if g.name == Sym::EMPTY {
                    // The outermost frame of any stack of the goroutine's own
                    // is its start function.
                    if let Some(root) = st.stack.and_then(|s| s.frames().last()) {
                        g.pc = root.pc;
                        g.name = self.names.intern(root.func.as_bytes());
                    }
                }
                match to {
                    GoState::Running => {
                        g.last_start = t;
                        if g.start == UNSET {
                            g.start = t;
                        }
                    }
                    GoState::Runnable => g.last_runnable = t,
                    GoState::Waiting if st.reason.as_bytes() != b"forever" => {
                        g.last_block = t;
                        g.last_block_reason = self.names.intern(st.reason.as_bytes());
                    }
                    // Blocking forever is like exiting.
                    GoState::Waiting | GoState::NotExist => {
                        g.finalize(t, Some(t), &self.names, &mut self.done);
                    }
                    GoState::Syscall => {
                        self.syscalling_p.insert(ev.proc(), id);
                        self.syscalling_g.insert(id, ev.proc());
                        g.last_syscall = t;
                    }
                    _ => {}
                }
            }
            // A proc going idle while its goroutine is in a syscall means the
            // syscall blocked.
            StateChange::Proc { id, from, to } if from != to && to == ProcState::Idle => {
                if let Some(g) = self
                    .syscalling_p
                    .remove(&id)
                    .and_then(|goid| self.gs.get_mut(&goid))
                {
                    g.last_syscall_block = t;
                }
            }
            _ => {}
        }
    }

    fn range_sym(&mut self, name: RangeName<'_>) -> Sym {
        self.range_name.clear();
        match name {
            RangeName::StopTheWorld(kind) => {
                self.range_name.extend_from_slice(b"stop-the-world (");
                self.range_name.extend_from_slice(kind.as_bytes());
                self.range_name.push(b')');
            }
            other => self
                .range_name
                .extend_from_slice(other.to_string().as_bytes()),
        }
        self.names.intern(&self.range_name)
    }

    fn range_begin(&mut self, ev: &Event) {
        let Some(r) = ev.range() else { return };
        let name = self.range_sym(r.name);
        let gid = match r.scope {
            ResourceId::Goroutine(g) => g,
            // Ranges on a proc (GC sweeps) are credited to the goroutine on
            // the proc, if it is still there when the range ends.
            ResourceId::Proc(p) => {
                if self.gs.contains_key(&ev.goroutine()) {
                    self.ranges_p.insert((p, name), ev.goroutine());
                }
                ev.goroutine()
            }
            _ => return,
        };
        let Some(g) = self.gs.get_mut(&gid) else {
            return;
        };
        if ev.kind() == EventKind::RangeActive {
            let ts = get(&g.last_range, name);
            if ts != UNSET {
                add(&mut g.range_time, name, self.sync_ts - ts);
            }
            remove(&mut g.last_range, name);
            g.last_range.push((name, self.sync_ts));
        } else {
            remove(&mut g.last_range, name);
            g.last_range.push((name, ev.time().as_nanos()));
        }
    }

    fn range_end(&mut self, ev: &Event) {
        let Some(r) = ev.range() else { return };
        let name = self.range_sym(r.name);
        let gid = match r.scope {
            ResourceId::Goroutine(g) => g,
            ResourceId::Proc(p) => match self.ranges_p.remove(&(p, name)) {
                Some(g) if g == ev.goroutine() => g,
                _ => return,
            },
            _ => return,
        };
        let Some(g) = self.gs.get_mut(&gid) else {
            return;
        };
        let ts = get(&g.last_range, name);
        if ts == UNSET {
            return;
        }
        add(&mut g.range_time, name, ev.time().as_nanos() - ts);
        remove(&mut g.last_range, name);
    }

    fn region_begin(&mut self, ev: &Event) {
        let Some(r) = ev.region() else { return };
        let ty = self.names.intern(r.ty.as_bytes());
        if let Some(g) = self.gs.get_mut(&ev.goroutine()) {
            g.active_regions.push(ActiveRegion {
                task: r.task,
                ty,
                start: RegionStart::Began(ev.time()),
            });
        }
    }

    fn region_end(&mut self, ev: &Event) {
        let Some(r) = ev.region() else { return };
        let Some(g) = self.gs.get_mut(&ev.goroutine()) else {
            return;
        };
        // The innermost open region is the one that ended, whatever its type.
        let (task, ty, start) = match g.active_regions.pop() {
            Some(a) => (a.task, a.ty, a.start),
            None => (
                r.task,
                self.names.intern(r.ty.as_bytes()),
                RegionStart::BeforeTrace,
            ),
        };
        self.done.push(RegionSummary {
            goroutine: ev.goroutine(),
            task,
            ty: self.names.get(ty).clone(),
            start,
            end: RegionEnd::Ended(ev.time()),
        });
    }

    /// Ends the analysis at the last event seen: folds in what is pending
    /// and returns the summaries.
    pub fn finish(mut self) -> Summary {
        let mut unfinished = Vec::new();
        let mut goroutines: Vec<GoroutineSummary> = self
            .gs
            .values_mut()
            .map(|g| {
                g.finalize(self.last_ts, None, &self.names, &mut unfinished);
                g.summary(&self.names)
            })
            .collect();
        goroutines.sort_by_key(|g| g.id);
        unfinished.sort_by_key(|r| (r.start.time(), r.goroutine));
        Summary {
            goroutines,
            unfinished_regions: unfinished,
        }
    }
}
