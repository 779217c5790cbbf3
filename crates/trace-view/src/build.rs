//! Builds a [`Timeline`] from the event stream, in one pass.
//!
//! * Goroutine lanes: one slice per state (running, runnable, waiting,
//!   syscall) between consecutive transitions; the slice keeps the stack of
//!   the transition that began it (where the goroutine blocked, or its start
//!   function) and of the event that ended it (e.g. who unblocked it).
//!   Regions and mark assists are packed into the rows below.
//! * Proc lanes: the goroutines that ran on the proc; sweeps below.
//! * Thread lanes: the goroutines that ran, or sat in a system call, on the
//!   thread.
//! * The GC lane: the concurrent mark phases and stop-the-world ranges.
//! * The tasks lane: every user task, packed into rows.
//! * Charts: heap in use and goal, GOMAXPROCS, running and runnable
//!   goroutines.
//!
//! Whatever is still open at the end of the trace ends at its last event;
//! what ends without having begun in the trace begins at its first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hashbrown::HashMap;
use trace_analysis::doctor::Doctor;
use trace_analysis::layout::{Layout, Move, Slot};
use trace_analysis::mmu::{log_windows, MmuBuilder};
use trace_reader::{Event, EventKind, GoState, ProcId, Reader, ResourceId, StateChange, ThreadId};

use crate::intern::{Stacks, Strings};
use crate::model::{
    Chart, CpuSample, Lane, LaneKind, Mark, MarkKind, MmuCurve, Series, Slice, SliceKind, Stats,
    TaskDetail, TaskInfo, Timeline, MAX_TASK_ITEMS, NO_LANE,
};
use crate::store::{PointsBuilder, Row, RowBuilder, Store};

/// Window lengths of the MMU curve, log-spaced from 1 µs to the trace.
const MMU_POINTS: usize = 60;

/// Events handed from the reading thread to the building one at a time.
const BATCH: usize = 8192;

/// Reads a whole trace and lays it out. The reader (this thread) and the
/// builder (a scoped thread) work in a pipeline, a batch of events apart;
/// the reading thread, which has time to spare, also diagnoses the trace
/// and follows its mutator utilization.
pub(crate) fn build<R: Read>(
    input: R,
    title: &str,
    options: crate::Options<'_>,
) -> Result<Timeline, crate::Error> {
    let laid_out = options.laid_out;
    let mut reader = Reader::new(input)?;
    let version = format!("{:?}", reader.version());
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Event>>(4);
    let store = Store::new();
    let mut side = Side {
        doctor: Doctor::new(),
        mmu: MmuBuilder::new(),
    };
    let (builder, result) = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("timeline-build".into())
            .spawn_scoped(scope, move || {
                let mut b = Builder::new(store);
                for batch in rx {
                    for ev in &batch {
                        b.event(ev);
                    }
                    if let Some(n) = laid_out {
                        n.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    }
                }
                b
            })
            .map_err(crate::Error::Spawn)?;
        let result = read_all(&mut reader, &tx, &mut side);
        drop(tx);
        Ok::<_, crate::Error>((worker.join(), result))
    })?;
    let builder = match builder {
        Ok(b) => b,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    // A trace that breaks off: what came before it, if asked for and if
    // there is more than a sync event.
    let stopped = match result {
        Ok(()) => None,
        Err(e) if options.partial && side.doctor.saw_more_than_syncs() => Some(e),
        Err(e) => return Err(e.into()),
    };
    Ok(builder.finish(side, title.to_string(), version, stopped)?)
}

/// What the reading thread works out besides reading.
struct Side {
    doctor: Doctor,
    mmu: MmuBuilder,
}

/// Reads every event, sending them in batches.
fn read_all<R: Read>(
    reader: &mut Reader<R>,
    tx: &std::sync::mpsc::SyncSender<Vec<Event>>,
    side: &mut Side,
) -> Result<(), trace_reader::Error> {
    /// The builder is gone (it panicked; `build` reports it).
    struct Gone;
    let mut batch = Vec::with_capacity(BATCH);
    let fed = reader.feed(&mut trace_reader::consume::from_fn(|ev: &Event| {
        side.doctor.event(ev);
        side.mmu.event(ev);
        batch.push(ev.clone());
        if batch.len() == BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            tx.send(full).map_err(|_| Gone)?;
        }
        Ok(())
    }));
    match fed {
        Ok(_) => {
            let _ = tx.send(batch);
            Ok(())
        }
        Err(trace_reader::Stop::Trace(e)) => {
            let _ = tx.send(batch);
            Err(e)
        }
        Err(trace_reader::Stop::Consumer(Gone)) => Ok(()),
    }
}

/// A lane under construction: row 0 in order (in the store as it grows),
/// the rest to be packed.
#[derive(Debug)]
struct LaneBuild {
    row0: RowBuilder,
    spans: Vec<Slice>,
    marks: Vec<Mark>,
}

