//! Conversion to Chrome trace-event JSON, which Perfetto UI
//! (<https://ui.perfetto.dev>) and `chrome://tracing` open.
//!
//! The output is written while the trace is read: each event of the trace
//! becomes at most a few JSON events, written at once, and the converter
//! keeps only what is open (running goroutines, open regions and tasks), so
//! memory stays flat whatever the size of the trace.
//!
//! Tracks (`pid`/`tid` pairs):
//!
//! | process | one track per | slices (`B`/`E`) | also |
//! | --- | --- | --- | --- |
//! | 0 `Runtime` | `GC`, `STW` | GC mark phases, stop-the-world pauses | counters (`C`) for metrics: GOMAXPROCS, heap, heap goal |
//! | 1 `Procs` | proc (P) | the goroutine running on it | |
//! | 2 `Threads` | thread (M) | the goroutine executing on it, with its system calls nested | |
//! | 3 `Goroutines` | goroutine | its user regions, nested, and GC mark assists | instants (`i`) for logs |
//! | 4 `Tasks` | | | user tasks as async slices (`b`/`e`, id = task id), since tasks cross threads |
//!
//! Slices on one track always nest: every slice is begun and ended by the
//! converter in stack order, and whatever is still open at the end of the
//! trace (or of a goroutine, for its regions) is closed there, innermost
//! first. Times are microseconds from the first event (`ts`, with three
//! decimals: nanosecond precision).
//!
//! ```
//! use trace_analysis::chrome::ChromeWriter;
//! use trace_reader::Reader;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-nestedtasks.trace");
//! let mut json = Vec::new();
//! let mut writer = ChromeWriter::new(&mut json);
//! for event in Reader::new(std::fs::File::open(path)?)? {
//!     writer.event(&event?)?;
//! }
//! writer.finish()?;
//! assert!(json.starts_with(b"{"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, Write};

use hashbrown::{HashMap, HashSet};
use trace_reader::{
    Event, EventKind, GoId, GoState, ProcId, RangeName, ResourceId, StateChange, TaskId, ThreadId,
};

use crate::intern::{Interner, Sym};
use crate::json;
use crate::layout::{Layout, Move, Slot};

const PID_RUNTIME: u64 = 0;
const PID_PROCS: u64 = 1;
const PID_THREADS: u64 = 2;
const PID_GOROUTINES: u64 = 3;
const PID_TASKS: u64 = 4;
const TID_GC: u64 = 0;
const TID_STW: u64 = 1;

/// Flush the output buffer when it grows past this.
const FLUSH_AT: usize = 1 << 20;

/// What is open on a goroutine's own track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nested {
    Region,
    Assist,
}

/// A live goroutine.
#[derive(Debug, Default)]
struct GInfo {
    name: Option<Sym>,
    /// The name last given to the goroutine's track, if any.
    track_name: Option<Option<Sym>>,
    stack: Vec<Nested>,
    /// Types of regions whose begin is not in the trace, with their end
    /// times, innermost first: written when the goroutine ends, from the
    /// start of the trace, outermost first.
    beginless: Vec<(Sym, i64)>,
}

/// Streams a trace's events out as Chrome trace-event JSON.
///
/// Call [`ChromeWriter::event`] for every event, in order, then
/// [`ChromeWriter::finish`], which closes what is open and the JSON
/// document.
#[derive(Debug)]
pub struct ChromeWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    names: Interner,
    t0: Option<i64>,
    last: i64,
    goroutines: HashMap<GoId, GInfo>,
    layout: Layout,
    procs_named: HashSet<ProcId>,
    threads_named: HashSet<ThreadId>,
    tasks_open: HashMap<TaskId, Sym>,
    gc_open: bool,
    stw_open: bool,
    events: u64,
}

impl<W: Write> trace_reader::Consume for ChromeWriter<W> {
    type Error = io::Error;

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        ChromeWriter::event(self, ev)
    }
}

