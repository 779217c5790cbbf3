//! Whole-trace statistics: what `trace-tool stats` prints.
//!
//! One pass over the events gives the trace's duration and event counts,
//! the goroutines, procs, threads and generations seen, garbage collection
//! (cycles, mark phase time, stop-the-world pauses), user tasks and regions
//! by type with their latency distributions, and Go's goroutine analysis
//! grouped by start function (from [`crate::summary`]).
//!
//! Task latencies are exact: a task's latency is the time from its
//! `TaskBegin` to its `TaskEnd`, wherever (in whichever generation and on
//! whichever thread) they happen. Tasks that began but never ended are
//! counted as unfinished, and tasks whose begin is not in the trace as
//! ended without a begin; neither enters the latency distribution. Regions
//! likewise, per goroutine, following Go's pairing of region ends with the
//! innermost open region.
//!
//! Quantiles use the nearest-rank method: the p-quantile of n sorted values
//! is the value of rank ⌈p·n⌉, a value that actually occurred.
//!
//! ```
//! use trace_analysis::stats;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-nestedtasks.trace");
//! let stats = stats::stats(std::fs::File::open(path)?)?;
//! for task in &stats.tasks {
//!     let p99 = task.latency.quantile(0.99);
//!     println!("{}: {} done, p99 {:?}", task.ty, task.latency.count(), p99);
//! }
//! assert!(stats.events > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hashbrown::{HashMap, HashSet};
use trace_reader::{
    Event, EventKind, GoState, ProcId, RangeName, ResourceId, StateChange, TaskId, ThreadId,
};

use crate::intern::{Interner, Sym};
use crate::json::{self, Object};
use crate::summary::{nanos, RegionEnd, RegionStart, RegionSummary, Summarizer, Summary};

/// A set of durations, sorted, with order statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distribution {
    sorted: Vec<Duration>,
}

impl Distribution {
    /// The distribution of `values`.
    pub fn new(mut values: Vec<Duration>) -> Self {
        values.sort_unstable();
        Distribution { sorted: values }
    }

    /// The values, ascending.
    pub fn values(&self) -> &[Duration] {
        &self.sorted
    }

    /// How many values.
    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Their sum.
    pub fn total(&self) -> Duration {
        self.sorted.iter().sum()
    }

    /// The smallest.
    pub fn min(&self) -> Option<Duration> {
        self.sorted.first().copied()
    }

    /// The largest.
    pub fn max(&self) -> Option<Duration> {
        self.sorted.last().copied()
    }

    /// The mean, rounded down to the nanosecond.
    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.count()).ok().filter(|&n| n > 0)?;
        Some(self.total() / n)
    }

    /// The `q`-quantile (`q` in 0..=1) by the nearest-rank method: the value
    /// of rank ⌈q·n⌉ (at least 1) among the n values in ascending order.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.sorted.len();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
        Some(self.sorted[rank.clamp(1, n) - 1])
    }
}

/// Tasks or regions of one type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanStats {
    /// The type (`trace.NewTask`'s or `trace.StartRegion`'s argument). Empty
    /// for task ends whose begin, and thus type, is not in the trace.
    pub ty: Arc<str>,
    /// Durations of the complete ones: begin and end both in the trace.
    pub latency: Distribution,
    /// How many began and did not end within the trace (for regions: also
    /// those whose goroutine exited inside them).
    pub unfinished: usize,
    /// The longest time an unfinished one had been open when the trace (or
    /// its goroutine) ended: a lower bound of its duration.
    pub unfinished_open: Option<Duration>,
    /// How many ended without their begin in the trace.
    pub without_begin: usize,
    /// The slowest complete one, or the one open longest if that is
    /// longer: what a latency bound names when it is exceeded.
    pub slowest: Option<Instance>,
}

/// One task or region: which, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    /// The task's id; for a region, the id of the task it belongs to (0:
    /// the background task).
    pub task: u64,
    /// For a region, the goroutine it ran on.
    pub goroutine: Option<i64>,
    /// When it began, in ns of the trace's clock.
    pub start_ns: i64,
    /// How long it took (at least, if `unfinished`).
    pub duration: Duration,
    /// Whether it was still open when the trace (or its goroutine) ended.
    pub unfinished: bool,
}