impl LaneBuild {
    fn new(store: &Arc<Store>) -> Self {
        LaneBuild {
            row0: RowBuilder::new(store),
            spans: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// Appends to row 0, which must stay sorted and non-overlapping.
    fn push0(&mut self, s: Slice) {
        if self.row0.last_end().is_some_and(|end| s.start < end) {
            return;
        }
        self.row0.push(s);
    }
}

#[derive(Debug)]
struct Goroutine {
    lane: LaneBuild,
    state: GoState,
    since: i64,
    reason: u32,
    stack0: u32,
    /// The open slice's `extra`: for a runnable state begun by an unblock or
    /// a creation, 2 + the waker (see [`Slice::waker`]).
    waker: u64,
    /// The outermost function of its first known stack.
    func: u32,
    /// Where it was created (or its first known stack).
    start_stack: u32,
    /// Whether it was created within the trace.
    created: bool,
    label: u32,
    /// Open regions: start, type, task, stack.
    regions: Vec<(i64, u32, u64, u32)>,
}

impl Goroutine {
    fn new(store: &Arc<Store>) -> Self {
        Goroutine {
            lane: LaneBuild::new(store),
            state: GoState::Undetermined,
            since: 0,
            reason: 0,
            stack0: 0,
            waker: 0,
            func: 0,
            start_stack: 0,
            created: false,
            label: 0,
            regions: Vec::new(),
        }
    }
}

/// A proc or a thread: what runs on it right now.
#[derive(Debug)]
struct Resource {
    lane: LaneBuild,
    /// Start, goroutine, kind of the open slice.
    open: Option<(i64, i64, SliceKind)>,
}

impl Resource {
    fn new(store: &Arc<Store>) -> Self {
        Resource {
            lane: LaneBuild::new(store),
            open: None,
        }
    }

    fn open(&mut self, t: i64, g: i64, kind: SliceKind) {
        self.close(t);
        self.open = Some((t, g, kind));
    }

    /// Ends the open slice at `t` (an empty one is dropped: a goroutine
    /// that takes a thread and enters a system call at once).
    fn close(&mut self, t: i64) {
        if let Some((start, g, kind)) = self.open.take().filter(|&(start, ..)| start < t) {
            self.lane.push0(Slice {
                start,
                end: t,
                extra: g as u64,
                arg: 0,
                stack0: 0,
                stack1: 0,
                kind,
            });
        }
    }

    /// Closes the open slice if it is goroutine `g`'s.
    fn close_if(&mut self, t: i64, g: i64) {
        if matches!(self.open, Some((_, og, _)) if og == g) {
            self.close(t);
        }
    }
}

/// Where a range is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Gc,
    Proc(i64),
    Goroutine(i64),
}

struct Builder {
    store: Arc<Store>,
    base: Option<i64>,
    last: i64,
    strings: Strings,
    stacks: Stacks,
    gs: HashMap<i64, Goroutine>,
    procs: HashMap<i64, Resource>,
    threads: HashMap<i64, Resource>,
    layout: Layout,
    gc: LaneBuild,
    tasks: Vec<TaskInfo>,
    task_index: HashMap<u64, usize>,
    /// Regions and logs per task id (tasks may begin after, or never).
    task_counts: HashMap<u64, (u32, u32)>,
    /// Open ranges by (scope, name): start, stack, where drawn.
    ranges: HashMap<(ResourceId, u32), (i64, u32, Target)>,
    metrics: HashMap<&'static str, PointsBuilder>,
    running: u64,
    runnable: u64,
    goroutines: PointsBuilder,
    goroutines_runnable: PointsBuilder,
    events: u64,
    /// CPU samples: time, goroutine, stack.
    samples: Vec<(i64, i64, u32)>,
}

impl Builder {
    fn new(store: Arc<Store>) -> Self {
        Builder {
            gc: LaneBuild::new(&store),
            goroutines: PointsBuilder::new(&store),
            goroutines_runnable: PointsBuilder::new(&store),
            store,
            base: None,
            last: 0,
            strings: Strings::new(),
            stacks: Stacks::new(),
            gs: HashMap::new(),
            procs: HashMap::new(),
            threads: HashMap::new(),
            layout: Layout::default(),
            tasks: Vec::new(),
            task_index: HashMap::new(),
            task_counts: HashMap::new(),
            ranges: HashMap::new(),
            metrics: HashMap::new(),
            running: 0,
            runnable: 0,
            events: 0,
            samples: Vec::new(),
        }
    }