impl<W: Write> ChromeWriter<W> {
    /// A converter writing to `out` (buffer it: writes are of about 1 MiB,
    /// but a `BufWriter` does no harm).
    pub fn new(out: W) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        buf.extend_from_slice(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
        let mut w = ChromeWriter {
            out,
            buf,
            names: Interner::default(),
            t0: None,
            last: 0,
            goroutines: HashMap::new(),
            layout: Layout::default(),
            procs_named: HashSet::new(),
            threads_named: HashSet::new(),
            tasks_open: HashMap::new(),
            gc_open: false,
            stw_open: false,
            events: 0,
        };
        for (pid, name) in [
            (PID_RUNTIME, "Runtime"),
            (PID_PROCS, "Procs"),
            (PID_THREADS, "Threads"),
            (PID_GOROUTINES, "Goroutines"),
            (PID_TASKS, "Tasks"),
        ] {
            w.meta(pid, None, "process_name", "name", name);
            w.meta_sort(pid, None, "process_sort_index", pid as i64);
        }
        w.meta(PID_RUNTIME, Some(TID_GC), "thread_name", "name", "GC");
        w.meta(PID_RUNTIME, Some(TID_STW), "thread_name", "name", "STW");
        w
    }

    /// How many JSON events have been written so far.
    pub fn events_written(&self) -> u64 {
        self.events
    }

    /// Starts a JSON event: `{"ph":"X","pid":P` with the separator before.
    fn begin(&mut self, ph: &str, pid: u64) {
        if self.events > 0 {
            self.buf.extend_from_slice(b",\n");
        }
        self.events += 1;
        self.buf.extend_from_slice(b"{\"ph\":\"");
        self.buf.extend_from_slice(ph.as_bytes());
        self.buf.extend_from_slice(b"\",\"pid\":");
        json::uint(&mut self.buf, pid);
    }

    fn tid(&mut self, tid: u64) {
        self.buf.extend_from_slice(b",\"tid\":");
        json::uint(&mut self.buf, tid);
    }

    fn ts(&mut self, t: i64) {
        self.buf.extend_from_slice(b",\"ts\":");
        json::micros(&mut self.buf, t - self.t0.unwrap_or(t));
    }

    fn name(&mut self, name: &[u8]) {
        self.buf.extend_from_slice(b",\"name\":");
        json::string(&mut self.buf, name);
    }

    fn meta(&mut self, pid: u64, tid: Option<u64>, what: &str, key: &str, value: &str) {
        self.begin("M", pid);
        if let Some(t) = tid {
            self.tid(t);
        }
        self.name(what.as_bytes());
        self.buf.extend_from_slice(b",\"args\":{");
        json::string(&mut self.buf, key.as_bytes());
        self.buf.push(b':');
        json::string(&mut self.buf, value.as_bytes());
        self.buf.extend_from_slice(b"}}");
    }

    fn meta_sort(&mut self, pid: u64, tid: Option<u64>, what: &str, index: i64) {
        self.begin("M", pid);
        if let Some(t) = tid {
            self.tid(t);
        }
        self.name(what.as_bytes());
        self.buf.extend_from_slice(b",\"args\":{\"sort_index\":");
        json::int(&mut self.buf, index);
        self.buf.extend_from_slice(b"}}");
    }

    /// A `B` event.
    fn slice_begin(&mut self, pid: u64, tid: u64, t: i64, name: &[u8], cat: &str) {
        self.begin("B", pid);
        self.tid(tid);
        self.ts(t);
        self.name(name);
        self.buf.extend_from_slice(b",\"cat\":\"");
        self.buf.extend_from_slice(cat.as_bytes());
        self.buf.extend_from_slice(b"\"}");
    }