impl SpanStats {
    /// All of them: complete, unfinished and ended without a begin.
    pub fn count(&self) -> usize {
        self.latency.count() + self.unfinished + self.without_begin
    }
}

/// Goroutines with the same start function (Go's goroutine groups).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoroutineGroup {
    /// The start function; empty if no stack of the goroutines was seen.
    pub name: Arc<str>,
    /// How many goroutines.
    pub count: usize,
    /// Total execution time.
    pub exec: Duration,
    /// Total scheduler wait (runnable, not running).
    pub sched_wait: Duration,
    /// Blocked on channels, `select` or `sync` (the reasons of the `sync`
    /// profile).
    pub sync_block: Duration,
    /// Blocked on the network.
    pub net_block: Duration,
    /// Blocked for any other reason (sleeps, GC, …).
    pub other_block: Duration,
    /// In system calls.
    pub syscall: Duration,
    /// In system calls that blocked.
    pub syscall_block: Duration,
    /// Assisting the garbage collector (`GC mark assist` ranges).
    pub gc_assist: Duration,
    /// Total time in the trace.
    pub total: Duration,
}

/// Stop-the-world pauses of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StwStats {
    /// The kind, e.g. `GC mark termination`.
    pub kind: Arc<str>,
    /// Their durations.
    pub pauses: Distribution,
}

/// Garbage collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcStats {
    /// GC cycles whose mark phase is in the trace (wholly or in part).
    pub cycles: usize,
    /// Time in the concurrent mark phase.
    pub mark_time: Duration,
    /// Stop-the-world pauses, all kinds.
    pub stw: Distribution,
    /// Stop-the-world pauses by kind, sorted by kind.
    pub stw_by_kind: Vec<StwStats>,
}

/// Everything [`stats`] computes.
#[derive(Debug, Clone, Default)]
pub struct TraceStats {
    /// The first event's time, in nanoseconds.
    pub start_ns: i64,
    /// The wall-clock time of the first event, from the clock snapshot of
    /// the first `Sync` event (Go 1.25+ traces only; `None` for older ones,
    /// or if the snapshot's time is not representable).
    pub start_wall: Option<SystemTime>,
    /// The last event's time, in nanoseconds.
    pub end_ns: i64,
    /// From the first event to the last.
    pub duration: Duration,
    /// How many events.
    pub events: u64,
    /// How many events of each kind, by Go's kind name, sorted by name.
    pub events_by_kind: Vec<(&'static str, u64)>,
    /// Generations: a `Sync` event begins each, and one more ends the
    /// trace.
    pub generations: u64,
    /// Distinct goroutine ids.
    pub goroutines: usize,
    /// Goroutines created during the trace.
    pub goroutines_created: u64,
    /// Distinct procs (Ps).
    pub procs: usize,
    /// Distinct threads (Ms).
    pub threads: usize,
    /// The last `GOMAXPROCS` value seen.
    pub gomaxprocs: Option<u64>,
    /// The largest heap (`/memory/classes/heap/objects:bytes`) seen.
    pub max_heap_bytes: Option<u64>,
    /// Garbage collection.
    pub gc: GcStats,
    /// User tasks by type, sorted by type.
    pub tasks: Vec<SpanStats>,
    /// User regions by type, sorted by type.
    pub regions: Vec<SpanStats>,
    /// Goroutines by start function, most execution time first.
    pub goroutine_groups: Vec<GoroutineGroup>,
    /// The per-goroutine summaries the groups are made of.
    pub summary: Summary,
    /// What limits what the trace can tell ([`crate::doctor`]).
    pub diagnosis: crate::doctor::Diagnosis,
    /// Whether a Rust program wrote the trace with our recorder (its
    /// threads and async tasks are goroutines whose start function is a
    /// synthetic frame in `<thread>` or `<task>`): the Go runtime's parts
    /// (GC, network poller, assists) are then absent by nature.
    pub from_rust_recorder: bool,
}

/// Durations of tasks or regions of one type, being collected.
#[derive(Debug, Default)]
struct SpanAcc {
    done: Vec<Duration>,
    unfinished: usize,
    unfinished_open: Option<Duration>,
    without_begin: usize,
    slowest: Option<Instance>,
}

impl SpanAcc {
    fn unfinished(&mut self, open: Duration, which: Instance) {
        self.unfinished += 1;
        self.unfinished_open = self.unfinished_open.max(Some(open));
        self.note(Instance {
            duration: open,
            unfinished: true,
            ..which
        });
    }