    fn event(&mut self, ev: &Event) {
        self.events += 1;
        let abs = ev.time().as_nanos();
        let base = *self.base.get_or_insert(abs);
        let t = abs - base;
        self.last = t;
        match ev.kind() {
            EventKind::Sync => self.stacks.next_generation(),
            EventKind::StateTransition => self.transition(ev, t),
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                self.range(ev, t)
            }
            EventKind::TaskBegin | EventKind::TaskEnd => self.task(ev, t),
            EventKind::RegionBegin | EventKind::RegionEnd => self.region(ev, t),
            EventKind::Log => self.log(ev, t),
            EventKind::StackSample => {
                let stack = self.stacks.intern(ev.stack(), &mut self.strings);
                self.samples.push((t, ev.goroutine().0, stack));
            }
            EventKind::Metric => {
                if let Some(m) = ev.metric() {
                    if let Some(v) = m.value.as_u64() {
                        let store = &self.store;
                        self.metrics
                            .entry(m.name)
                            .or_insert_with(|| PointsBuilder::new(store))
                            .push(t, v);
                    }
                }
            }
            EventKind::Label => {
                if let Some(l) = ev.label() {
                    if let ResourceId::Goroutine(g) = l.resource {
                        let id = self.strings.intern_trace(l.label);
                        goroutine(&mut self.gs, &self.store, g.0).label = id;
                    }
                }
            }
            _ => {}
        }
    }

    fn transition(&mut self, ev: &Event, t: i64) {
        let Some(st) = ev.state_transition() else {
            return;
        };
        let StateChange::Goroutine { id, from, to } = st.change else {
            return;
        };
        let g = id.0;
        let ev_stack = self.stacks.intern(ev.stack(), &mut self.strings);
        let t_stack = self.stacks.intern(st.stack, &mut self.strings);
        let reason = self.strings.intern_trace(st.reason);
        // The goroutine's own stack, to name it: the transition's, or for a
        // status event the event's.
        let own = if t_stack != 0 {
            t_stack
        } else if from == to || from == GoState::Undetermined {
            ev_stack
        } else {
            0
        };
        let outer = if own != 0 {
            self.stacks.frames(own).last().map_or(0, |f| f.func)
        } else {
            0
        };

        self.count(from, -1);
        self.count(to, 1);
        self.goroutines.push(t, self.running);
        self.goroutines_runnable.push(t, self.runnable);

        let info = goroutine(&mut self.gs, &self.store, g);
        if info.func == 0 {
            info.func = outer;
        }
        if from == GoState::NotExist {
            info.created = true;
            info.start_stack = own;
        } else if info.start_stack == 0 && !info.created {
            info.start_stack = own;
        }
        if let Some(kind) = state_kind(info.state) {
            info.lane.push0(Slice {
                start: info.since,
                end: t,
                extra: info.waker,
                arg: info.reason,
                stack0: info.stack0,
                stack1: ev_stack,
                kind,
            });
        }
        info.state = to;
        info.since = t;
        info.reason = reason;
        info.stack0 = t_stack;
        // Who made it runnable: the goroutine running on the thread that
        // unblocked (or created) it.
        info.waker =
            if to == GoState::Runnable && matches!(from, GoState::Waiting | GoState::NotExist) {
                (ev.goroutine().0.max(-1) + 2) as u64
            } else {
                0
            };
        let moves = self.layout.transition(id, from, to, ev.thread(), ev.proc());
        for mv in moves {
            match mv {
                Move::Take(g, Slot::Thread(m)) => self.thread(m).open(t, g.0, SliceKind::ThreadRun),
                Move::Take(g, Slot::Proc(p)) => self.proc(p).open(t, g.0, SliceKind::ProcRun),
                Move::Take(g, Slot::Syscall(m)) => {
                    self.thread(m).open(t, g.0, SliceKind::ThreadSyscall)
                }
                // Back from a system call, still on the thread: running on
                // it again.
                Move::Leave(g, Slot::Syscall(m)) if self.layout.thread_of(g) == Some(m) => {
                    self.thread(m).open(t, g.0, SliceKind::ThreadRun)
                }
                Move::Leave(g, Slot::Thread(m) | Slot::Syscall(m)) => {
                    self.thread(m).close_if(t, g.0)
                }
                Move::Leave(g, Slot::Proc(p)) => self.proc(p).close_if(t, g.0),
            }
        }
        if to == GoState::NotExist {
            if let Some(info) = self.gs.get_mut(&g) {
                // A goroutine id may be reused; its lane keeps the regions
                // of the first life only if they are closed now.
                close_regions(info, t);
                // Few goroutines come back: write out what is encoded.
                info.lane.row0.rest();
            }
        }
    }

    fn thread(&mut self, m: ThreadId) -> &mut Resource {
        resource(&mut self.threads, &self.store, m.0)
    }

    fn proc(&mut self, p: ProcId) -> &mut Resource {
        resource(&mut self.procs, &self.store, p.0)
    }

    fn count(&mut self, s: GoState, d: i64) {
        let c = match s {
            GoState::Running => &mut self.running,
            GoState::Runnable => &mut self.runnable,
            _ => return,
        };
        *c = c.saturating_add_signed(d);
    }