    /// An `E` event.
    fn slice_end(&mut self, pid: u64, tid: u64, t: i64) {
        self.begin("E", pid);
        self.tid(tid);
        self.ts(t);
        self.buf.push(b'}');
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn proc_track(&mut self, p: ProcId) -> u64 {
        let tid = p.0 as u64;
        if self.procs_named.insert(p) {
            self.meta(
                PID_PROCS,
                Some(tid),
                "thread_name",
                "name",
                &format!("P{}", p.0),
            );
            self.meta_sort(PID_PROCS, Some(tid), "thread_sort_index", p.0);
        }
        tid
    }

    fn thread_track(&mut self, m: ThreadId) -> u64 {
        let tid = m.0 as u64;
        if self.threads_named.insert(m) {
            self.meta(
                PID_THREADS,
                Some(tid),
                "thread_name",
                "name",
                &format!("M{}", m.0),
            );
            self.meta_sort(PID_THREADS, Some(tid), "thread_sort_index", m.0);
        }
        tid
    }

    fn goroutine_label(&self, g: GoId) -> String {
        match self.goroutines.get(&g).and_then(|i| i.name) {
            Some(n) if n != Sym::EMPTY => format!("G{} {}", g.0, self.names.get(n)),
            _ => format!("G{}", g.0),
        }
    }

    fn goroutine_track(&mut self, g: GoId) -> u64 {
        let tid = g.0 as u64;
        let info = self.goroutines.entry(g).or_default();
        let name = info.name;
        if info.track_name != Some(name) {
            let first = info.track_name.is_none();
            info.track_name = Some(name);
            if first {
                self.meta_sort(PID_GOROUTINES, Some(tid), "thread_sort_index", g.0);
            }
            // Named again when the start function becomes known; the last
            // name wins.
            let label = self.goroutine_label(g);
            self.meta(PID_GOROUTINES, Some(tid), "thread_name", "name", &label);
        }
        tid
    }

    /// Takes in the next event, writing what it begins or ends.
    pub fn event(&mut self, ev: &Event) -> io::Result<()> {
        let t = ev.time().as_nanos();
        if self.t0.is_none() {
            self.t0 = Some(t);
        }
        self.last = t;
        match ev.kind() {
            EventKind::StateTransition => self.transition(ev, t),
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                self.range(ev, t)
            }
            EventKind::TaskBegin | EventKind::TaskEnd => self.task(ev, t),
            EventKind::RegionBegin => {
                if let Some(r) = ev.region() {
                    let g = ev.goroutine();
                    let ty = self.names.intern(r.ty.as_bytes());
                    let tid = self.goroutine_track(g);
                    self.goroutines
                        .entry(g)
                        .or_default()
                        .stack
                        .push(Nested::Region);
                    let name = self.names.get(ty).clone();
                    self.slice_begin(PID_GOROUTINES, tid, t, name.as_bytes(), "region");
                }
            }
            EventKind::RegionEnd => {
                if let Some(r) = ev.region() {
                    let g = ev.goroutine();
                    let tid = self.goroutine_track(g);
                    let info = self.goroutines.entry(g).or_default();
                    if let Some(i) = info.stack.iter().rposition(|&n| n == Nested::Region) {
                        // The innermost region ended (whatever its type, as
                        // in Go); what is open inside it ends first.
                        let n = info.stack.len() - i;
                        info.stack.truncate(i);
                        for _ in 0..n {
                            self.slice_end(PID_GOROUTINES, tid, t);
                        }
                    } else {
                        let ty = self.names.intern(r.ty.as_bytes());
                        info.beginless.push((ty, t));
                    }
                }
            }
            EventKind::Log => {
                if let Some(l) = ev.log() {
                    let tid = self.goroutine_track(ev.goroutine());
                    self.begin("i", PID_GOROUTINES);
                    self.tid(tid);
                    self.ts(t);
                    let name: &[u8] = if l.category.is_empty() {
                        b"log"
                    } else {
                        l.category.as_bytes()
                    };
                    self.name(name);
                    self.buf
                        .extend_from_slice(b",\"s\":\"t\",\"cat\":\"log\",\"args\":{\"message\":");
                    json::string(&mut self.buf, l.message.as_bytes());
                    self.buf.extend_from_slice(b",\"task\":");
                    json::uint(&mut self.buf, l.task.0);
                    self.buf.extend_from_slice(b"}}");
                }
            }
            EventKind::Metric => {
                if let Some(m) = ev.metric() {
                    let name = match m.name {
                        "/sched/gomaxprocs:threads" => "GOMAXPROCS",
                        "/memory/classes/heap/objects:bytes" => "heap (bytes)",
                        "/gc/heap/goal:bytes" => "heap goal (bytes)",
                        other => other,
                    };
                    self.begin("C", PID_RUNTIME);
                    self.ts(t);
                    self.name(name.as_bytes());
                    self.buf.extend_from_slice(b",\"args\":{\"value\":");
                    json::uint(&mut self.buf, m.value.as_u64().unwrap_or(0));
                    self.buf.extend_from_slice(b"}}");
                }
            }
            _ => {}
        }
        self.flush_if_full()
    }