    fn done(&mut self, d: Duration, which: Instance) {
        self.done.push(d);
        self.note(Instance {
            duration: d,
            unfinished: false,
            ..which
        });
    }

    /// Keeps the slowest instance (the first of equals).
    fn note(&mut self, i: Instance) {
        if self.slowest.is_none_or(|s| i.duration > s.duration) {
            self.slowest = Some(i);
        }
    }
}

/// An instance of a task or region before its duration is known.
fn instance(task: u64, goroutine: Option<i64>, start_ns: i64) -> Instance {
    Instance {
        task,
        goroutine,
        start_ns,
        duration: Duration::ZERO,
        unfinished: false,
    }
}

const KINDS: [EventKind; 14] = [
    EventKind::Sync,
    EventKind::Metric,
    EventKind::Label,
    EventKind::StackSample,
    EventKind::RangeBegin,
    EventKind::RangeActive,
    EventKind::RangeEnd,
    EventKind::TaskBegin,
    EventKind::TaskEnd,
    EventKind::RegionBegin,
    EventKind::RegionEnd,
    EventKind::Log,
    EventKind::StateTransition,
    EventKind::Experimental,
];

/// Collects [`TraceStats`] from the event stream.
///
/// Feed every event, in order, to [`StatsBuilder::event`], then
/// [`StatsBuilder::finish`]. Memory grows with the number of goroutines and
/// of tasks and regions (one duration each), not with the number of events.
#[derive(Debug, Default)]
pub struct StatsBuilder {
    summarizer: Summarizer,
    names: Interner,
    first: Option<i64>,
    last: i64,
    start_wall: Option<SystemTime>,
    counts: [u64; KINDS.len() + 1],
    created: u64,
    procs: HashSet<ProcId>,
    threads: HashSet<ThreadId>,
    gomaxprocs: Option<u64>,
    max_heap: Option<u64>,
    open_tasks: HashMap<TaskId, (i64, Sym)>,
    tasks: HashMap<Sym, SpanAcc>,
    regions: HashMap<Sym, SpanAcc>,
    gc_cycles: usize,
    gc_open: Option<i64>,
    gc_mark: i64,
    stw_open: Option<(i64, Sym)>,
    stw: HashMap<Sym, Vec<Duration>>,
    doctor: crate::doctor::Doctor,
    from_rust: bool,
}

impl StatsBuilder {
    /// A builder that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in the next event.
    pub fn event(&mut self, ev: &Event) {
        self.doctor.event(ev);
        if !self.from_rust && ev.kind() == EventKind::StateTransition {
            // Our recorder gives every goroutine a synthetic start frame:
            // a goroutine's first appearance (its creation, or its status
            // in a generation) is enough to look at.
            let root = ev
                .state_transition()
                .filter(|st| {
                    matches!(
                        st.goroutine(),
                        Some((GoState::NotExist | GoState::Undetermined, _))
                    )
                })
                .and_then(|st| st.stack)
                .and_then(|s| s.frames().last());
            if let Some(f) = root {
                let file = f.file.as_bytes();
                self.from_rust = file == b"<thread>" || file == b"<task>";
            }
        }
        let t = ev.time().as_nanos();
        self.first.get_or_insert(t);
        self.last = t;
        let kind = ev.kind();
        let i = KINDS.iter().position(|&k| k == kind).unwrap_or(KINDS.len());
        if i == 0 && self.counts[0] == 0 {
            // The first sync: its clock snapshot dates the trace.
            self.start_wall = ev
                .sync()
                .and_then(|s| s.clock_snapshot)
                .and_then(|c| wall_at(c.wall()?, self.first?.checked_sub(c.trace.as_nanos())?));
        }
        self.counts[i] += 1;
        if ev.thread().is_some() {
            self.threads.insert(ev.thread());
        }
        if ev.proc().is_some() {
            self.procs.insert(ev.proc());
        }
        for region in self.summarizer.event(ev) {
            record_region(&mut self.regions, &mut self.names, region, t);
        }
        match kind {
            EventKind::StateTransition => match ev.state_transition().map(|s| s.change) {
                Some(StateChange::Proc { id, .. }) if id.is_some() => {
                    self.procs.insert(id);
                }
                Some(StateChange::Goroutine {
                    from: trace_reader::GoState::NotExist,
                    ..
                }) => self.created += 1,
                _ => {}
            },
            EventKind::Metric => {
                if let Some(m) = ev.metric() {
                    let v = m.value.as_u64();
                    match m.name {
                        "/sched/gomaxprocs:threads" => self.gomaxprocs = v,
                        "/memory/classes/heap/objects:bytes" => {
                            self.max_heap = self.max_heap.max(v);
                        }
                        _ => {}
                    }
                }
            }
            EventKind::TaskBegin => {
                if let Some(task) = ev.task() {
                    let ty = self.names.intern(task.ty.as_bytes());
                    self.open_tasks.entry(task.id).or_insert((t, ty));
                }
            }
            EventKind::TaskEnd => {
                if let Some(task) = ev.task() {
                    match self.open_tasks.remove(&task.id) {
                        Some((begin, ty)) => {
                            self.tasks
                                .entry(ty)
                                .or_default()
                                .done(nanos(t - begin), instance(task.id.0, None, begin));
                        }
                        None => {
                            let ty = self.names.intern(task.ty.as_bytes());
                            self.tasks.entry(ty).or_default().without_begin += 1;
                        }
                    }
                }
            }
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                self.range(ev, kind, t);
            }
            _ => {}
        }
    }