    fn range(&mut self, ev: &Event, t: i64) {
        let Some(r) = ev.range() else { return };
        let name = self.strings.intern(&r.name.to_string());
        let target = match r.scope {
            ResourceId::Goroutine(g) if !name_is_stw(self.strings.get(name)) => {
                Target::Goroutine(g.0)
            }
            ResourceId::Proc(p) if p.0 >= 0 => Target::Proc(p.0),
            _ => Target::Gc,
        };
        let key = (r.scope, name);
        match ev.kind() {
            EventKind::RangeBegin => {
                let stack = self.stacks.intern(ev.stack(), &mut self.strings);
                self.ranges.insert(key, (t, stack, target));
            }
            EventKind::RangeActive => {
                self.ranges.entry(key).or_insert((t, 0, target));
            }
            _ => {
                let (start, stack, target) = self.ranges.remove(&key).unwrap_or((0, 0, target));
                let s = Slice {
                    start,
                    end: t,
                    extra: 0,
                    arg: name,
                    stack0: stack,
                    stack1: 0,
                    kind: SliceKind::Range,
                };
                self.target(target).spans.push(s);
            }
        }
    }

    fn target(&mut self, target: Target) -> &mut LaneBuild {
        match target {
            Target::Gc => &mut self.gc,
            Target::Proc(p) => &mut resource(&mut self.procs, &self.store, p).lane,
            Target::Goroutine(g) => &mut goroutine(&mut self.gs, &self.store, g).lane,
        }
    }

    fn task(&mut self, ev: &Event, t: i64) {
        let Some(task) = ev.task() else { return };
        let stack = self.stacks.intern(ev.stack(), &mut self.strings);
        let ty = self.strings.intern_trace(task.ty);
        if ev.kind() == EventKind::TaskBegin {
            let i = self.tasks.len();
            self.tasks.push(TaskInfo {
                id: task.id.0,
                parent: task.parent.0,
                ty,
                start: Some(t),
                end: None,
                goroutine: ev.goroutine().0,
                end_goroutine: -1,
                row: 0,
                stack0: stack,
                stack1: 0,
                regions: 0,
                logs: 0,
            });
            self.task_index.insert(task.id.0, i);
        } else {
            match self.task_index.get(&task.id.0) {
                Some(&i) if self.tasks[i].end.is_none() => {
                    self.tasks[i].end = Some(t);
                    self.tasks[i].stack1 = stack;
                    self.tasks[i].end_goroutine = ev.goroutine().0;
                }
                _ => {
                    let i = self.tasks.len();
                    self.tasks.push(TaskInfo {
                        id: task.id.0,
                        parent: task.parent.0,
                        ty,
                        start: None,
                        end: Some(t),
                        goroutine: -1,
                        end_goroutine: ev.goroutine().0,
                        row: 0,
                        stack0: 0,
                        stack1: stack,
                        regions: 0,
                        logs: 0,
                    });
                    self.task_index.insert(task.id.0, i);
                }
            }
        }
    }

    fn region(&mut self, ev: &Event, t: i64) {
        let Some(r) = ev.region() else { return };
        let g = ev.goroutine().0;
        let stack = self.stacks.intern(ev.stack(), &mut self.strings);
        let ty = self.strings.intern_trace(r.ty);
        let task = r.task.0;
        let info = goroutine(&mut self.gs, &self.store, g);
        if ev.kind() == EventKind::RegionBegin {
            info.regions.push((t, ty, task, stack));
            self.task_counts.entry(task).or_default().0 += 1;
            return;
        }
        let found = info
            .regions
            .iter()
            .rposition(|&(_, rty, rtask, _)| rty == ty && rtask == task);
        let (start, stack0) = match found {
            Some(i) => {
                let (start, _, _, s) = info.regions.remove(i);
                (start, s)
            }
            None => (0, 0),
        };
        info.lane.spans.push(Slice {
            start,
            end: t,
            extra: task,
            arg: ty,
            stack0,
            stack1: stack,
            kind: SliceKind::Region,
        });
    }

    fn log(&mut self, ev: &Event, t: i64) {
        let Some(l) = ev.log() else { return };
        let mark = Mark {
            time: t,
            task: l.task.0,
            category: self.strings.intern_trace(l.category),
            message: self.strings.intern_trace(l.message),
            stack: self.stacks.intern(ev.stack(), &mut self.strings),
            kind: MarkKind::Log,
        };
        self.task_counts.entry(l.task.0).or_default().1 += 1;
        let (g, m) = (ev.goroutine().0, ev.thread().0);
        let lane = if g >= 0 {
            &mut goroutine(&mut self.gs, &self.store, g).lane
        } else if m >= 0 {
            &mut resource(&mut self.threads, &self.store, m).lane
        } else {
            &mut self.gc
        };
        lane.marks.push(mark);
    }