    fn transition(&mut self, ev: &Event, t: i64) {
        let Some(st) = ev.state_transition() else {
            return;
        };
        let StateChange::Goroutine { id, from, to } = st.change else {
            return;
        };
        if from != to && matches!(from, GoState::NotExist | GoState::Undetermined) {
            // A new goroutine (or one seen for the first time).
            self.end_goroutine(id, t);
            self.goroutines.insert(id, GInfo::default());
        }
        let info = self.goroutines.entry(id).or_default();
        if info.name.is_none() {
            if let Some(func) = st.start_function() {
                info.name = Some(self.names.intern(func.as_bytes()));
            }
        }
        for mv in self.layout.transition(id, from, to, ev.thread(), ev.proc()) {
            self.place(mv, t);
        }
        if to == GoState::NotExist && from != to {
            self.end_goroutine(id, t);
        }
    }

    /// Draws a goroutine leaving or taking a thread or proc.
    fn place(&mut self, mv: Move, t: i64) {
        match mv {
            Move::Take(g, Slot::Thread(m)) => {
                let tid = self.thread_track(m);
                let label = self.goroutine_label(g);
                self.slice_begin(PID_THREADS, tid, t, label.as_bytes(), "goroutine");
            }
            Move::Take(g, Slot::Proc(p)) => {
                let tid = self.proc_track(p);
                let label = self.goroutine_label(g);
                self.slice_begin(PID_PROCS, tid, t, label.as_bytes(), "goroutine");
            }
            Move::Take(_, Slot::Syscall(m)) => {
                let tid = self.thread_track(m);
                self.slice_begin(PID_THREADS, tid, t, b"syscall", "syscall");
            }
            Move::Leave(_, Slot::Thread(m) | Slot::Syscall(m)) => {
                self.slice_end(PID_THREADS, m.0 as u64, t)
            }
            Move::Leave(_, Slot::Proc(p)) => self.slice_end(PID_PROCS, p.0 as u64, t),
        }
    }

    /// Closes what a goroutine has open on its own track at `t` and forgets
    /// it (its threads and procs are the layout's).
    fn end_goroutine(&mut self, g: GoId, t: i64) {
        let Some(info) = self.goroutines.get(&g) else {
            return;
        };
        if !info.stack.is_empty() || !info.beginless.is_empty() {
            let tid = self.goroutine_track(g);
            let info = &self.goroutines[&g];
            let (open, beginless) = (info.stack.len(), info.beginless.clone());
            for _ in 0..open {
                self.slice_end(PID_GOROUTINES, tid, t);
            }
            // Regions that began before the trace: from its start, outermost
            // (last ended) first.
            let t0 = self.t0.unwrap_or(t);
            for &(ty, _) in beginless.iter().rev() {
                let name = self.names.get(ty).clone();
                self.slice_begin(PID_GOROUTINES, tid, t0, name.as_bytes(), "region");
            }
            for &(_, end) in &beginless {
                self.slice_end(PID_GOROUTINES, tid, end);
            }
        }
        self.goroutines.remove(&g);
    }