    fn range(&mut self, ev: &Event, kind: EventKind, t: i64) {
        let Some(r) = ev.range() else { return };
        match (r.name, kind) {
            (RangeName::GcConcurrentMark, EventKind::RangeEnd) => {
                if let Some(begin) = self.gc_open.take() {
                    self.gc_mark += t - begin;
                }
            }
            (RangeName::GcConcurrentMark, _) if self.gc_open.is_none() => {
                self.gc_open = Some(t);
                self.gc_cycles += 1;
            }
            (RangeName::StopTheWorld(what), EventKind::RangeBegin)
                if matches!(r.scope, ResourceId::Goroutine(_)) =>
            {
                self.stw_open = Some((t, self.names.intern(what.as_bytes())));
            }
            (RangeName::StopTheWorld(_), EventKind::RangeEnd) => {
                if let Some((begin, what)) = self.stw_open.take() {
                    self.stw.entry(what).or_default().push(nanos(t - begin));
                }
            }
            _ => {}
        }
    }

    /// The statistics of everything seen.
    pub fn finish(self) -> TraceStats {
        self.finish_stopped(None)
    }

    /// The statistics of everything seen before the reader stopped with
    /// `error` (which the doctor reports).
    pub fn finish_stopped(mut self, error: Option<&trace_reader::Error>) -> TraceStats {
        let end = self.last;
        let summary = self.summarizer.finish();
        for r in &summary.unfinished_regions {
            record_region(&mut self.regions, &mut self.names, r, end);
        }
        for (id, (begin, ty)) in self.open_tasks.drain() {
            self.tasks
                .entry(ty)
                .or_default()
                .unfinished(nanos(end - begin), instance(id.0, None, begin));
        }
        if let Some(begin) = self.gc_open {
            self.gc_mark += end - begin;
        }
        let names = &self.names;
        let spans = |m: HashMap<Sym, SpanAcc>| {
            let mut v: Vec<SpanStats> = m
                .into_iter()
                .map(|(ty, a)| SpanStats {
                    ty: names.get(ty).clone(),
                    latency: Distribution::new(a.done),
                    unfinished: a.unfinished,
                    unfinished_open: a.unfinished_open,
                    without_begin: a.without_begin,
                    slowest: a.slowest,
                })
                .collect();
            v.sort_by(|a, b| a.ty.cmp(&b.ty));
            v
        };
        let tasks = spans(self.tasks);
        let regions = spans(self.regions);
        let mut stw_by_kind: Vec<StwStats> = self
            .stw
            .into_iter()
            .map(|(k, v)| StwStats {
                kind: names.get(k).clone(),
                pauses: Distribution::new(v),
            })
            .collect();
        stw_by_kind.sort_by(|a, b| a.kind.cmp(&b.kind));
        let all_stw = stw_by_kind
            .iter()
            .flat_map(|s| s.pauses.values().iter().copied())
            .collect();
        let mut events_by_kind: Vec<(&'static str, u64)> = KINDS
            .iter()
            .zip(self.counts)
            .filter(|&(_, n)| n > 0)
            .map(|(k, n)| (k.name(), n))
            .collect();
        events_by_kind.sort();
        let start = self.first.unwrap_or(0);
        TraceStats {
            start_ns: start,
            start_wall: self.start_wall,
            end_ns: end,
            duration: nanos(end - start),
            events: self.counts.iter().sum(),
            events_by_kind,
            generations: self.counts[0].saturating_sub(1),
            goroutines: summary.goroutines.len(),
            goroutines_created: self.created,
            procs: self.procs.len(),
            threads: self.threads.len(),
            gomaxprocs: self.gomaxprocs,
            max_heap_bytes: self.max_heap,
            gc: GcStats {
                cycles: self.gc_cycles,
                mark_time: nanos(self.gc_mark),
                stw: Distribution::new(all_stw),
                stw_by_kind,
            },
            tasks,
            regions,
            goroutine_groups: goroutine_groups(&summary),
            summary,
            diagnosis: self.doctor.finish(error),
            from_rust_recorder: self.from_rust,
        }
    }
}

fn record_region(
    regions: &mut HashMap<Sym, SpanAcc>,
    names: &mut Interner,
    r: &RegionSummary,
    now: i64,
) {
    let ty = names.intern(r.ty.as_bytes());
    let which = |b: trace_reader::Time| instance(r.task.0, Some(r.goroutine.0), b.as_nanos());
    match (r.start, r.end) {
        // Not a user region: a goroutine inheriting its creator's task.
        (RegionStart::Inherited(_), _) => {}
        (RegionStart::Began(b), RegionEnd::Ended(e)) => {
            regions
                .entry(ty)
                .or_default()
                .done(nanos(e.nanos_since(b)), which(b));
        }
        (RegionStart::Began(b), RegionEnd::GoroutineEnded(e)) => {
            regions
                .entry(ty)
                .or_default()
                .unfinished(nanos(e.nanos_since(b)), which(b));
        }
        (RegionStart::Began(b), _) => {
            regions
                .entry(ty)
                .or_default()
                .unfinished(nanos(now - b.as_nanos()), which(b));
        }
        (RegionStart::BeforeTrace, _) => regions.entry(ty).or_default().without_begin += 1,
    }
}

fn goroutine_groups(summary: &Summary) -> Vec<GoroutineGroup> {
    let mut groups: HashMap<&str, GoroutineGroup> = HashMap::new();
    for g in &summary.goroutines {
        let s = &g.stats;
        let e = groups.entry(&g.name).or_insert_with(|| GoroutineGroup {
            name: g.name.clone(),
            ..GoroutineGroup::default()
        });
        let sync = s.block_time_where(is_sync_reason);
        let net = s.block_time_where(|r| r == "network");
        let all: Duration = s.block_by_reason.iter().map(|(_, d)| *d).sum();
        e.count += 1;
        e.exec += s.exec;
        e.sched_wait += s.sched_wait;
        e.sync_block += sync;
        e.net_block += net;
        e.other_block += all.saturating_sub(sync + net);
        e.syscall += s.syscall;
        e.syscall_block += s.syscall_block;
        e.gc_assist += s.range("GC mark assist");
        e.total += s.total;
    }
    let mut v: Vec<GoroutineGroup> = groups.into_values().collect();
    v.sort_by(|a, b| b.exec.cmp(&a.exec).then_with(|| a.name.cmp(&b.name)));
    v
}

/// Whether a block reason is synchronization, as the `sync` profile counts
/// it: channels, `select`, `sync` primitives.
pub fn is_sync_reason(reason: &str) -> bool {
    reason.contains("chan") || reason.contains("sync") || reason.contains("select")
}

/// The statistics of a whole trace.
///
/// A trace that turns out to be broken is an error, even after some events.
pub fn stats(input: impl Read) -> Result<TraceStats, trace_reader::Error> {
    let mut builder = StatsBuilder::new();
    trace_reader::Reader::new(input)?.feed(&mut builder)?;
    Ok(builder.finish())
}

/// [`stats`] that keeps what came before the trace broke off (cut short, or
/// malformed further on): the statistics of every event the reader yielded
/// before its error, whose doctor reports it, and the error. Still an error
/// if nothing but the first generation's sync event came before it.
pub fn stats_partial(
    input: impl Read,
) -> Result<(TraceStats, Option<trace_reader::Error>), trace_reader::Error> {
    let mut builder = StatsBuilder::new();
    match trace_reader::Reader::new(input)?.feed(&mut builder) {
        Ok(_) => Ok((builder.finish(), None)),
        Err(trace_reader::Stop::Trace(e)) if builder.doctor.saw_more_than_syncs() => {
            Ok((builder.finish_stopped(Some(&e)), Some(e)))
        }
        Err(trace_reader::Stop::Trace(e)) => Err(e),
        Err(trace_reader::Stop::Consumer(never)) => match never {},
    }
}

impl trace_reader::Consume for StatsBuilder {
    type Error = std::convert::Infallible;