    fn finish(
        mut self,
        side: Side,
        title: String,
        version: String,
        stopped: Option<trace_reader::Error>,
    ) -> std::io::Result<Timeline> {
        let end = self.last;
        // Close what is open.
        for info in self.gs.values_mut() {
            if let Some(kind) = state_kind(info.state) {
                info.lane.push0(Slice {
                    start: info.since,
                    end,
                    extra: info.waker,
                    arg: info.reason,
                    stack0: info.stack0,
                    stack1: 0,
                    kind,
                });
            }
            close_regions(info, end);
        }
        for r in self.procs.values_mut().chain(self.threads.values_mut()) {
            r.close(end);
        }
        let open: Vec<_> = self.ranges.drain().collect();
        for ((_, name), (start, stack, target)) in open {
            self.target(target).spans.push(Slice {
                start,
                end,
                extra: 0,
                arg: name,
                stack0: stack,
                stack1: 0,
                kind: SliceKind::Range,
            });
        }

        let mut lanes = Vec::new();
        let store = Arc::clone(&self.store);
        let gc = std::mem::replace(&mut self.gc, LaneBuild::new(&store));
        let gc_rows = pack(gc.spans, &store);
        lanes.push(Lane {
            kind: LaneKind::Gc,
            name: "GC".into(),
            label: String::new(),
            stack: 0,
            created: false,
            rows: if gc_rows.is_empty() {
                vec![RowBuilder::new(&store).finish()]
            } else {
                gc_rows
            },
            marks: sorted_marks(gc.marks),
        });

        // Tasks.
        for t in &mut self.tasks {
            let (regions, logs) = self.task_counts.get(&t.id).copied().unwrap_or_default();
            t.regions = regions;
            t.logs = logs;
        }
        let task_slices: Vec<Slice> = self
            .tasks
            .iter()
            .map(|t| Slice {
                start: t.start.unwrap_or(0),
                end: t.end.unwrap_or(end),
                extra: t.id,
                arg: t.ty,
                stack0: t.stack0,
                stack1: t.stack1,
                kind: SliceKind::Task,
            })
            .collect();
        let (task_rows, rows_of) = pack_indexed(task_slices, &store);
        for (t, row) in self.tasks.iter_mut().zip(rows_of) {
            t.row = row;
        }
        if !self.tasks.is_empty() {
            lanes.push(Lane {
                kind: LaneKind::Tasks,
                name: "Tasks".into(),
                label: String::new(),
                stack: 0,
                created: false,
                rows: task_rows,
                marks: Vec::new(),
            });
        }

        let mut procs: Vec<_> = self.procs.drain().collect();
        procs.sort_by_key(|(id, _)| *id);
        for (id, r) in procs {
            lanes.push(lane(
                LaneKind::Proc(id),
                format!("Proc {id}"),
                String::new(),
                r.lane,
                &store,
            ));
        }
        let mut threads: Vec<_> = self.threads.drain().collect();
        threads.sort_by_key(|(id, _)| *id);
        for (id, r) in threads {
            if id < 0 {
                continue;
            }
            lanes.push(lane(
                LaneKind::Thread(id),
                format!("M{id}"),
                String::new(),
                r.lane,
                &store,
            ));
        }
        let mut gs: Vec<_> = self.gs.drain().collect();
        gs.sort_by_key(|(id, _)| *id);
        let mut goroutine_lanes = Vec::with_capacity(gs.len());
        for (id, info) in gs {
            if id < 0 {
                continue;
            }
            goroutine_lanes.push((id, lanes.len() as u32));
            let func = self.strings.get(info.func);
            let name = if func.is_empty() {
                format!("G{id}")
            } else {
                format!("G{id} {func}")
            };
            let label = self.strings.get(info.label).to_string();
            let mut l = lane(LaneKind::Goroutine(id), name, label, info.lane, &store);
            l.stack = info.start_stack;
            l.created = info.created;
            lanes.push(l);
        }

        // Charts.
        let mut charts = Vec::new();
        let mut heap = Vec::new();
        for (metric, name) in [
            ("/memory/classes/heap/objects:bytes", "in use"),
            ("/gc/heap/goal:bytes", "goal"),
        ] {
            if let Some(points) = self.metrics.remove(metric) {
                heap.push(Series {
                    name: name.into(),
                    points: points.finish(),
                });
            }
        }
        if !heap.is_empty() {
            charts.push(Chart {
                name: "Heap".into(),
                unit: "bytes",
                series: heap,
            });
        }
        if !self.goroutines.is_empty() {
            charts.push(Chart {
                name: "Goroutines".into(),
                unit: "count",
                series: vec![
                    Series {
                        name: "running".into(),
                        points: self.goroutines.finish(),
                    },
                    Series {
                        name: "runnable".into(),
                        points: self.goroutines_runnable.finish(),
                    },
                ],
            });
        }
        if let Some(points) = self.metrics.remove("/sched/gomaxprocs:threads") {
            charts.push(Chart {
                name: "GOMAXPROCS".into(),
                unit: "count",
                series: vec![Series {
                    name: "GOMAXPROCS".into(),
                    points: points.finish(),
                }],
            });
        }

        let task_by_id: HashMap<u64, u32> = self
            .task_index
            .iter()
            .filter_map(|(&id, &i)| Some((id, u32::try_from(i).ok()?)))
            .collect();
        store.flush()?;
        let task_details = task_details(&lanes, &self.tasks, &task_by_id)?;

        let diagnosis = side.doctor.finish(stopped.as_ref());
        let utilization = side.mmu.finish();
        let windows = log_windows(end, MMU_POINTS);
        let mmu = MmuCurve {
            values: utilization.mmu(&windows),
            windows,
            mean: utilization.mean(),
            steps: utilization.steps().count() as u64,
        };

        let mut samples: Vec<CpuSample> = std::mem::take(&mut self.samples)
            .into_iter()
            .map(|(time, g, stack)| CpuSample {
                time,
                lane: goroutine_lanes
                    .binary_search_by_key(&g, |&(id, _)| id)
                    .map_or(NO_LANE, |i| goroutine_lanes[i].1),
                stack,
            })
            .collect();
        samples.sort_by_key(|s| s.time);

        let stats = Stats {
            events: self.events,
            slices: lanes.iter().map(|l| l.slice_count() as u64).sum(),
            marks: lanes.iter().map(|l| l.marks.len() as u64).sum(),
            stacks: self.stacks.len() as u64,
            strings: self.strings.len() as u64,
            samples: samples.len() as u64,
            stored_bytes: store.len(),
            on_disk: store.on_disk(),
        };
        Ok(Timeline {
            title,
            base: self.base.unwrap_or(0),
            span: end,
            version,
            lanes,
            tasks: self.tasks,
            task_details,
            task_by_id,
            diagnosis,
            stopped,
            mmu,
            charts,
            samples,
            goroutine_lanes,
            strings: self.strings,
            stacks: self.stacks,
            stats,
        })
    }
}