    fn range(&mut self, ev: &Event, t: i64) {
        let Some(r) = ev.range() else { return };
        let kind = ev.kind();
        match r.name {
            RangeName::GcConcurrentMark => match kind {
                EventKind::RangeEnd if self.gc_open => {
                    self.gc_open = false;
                    self.slice_end(PID_RUNTIME, TID_GC, t);
                }
                EventKind::RangeBegin | EventKind::RangeActive if !self.gc_open => {
                    self.gc_open = true;
                    self.slice_begin(PID_RUNTIME, TID_GC, t, b"GC concurrent mark phase", "gc");
                }
                _ => {}
            },
            RangeName::StopTheWorld(what) => match kind {
                EventKind::RangeEnd if self.stw_open => {
                    self.stw_open = false;
                    self.slice_end(PID_RUNTIME, TID_STW, t);
                }
                EventKind::RangeBegin if !self.stw_open => {
                    self.stw_open = true;
                    let mut name = b"stop-the-world (".to_vec();
                    name.extend_from_slice(what.as_bytes());
                    name.push(b')');
                    self.slice_begin(PID_RUNTIME, TID_STW, t, &name, "gc");
                }
                _ => {}
            },
            RangeName::GcMarkAssist => {
                let ResourceId::Goroutine(g) = r.scope else {
                    return;
                };
                let open = self
                    .goroutines
                    .get(&g)
                    .is_some_and(|i| i.stack.contains(&Nested::Assist));
                match kind {
                    EventKind::RangeEnd if open => {
                        let tid = self.goroutine_track(g);
                        let stack = &mut self.goroutines.get_mut(&g).expect("open").stack;
                        let i = stack
                            .iter()
                            .rposition(|&n| n == Nested::Assist)
                            .expect("open");
                        let n = stack.len() - i;
                        stack.truncate(i);
                        for _ in 0..n {
                            self.slice_end(PID_GOROUTINES, tid, t);
                        }
                    }
                    EventKind::RangeBegin | EventKind::RangeActive if !open => {
                        let tid = self.goroutine_track(g);
                        self.goroutines
                            .entry(g)
                            .or_default()
                            .stack
                            .push(Nested::Assist);
                        self.slice_begin(PID_GOROUTINES, tid, t, b"GC mark assist", "gc");
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn task(&mut self, ev: &Event, t: i64) {
        let Some(task) = ev.task() else { return };
        let begin = ev.kind() == EventKind::TaskBegin;
        let ty = self.names.intern(task.ty.as_bytes());
        if begin {
            if self.tasks_open.contains_key(&task.id) {
                return;
            }
            self.tasks_open.insert(task.id, ty);
        } else if self.tasks_open.remove(&task.id).is_none() {
            // Began before the trace: from its start.
            let t0 = self.t0.unwrap_or(t);
            self.async_event("b", task.id, t0, ty, None);
        }
        let parent = begin.then_some(task.parent);
        self.async_event(if begin { "b" } else { "e" }, task.id, t, ty, parent);
    }

    fn async_event(&mut self, ph: &str, id: TaskId, t: i64, ty: Sym, parent: Option<TaskId>) {
        self.begin(ph, PID_TASKS);
        self.tid(0);
        self.ts(t);
        let name = self.names.get(ty).clone();
        self.name(name.as_bytes());
        self.buf.extend_from_slice(b",\"cat\":\"task\",\"id\":");
        json::uint(&mut self.buf, id.0);
        if let Some(p) = parent {
            self.buf.extend_from_slice(b",\"args\":{\"id\":");
            json::uint(&mut self.buf, id.0);
            if p != trace_reader::NO_TASK {
                self.buf.extend_from_slice(b",\"parent\":");
                json::uint(&mut self.buf, p.0);
            }
            self.buf.push(b'}');
        }
        self.buf.push(b'}');
    }

    /// Closes everything still open at the last event's time, ends the
    /// JSON document and flushes; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let t = self.last;
        for mv in self.layout.finish() {
            self.place(mv, t);
        }
        let mut gs: Vec<GoId> = self.goroutines.keys().copied().collect();
        gs.sort();
        for g in gs {
            self.end_goroutine(g, t);
        }
        let mut tasks: Vec<(TaskId, Sym)> = self.tasks_open.drain().collect();
        tasks.sort();
        for (id, ty) in tasks {
            self.async_event("e", id, t, ty, None);
        }
        if self.stw_open {
            self.slice_end(PID_RUNTIME, TID_STW, t);
        }
        if self.gc_open {
            self.slice_end(PID_RUNTIME, TID_GC, t);
        }
        self.buf.extend_from_slice(b"\n]}\n");
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.out)
    }
}