    fn event(&mut self, ev: &Event) -> Result<(), Self::Error> {
        StatsBuilder::event(self, ev);
        Ok(())
    }
}

/// `wall` moved by `offset_ns`.
fn wall_at(wall: SystemTime, offset_ns: i64) -> Option<SystemTime> {
    let d = Duration::from_nanos(offset_ns.unsigned_abs());
    if offset_ns >= 0 {
        wall.checked_add(d)
    } else {
        wall.checked_sub(d)
    }
}

/// Nanoseconds since the Unix epoch (negative before it), if they fit.
pub fn unix_nanos(t: SystemTime) -> Option<i64> {
    let ns = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).ok()?,
        Err(e) => -i128::try_from(e.duration().as_nanos()).ok()?,
    };
    i64::try_from(ns).ok()
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn distribution(out: &mut Vec<u8>, d: &Distribution, quantiles: &[(&str, f64)]) {
    let mut o = Object::new(out);
    o.uint("count", d.count() as u64);
    o.uint("total_ns", ns(d.total()));
    if let (Some(min), Some(max), Some(mean)) = (d.min(), d.max(), d.mean()) {
        o.uint("min_ns", ns(min));
        o.uint("mean_ns", ns(mean));
        for &(name, q) in quantiles {
            o.uint(name, ns(d.quantile(q).unwrap_or_default()));
        }
        o.uint("max_ns", ns(max));
    }
    o.end();
}