fn goroutine<'a>(
    gs: &'a mut HashMap<i64, Goroutine>,
    store: &Arc<Store>,
    g: i64,
) -> &'a mut Goroutine {
    gs.entry(g).or_insert_with(|| Goroutine::new(store))
}

fn resource<'a>(
    map: &'a mut HashMap<i64, Resource>,
    store: &Arc<Store>,
    id: i64,
) -> &'a mut Resource {
    map.entry(id).or_insert_with(|| Resource::new(store))
}

/// The details of every task, from one scan over the finished lanes: per
/// task, the earliest [`MAX_TASK_ITEMS`] logs and regions (a bounded max-heap
/// by time each while scanning), its children and its goroutines.
fn task_details(
    lanes: &[Lane],
    tasks: &[TaskInfo],
    by_id: &HashMap<u64, u32>,
) -> std::io::Result<Vec<TaskDetail>> {
    /// Per task while scanning: the kept logs and regions by time, and the
    /// last goroutine lane counted.
    #[derive(Default)]
    struct Scan {
        logs: BinaryHeap<(i64, u32, u32)>,
        regions: BinaryHeap<(i64, u32, u32, u32)>,
        last_lane: Option<u32>,
    }
    fn keep<T: Ord>(heap: &mut BinaryHeap<T>, item: T) {
        if heap.len() < MAX_TASK_ITEMS {
            heap.push(item);
        } else if heap.peek().is_some_and(|top| item < *top) {
            heap.pop();
            heap.push(item);
        }
    }
    let mut res = vec![TaskDetail::default(); tasks.len()];
    let mut scan: HashMap<u32, Scan> = HashMap::new();
    for (i, t) in tasks.iter().enumerate() {
        if t.goroutine >= 0 {
            res[i].goroutines.push(t.goroutine);
            res[i].n_goroutines = 1;
        }
    }
    for (lane_idx, lane) in lanes.iter().enumerate() {
        let Ok(lane_idx) = u32::try_from(lane_idx) else {
            break;
        };
        let g = match lane.kind {
            LaneKind::Goroutine(g) => Some(g),
            _ => None,
        };
        let touch = |task: u32, scan: &mut Scan, res: &mut [TaskDetail]| {
            let (Some(g), Some(d)) = (g, res.get_mut(task as usize)) else {
                return;
            };
            if scan.last_lane == Some(lane_idx) {
                return;
            }
            scan.last_lane = Some(lane_idx);
            if tasks[task as usize].goroutine == g {
                return;
            }
            d.n_goroutines = d.n_goroutines.saturating_add(1);
            if d.goroutines.len() < MAX_TASK_ITEMS {
                d.goroutines.push(g);
            }
        };
        for (mark_idx, m) in lane.marks.iter().enumerate() {
            let Some(&task) = by_id.get(&m.task) else {
                continue;
            };
            let Ok(mark_idx) = u32::try_from(mark_idx) else {
                break;
            };
            let sc = scan.entry(task).or_default();
            keep(&mut sc.logs, (m.time, lane_idx, mark_idx));
            touch(task, sc, &mut res);
        }
        if g.is_none() {
            continue;
        }
        for (row_idx, row) in lane.rows.iter().enumerate().skip(1) {
            row.for_each(|slice_idx, s| {
                if s.kind != SliceKind::Region {
                    return;
                }
                let Some(&task) = by_id.get(&s.extra) else {
                    return;
                };
                let (Ok(row_idx), Ok(slice_idx)) =
                    (u32::try_from(row_idx), u32::try_from(slice_idx))
                else {
                    return;
                };
                let sc = scan.entry(task).or_default();
                keep(&mut sc.regions, (s.start, lane_idx, row_idx, slice_idx));
                touch(task, sc, &mut res);
            })?;
        }
    }
    for (task, sc) in scan {
        let d = &mut res[task as usize];
        d.logs = sc
            .logs
            .into_sorted_vec()
            .into_iter()
            .map(|(_, l, m)| (l, m))
            .collect();
        d.regions = sc
            .regions
            .into_sorted_vec()
            .into_iter()
            .map(|(_, l, r, s)| (l, r, s))
            .collect();
    }
    for (i, t) in tasks.iter().enumerate() {
        let Some(&p) = by_id.get(&t.parent) else {
            continue;
        };
        let (Some(d), Ok(i)) = (res.get_mut(p as usize), u32::try_from(i)) else {
            continue;
        };
        if p == i {
            continue;
        }
        d.n_children = d.n_children.saturating_add(1);
        if d.children.len() < MAX_TASK_ITEMS {
            d.children.push(i);
        }
    }
    for d in &mut res {
        d.logs.shrink_to_fit();
        d.regions.shrink_to_fit();
    }
    Ok(res)
}

fn lane(kind: LaneKind, name: String, label: String, b: LaneBuild, store: &Arc<Store>) -> Lane {
    let mut rows = vec![b.row0.finish()];
    rows.extend(pack(b.spans, store));
    Lane {
        kind,
        name,
        label,
        stack: 0,
        created: false,
        rows,
        marks: sorted_marks(b.marks),
    }
}

fn sorted_marks(mut marks: Vec<Mark>) -> Vec<Mark> {
    marks.sort_by_key(|m| m.time);
    marks
}

fn close_regions(info: &mut Goroutine, t: i64) {
    for (start, ty, task, stack) in info.regions.drain(..) {
        info.lane.spans.push(Slice {
            start,
            end: t,
            extra: task,
            arg: ty,
            stack0: stack,
            stack1: 0,
            kind: SliceKind::Region,
        });
    }
}

fn name_is_stw(name: &str) -> bool {
    name.starts_with("stop-the-world")
}

fn state_kind(s: GoState) -> Option<SliceKind> {
    Some(match s {
        GoState::Running => SliceKind::Running,
        GoState::Runnable => SliceKind::Runnable,
        GoState::Waiting => SliceKind::Waiting,
        GoState::Syscall => SliceKind::Syscall,
        _ => return None,
    })
}

/// Packs possibly overlapping spans into rows, first fit in order of start
/// (longest first among equal starts), so properly nested spans land at
/// their nesting depth.
fn pack(spans: Vec<Slice>, store: &Arc<Store>) -> Vec<Row> {
    pack_indexed(spans, store).0
}