const QUANTILES: [(&str, f64); 3] = [("p50_ns", 0.5), ("p90_ns", 0.9), ("p99_ns", 0.99)];

fn span_stats(out: &mut Vec<u8>, s: &SpanStats) {
    let mut o = Object::new(out);
    o.str("type", &s.ty);
    o.uint("count", s.count() as u64);
    o.raw("latency", |out| distribution(out, &s.latency, &QUANTILES));
    o.uint("unfinished", s.unfinished as u64);
    if let Some(open) = s.unfinished_open {
        o.uint("unfinished_max_open_ns", ns(open));
    }
    o.uint("without_begin", s.without_begin as u64);
    o.end();
}

impl TraceStats {
    /// The statistics as one JSON object (durations in nanoseconds, with
    /// `_ns` suffixes); its layout is stable, for machines.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(4096);
        let mut o = Object::new(&mut out);
        o.int("start_ns", self.start_ns);
        if let Some(wall) = self.start_wall.and_then(unix_nanos) {
            o.int("start_wall_unix_ns", wall);
        }
        o.int("end_ns", self.end_ns)
            .uint("duration_ns", ns(self.duration))
            .uint("events", self.events)
            .raw("from_rust_recorder", |out| {
                out.extend_from_slice(if self.from_rust_recorder {
                    b"true"
                } else {
                    b"false"
                });
            })
            .raw("doctor", |out| {
                json::array(out, &self.diagnosis.findings, |out, f| {
                    json::string(out, f.to_string().as_bytes());
                });
            })
            .raw("events_by_kind", |out| {
                let mut k = Object::new(out);
                for &(name, n) in &self.events_by_kind {
                    k.uint(name, n);
                }
                k.end();
            })
            .uint("generations", self.generations)
            .uint("goroutines", self.goroutines as u64)
            .uint("goroutines_created", self.goroutines_created)
            .uint("procs", self.procs as u64)
            .uint("threads", self.threads as u64);
        if let Some(v) = self.gomaxprocs {
            o.uint("gomaxprocs", v);
        }
        if let Some(v) = self.max_heap_bytes {
            o.uint("max_heap_bytes", v);
        }
        o.raw("gc", |out| {
            let mut g = Object::new(out);
            g.uint("cycles", self.gc.cycles as u64)
                .uint("mark_ns", ns(self.gc.mark_time))
                .raw("stw", |out| distribution(out, &self.gc.stw, &QUANTILES))
                .raw("stw_by_kind", |out| {
                    json::array(out, &self.gc.stw_by_kind, |out, s| {
                        let mut k = Object::new(out);
                        k.str("kind", &s.kind);
                        k.raw("pauses", |out| distribution(out, &s.pauses, &QUANTILES));
                        k.end();
                    })
                })
                .end();
        });
        o.raw("tasks", |out| json::array(out, &self.tasks, span_stats));
        o.raw("regions", |out| json::array(out, &self.regions, span_stats));
        o.raw("goroutine_groups", |out| {
            json::array(out, &self.goroutine_groups, |out, g| {
                Object::new(out)
                    .str("name", &g.name)
                    .uint("count", g.count as u64)
                    .uint("exec_ns", ns(g.exec))
                    .uint("sched_wait_ns", ns(g.sched_wait))
                    .uint("sync_block_ns", ns(g.sync_block))
                    .uint("net_block_ns", ns(g.net_block))
                    .uint("other_block_ns", ns(g.other_block))
                    .uint("syscall_ns", ns(g.syscall))
                    .uint("syscall_block_ns", ns(g.syscall_block))
                    .uint("gc_assist_ns", ns(g.gc_assist))
                    .uint("total_ns", ns(g.total))
                    .end();
            })
        });
        o.end();
        String::from_utf8(out).expect("the JSON writer writes UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ns: u64) -> Duration {
        Duration::from_nanos(ns)
    }

    #[test]
    fn nearest_rank_quantiles() {
        let dist = Distribution::new((1..=100).rev().map(d).collect());
        assert_eq!(dist.quantile(0.5), Some(d(50)));
        assert_eq!(dist.quantile(0.99), Some(d(99)));
        assert_eq!(dist.quantile(1.0), Some(d(100)));
        assert_eq!(dist.quantile(0.0), Some(d(1)));
        assert_eq!(dist.min(), Some(d(1)));
        assert_eq!(dist.mean(), Some(d(50)));
        let two = Distribution::new(vec![d(10), d(20)]);
        assert_eq!(two.quantile(0.5), Some(d(10)));
        assert_eq!(two.quantile(0.51), Some(d(20)));
        assert_eq!(Distribution::default().quantile(0.5), None);
        assert_eq!(Distribution::default().mean(), None);
    }
}