/// [`pack`], also returning the row of each input span.
fn pack_indexed(spans: Vec<Slice>, store: &Arc<Store>) -> (Vec<Row>, Vec<u32>) {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].start, Reverse(spans[i].end)));
    let mut rows: Vec<RowBuilder> = Vec::new();
    let mut row_of = vec![0u32; spans.len()];
    // Rows in use, by end; free rows, lowest first.
    let mut busy: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
    let mut free: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
    for i in order {
        let s = spans[i];
        while let Some(&Reverse((e, r))) = busy.peek() {
            if e > s.start {
                break;
            }
            busy.pop();
            free.push(Reverse(r));
        }
        let r = match free.pop() {
            Some(Reverse(r)) => r,
            None => {
                rows.push(RowBuilder::new(store));
                (rows.len() - 1) as u32
            }
        };
        rows[r as usize].push(s);
        row_of[i] = r;
        busy.push(Reverse((s.end.max(s.start), r)));
    }
    (rows.into_iter().map(RowBuilder::finish).collect(), row_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: i64, end: i64) -> Slice {
        Slice {
            start,
            end,
            extra: 0,
            arg: 0,
            stack0: 0,
            stack1: 0,
            kind: SliceKind::Region,
        }
    }

    #[test]
    fn pack_nests_by_depth() {
        let rows = pack(
            vec![
                span(5, 6),
                span(0, 10),
                span(1, 2),
                span(12, 20),
                span(13, 14),
            ],
            &Store::in_memory(),
        );
        let starts: Vec<Vec<i64>> = rows
            .iter()
            .map(|r| r.slices().unwrap().iter().map(|s| s.start).collect())
            .collect();
        assert_eq!(starts, vec![vec![0, 12], vec![1, 5, 13]]);
    }

    #[test]
    fn pack_rows_do_not_overlap() {
        let spans: Vec<Slice> = (0..200)
            .map(|i| span((i * 37) % 101, (i * 37) % 101 + (i % 13) + 1))
            .collect();
        for row in pack(spans, &Store::in_memory()) {
            for w in row.slices().unwrap().windows(2) {
                assert!(w[0].end <= w[1].start, "{w:?}");
            }
        }
    }

    /// A task with more regions and logs than [`MAX_TASK_ITEMS`] keeps the
    /// earliest of each, and its answer is bounded too.
    #[test]
    fn task_details_are_capped() {
        let n = 3 * MAX_TASK_ITEMS as i64;
        let task = TaskInfo {
            id: 7,
            parent: u64::MAX,
            ty: 0,
            start: Some(0),
            end: Some(10 * n),
            goroutine: 1,
            end_goroutine: 1,
            row: 0,
            stack0: 0,
            stack1: 0,
            regions: n as u32,
            logs: n as u32,
        };
        // Regions latest first over two rows, so that keeping the first ones
        // met would keep the wrong ones.
        let region = |i: i64| Slice {
            extra: 7,
            ..span(10 * (n - i), 10 * (n - i) + 5)
        };
        let mut rows = [Vec::new(), Vec::new(), Vec::new()];
        for i in 0..n {
            rows[1 + (i % 2) as usize].push(region(i));
        }
        let rows: Vec<Row> = rows
            .iter_mut()
            .map(|row| {
                row.sort_by_key(|s| s.start);
                Row::from_slices(row)
            })
            .collect();
        let marks = (0..n)
            .map(|i| Mark {
                time: 10 * i,
                task: 7,
                category: 0,
                message: 0,
                stack: 0,
                kind: MarkKind::Log,
            })
            .collect();
        let lanes = vec![
            Lane {
                kind: LaneKind::Goroutine(1),
                name: "G1".into(),
                label: String::new(),
                stack: 0,
                created: false,
                rows: rows.clone(),
                marks,
            },
            Lane {
                kind: LaneKind::Goroutine(2),
                name: "G2".into(),
                label: String::new(),
                stack: 0,
                created: false,
                rows,
                marks: Vec::new(),
            },
        ];
        let tasks = vec![task];
        let by_id: HashMap<u64, u32> = [(7, 0)].into_iter().collect();
        let d = &task_details(&lanes, &tasks, &by_id).unwrap()[0];
        assert_eq!(d.logs.len(), MAX_TASK_ITEMS);
        assert_eq!(d.regions.len(), MAX_TASK_ITEMS);
        assert_eq!(d.goroutines, vec![1, 2]);
        let start = |&(l, r, i): &(u32, u32, u32)| {
            lanes[l as usize].rows[r as usize]
                .get(i as usize)
                .unwrap()
                .unwrap()
                .start
        };
        let starts: Vec<i64> = d.regions.iter().map(start).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "in order of time");
        // The earliest: two lanes of the same regions, so each start twice.
        assert_eq!(*starts.last().unwrap(), 10 * (MAX_TASK_ITEMS as i64 / 2));
        let times: Vec<i64> = d
            .logs
            .iter()
            .map(|&(l, m)| lanes[l as usize].marks[m as usize].time)
            .collect();
        assert_eq!(
            times,
            (0..MAX_TASK_ITEMS as i64)
                .map(|i| 10 * i)
                .collect::<Vec<_>>()
        );

        let tl = Timeline {
            title: String::new(),
            base: 0,
            span: 10 * n,
            version: String::new(),
            lanes,
            tasks,
            task_details: vec![d.clone()],
            task_by_id: by_id,
            diagnosis: Default::default(),
            stopped: None,
            mmu: MmuCurve::default(),
            charts: Vec::new(),
            samples: Vec::new(),
            goroutine_lanes: Vec::new(),
            strings: Strings::new(),
            stacks: Stacks::new(),
            stats: Stats::default(),
        };
        let json = crate::json::task_json(&tl, 7).unwrap().unwrap();
        assert!(json.len() < 64 << 10, "{} bytes", json.len());
        assert!(json.contains(&format!("\"nLogs\":{n},")), "{json}");
        assert!(crate::json::task_json(&tl, 8).unwrap().is_none());
    }
}
