//! Exports a Go execution trace as Parquet tables, for SQL engines (DuckDB
//! on a laptop, Spark or Trino over object storage) to query many traces at
//! once.
//!
//! [`Exporter`] is a [`trace_reader::Consume`]r: it is fed the reader's
//! events in one pass and writes, into one directory, a file per table:
//!
//! | file | a row per | columns |
//! | --- | --- | --- |
//! | `traces.parquet` | trace | `trace`, `version`, `events`, `duration_ns`, `start_unix_ns` (null without a wall clock) |
//! | `events.parquet` | event | `trace`, `time_ns`, `kind`, `goroutine`, `proc`, `thread` (null when none), `stack` |
//! | `goroutine_states.parquet` | stretch of one goroutine in one state | `trace`, `goroutine`, `state`, `start_ns`, `end_ns`, `duration_ns`, `reason`, `stack`, `proc`, `thread` (where it began) |
//! | `tasks.parquet` | task | `trace`, `id`, `parent`, `type`, `start_ns`, `end_ns`, `duration_ns` (null when the begin or end is not in the trace), `goroutine` (that began it) |
//! | `regions.parquet` | region | `trace`, `task`, `type`, `goroutine`, `depth`, `start_ns`, `end_ns`, `duration_ns` (null as for tasks) |
//! | `logs.parquet` | log | `trace`, `time_ns`, `task`, `goroutine`, `category`, `message`, `stack` |
//! | `stacks.parquet` | frame | `trace`, `stack`, `depth` (0: innermost), `pc`, `func`, `file`, `line` |
//!
//! Times are nanoseconds since the trace's first event; `trace` is a name
//! the caller gives (the file name, say), so that tables of many traces can
//! be read together. Stack ids are the exporter's own, the same for equal
//! stacks across generations; `stack` columns are null for no stack.
//! Goroutine states still open at the end of the trace end at its last
//! event; tasks and regions open at the end have a null `end_ns`.
//!
//! Memory stays flat: rows are written in row groups of 65,536, and the
//! exporter keeps only what is open (goroutine states, tasks, regions) and
//! the distinct stacks' and strings' ids.
//!
//! The p99 latency of a task type across a directory of exports, in
//! DuckDB:
//!
//! ```sql
//! SELECT type, count(*) AS n, quantile_disc(duration_ns, 0.99) / 1e6 AS p99_ms
//! FROM 'exports/*/tasks.parquet'
//! WHERE duration_ns IS NOT NULL
//! GROUP BY type ORDER BY p99_ms DESC;
//! ```
//!
//! ```
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let dir = std::env::temp_dir().join(format!("trace-parquet-doc-{}", std::process::id()));
//! let mut reader = trace_reader::Reader::new(std::fs::File::open(path)?)?;
//! let summary = trace_parquet::export(&mut reader, &dir, "annotations")?;
//! assert!(summary.rows("tasks") > 0);
//! assert!(dir.join("tasks.parquet").is_file());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod table;

use std::io::Read;
use std::path::Path;

use hashbrown::HashMap;
use parquet::data_type::ByteArray;
use trace_reader::{
    Event, EventKind, GoId, GoState, ProcId, Reader, Stack, StateChange, TaskId, ThreadId,
};

use table::{col, opt, Column, Kind, Table};

/// What can go wrong while exporting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be created or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The Parquet writer failed.
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The trace is broken (the events before the problem were exported).
    #[error(transparent)]
    Trace(#[from] trace_reader::Error),
}

const TRACES: &[Column] = &[
    col("trace", Kind::Str),
    col("version", Kind::Str),
    col("events", Kind::I64),
    col("duration_ns", Kind::I64),
    opt("start_unix_ns", Kind::I64),
];
const EVENTS: &[Column] = &[
    col("trace", Kind::Str),
    col("time_ns", Kind::I64),
    col("kind", Kind::Str),
    opt("goroutine", Kind::I64),
    opt("proc", Kind::I64),
    opt("thread", Kind::I64),
    opt("stack", Kind::I64),
];
const STATES: &[Column] = &[
    col("trace", Kind::Str),
    col("goroutine", Kind::I64),
    col("state", Kind::Str),
    col("start_ns", Kind::I64),
    col("end_ns", Kind::I64),
    col("duration_ns", Kind::I64),
    col("reason", Kind::Str),
    opt("stack", Kind::I64),
    opt("proc", Kind::I64),
    opt("thread", Kind::I64),
];
const TASKS: &[Column] = &[
    col("trace", Kind::Str),
    col("id", Kind::I64),
    opt("parent", Kind::I64),
    col("type", Kind::Str),
    opt("start_ns", Kind::I64),
    opt("end_ns", Kind::I64),
    opt("duration_ns", Kind::I64),
    opt("goroutine", Kind::I64),
];
const REGIONS: &[Column] = &[
    col("trace", Kind::Str),
    col("task", Kind::I64),
    col("type", Kind::Str),
    col("goroutine", Kind::I64),
    col("depth", Kind::I32),
    opt("start_ns", Kind::I64),
    opt("end_ns", Kind::I64),
    opt("duration_ns", Kind::I64),
];
const LOGS: &[Column] = &[
    col("trace", Kind::Str),
    col("time_ns", Kind::I64),
    col("task", Kind::I64),
    opt("goroutine", Kind::I64),
    col("category", Kind::Str),
    col("message", Kind::Str),
    opt("stack", Kind::I64),
];
const STACKS: &[Column] = &[
    col("trace", Kind::Str),
    col("stack", Kind::I64),
    col("depth", Kind::I32),
    col("pc", Kind::I64),
    col("func", Kind::Str),
    col("file", Kind::Str),
    col("line", Kind::I64),
];

/// The tables, in the order [`Summary::tables`] lists them.
const TABLES: [(&str, &[Column]); 7] = [
    ("traces", TRACES),
    ("events", EVENTS),
    ("goroutine_states", STATES),
    ("tasks", TASKS),
    ("regions", REGIONS),
    ("logs", LOGS),
    ("stacks", STACKS),
];

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Events read.
    pub events: u64,
    /// Each table's name (its file is `NAME.parquet`) and rows.
    pub tables: Vec<(&'static str, u64)>,
}

impl Summary {
    /// The rows written to table `name` (0 for an unknown name).
    pub fn rows(&self, name: &str) -> u64 {
        self.tables
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |&(_, r)| r)
    }
}

/// Reads `reader` to its end and writes its tables into `dir` (created if
/// missing; files of the same names are replaced), with `trace` as the
/// trace's name in every row.
///
/// # Errors
///
/// [`Error::Io`] or [`Error::Parquet`] when writing fails;
/// [`Error::Trace`] for a broken trace, after the tables of the events
/// before the problem were written.
pub fn export<R: Read>(reader: &mut Reader<R>, dir: &Path, trace: &str) -> Result<Summary, Error> {
    let version = reader.version().to_string();
    let mut exporter = Exporter::create(dir, trace, &version)?;
    match reader.feed(&mut exporter) {
        Ok(_) => exporter.finish(),
        Err(trace_reader::Stop::Consumer(e)) => Err(e),
        Err(trace_reader::Stop::Trace(e)) => {
            exporter.finish()?;
            Err(Error::Trace(e))
        }
    }
}

/// An interned string's id.
type Sym = u32;

/// Strings seen, each stored once, as the column values rows share.
#[derive(Debug, Default)]
struct Strings {
    ids: HashMap<Box<[u8]>, Sym>,
    all: Vec<ByteArray>,
}

impl Strings {
    fn intern(&mut self, s: &[u8]) -> Sym {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.all.len() as Sym;
        self.all.push(ByteArray::from(s.to_vec()));
        self.ids.insert(s.into(), id);
        id
    }

    fn get(&self, id: Sym) -> &ByteArray {
        &self.all[id as usize]
    }
}

/// A frame: pc, function, file, line.
type FrameKey = (u64, Sym, Sym, u64);

/// A goroutine's current state.
#[derive(Debug, Clone, Copy)]
struct Stretch {
    state: GoState,
    since: i64,
    reason: Sym,
    stack: Option<i64>,
    proc: Option<i64>,
    thread: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct OpenTask {
    parent: Option<i64>,
    ty: Sym,
    start: i64,
    goroutine: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct OpenRegion {
    task: TaskId,
    ty: Sym,
    start: i64,
}

/// Streams a trace's events into Parquet tables; see the [crate docs](crate).
/// Feed it with [`Reader::feed`], then call [`Exporter::finish`].
#[derive(Debug)]
pub struct Exporter {
    trace: ByteArray,
    version: String,
    t0: Option<i64>,
    last: i64,
    events: u64,
    start_unix_ns: Option<i64>,
    tables: Vec<Table>,
    strings: Strings,
    /// Event kinds' names, interned.
    kinds: Vec<Option<Sym>>,
    goroutines: HashMap<GoId, Stretch>,
    tasks: HashMap<TaskId, OpenTask>,
    regions: HashMap<GoId, Vec<OpenRegion>>,
    /// This generation's stack ids → ours.
    gen_stacks: HashMap<u64, Option<i64>>,
    /// Distinct stacks → ours.
    stacks: HashMap<Box<[FrameKey]>, i64>,
    frames: Vec<FrameKey>,
}

/// Indices into [`Exporter::tables`], as in [`TABLES`].
const T_TRACES: usize = 0;
const T_EVENTS: usize = 1;
const T_STATES: usize = 2;
const T_TASKS: usize = 3;
const T_REGIONS: usize = 4;
const T_LOGS: usize = 5;
const T_STACKS: usize = 6;

fn some_g(g: GoId) -> Option<i64> {
    g.is_some().then_some(g.0)
}
fn some_p(p: ProcId) -> Option<i64> {
    p.is_some().then_some(p.0)
}
fn some_m(m: ThreadId) -> Option<i64> {
    m.is_some().then_some(m.0)
}

impl Exporter {
    /// Creates `dir` and the table files in it, for a trace named `trace`
    /// of format `version` (as `traces.version` shows it).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Parquet`] if a file cannot be created.
    pub fn create(dir: &Path, trace: &str, version: &str) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(dir.display().to_string(), e))?;
        let tables = TABLES
            .iter()
            .map(|(name, columns)| {
                Table::create(&dir.join(format!("{name}.parquet")), name, columns)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Exporter {
            trace: ByteArray::from(trace.as_bytes().to_vec()),
            version: version.to_owned(),
            t0: None,
            last: 0,
            events: 0,
            start_unix_ns: None,
            tables,
            strings: Strings::default(),
            kinds: Vec::new(),
            goroutines: HashMap::new(),
            tasks: HashMap::new(),
            regions: HashMap::new(),
            gen_stacks: HashMap::new(),
            stacks: HashMap::new(),
            frames: Vec::new(),
        })
    }

    /// Starts a row of table `t` with its `trace` column.
    fn row(&mut self, t: usize) -> &mut Table {
        let table = &mut self.tables[t];
        table.bytes(&self.trace);
        table
    }

    /// Our id of `stack`, writing its frames the first time it is seen.
    fn stack(&mut self, stack: Option<Stack<'_>>) -> Result<Option<i64>, Error> {
        let Some(stack) = stack.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if let Some(&id) = self.gen_stacks.get(&stack.id()) {
            return Ok(id);
        }
        self.frames.clear();
        for f in stack.frames() {
            let func = self.strings.intern(f.func.as_bytes());
            let file = self.strings.intern(f.file.as_bytes());
            self.frames.push((f.pc, func, file, f.line));
        }
        let id = match self.stacks.get(&self.frames[..]) {
            Some(&id) => id,
            None => {
                let id = self.stacks.len() as i64 + 1;
                self.stacks.insert(self.frames.as_slice().into(), id);
                for (depth, &(pc, func, file, line)) in self.frames.iter().enumerate() {
                    let t = &mut self.tables[T_STACKS];
                    t.bytes(&self.trace)
                        .i64(id)
                        .i32(depth as i32)
                        .i64(pc as i64)
                        .bytes(self.strings.get(func))
                        .bytes(self.strings.get(file))
                        .i64(line as i64);
                    t.end_row()?;
                }
                id
            }
        };
        self.gen_stacks.insert(stack.id(), Some(id));
        Ok(Some(id))
    }

    /// The interned name of an event kind (each interned once).
    fn kind_sym(&mut self, kind: EventKind) -> Sym {
        let i = kind as usize;
        if let Some(Some(sym)) = self.kinds.get(i) {
            return *sym;
        }
        let sym = self.strings.intern(kind.name().as_bytes());
        if self.kinds.len() <= i {
            self.kinds.resize(i + 1, None);
        }
        self.kinds[i] = Some(sym);
        sym
    }

    fn transition(&mut self, ev: &Event, t: i64) -> Result<(), Error> {
        let Some(st) = ev.state_transition() else {
            return Ok(());
        };
        let StateChange::Goroutine { id, from, to } = st.change else {
            return Ok(());
        };
        if from == to {
            return Ok(());
        }
        if let Some(open) = self.goroutines.remove(&id) {
            self.state_row(id, open, t)?;
        }
        if to != GoState::NotExist {
            let stack = self.stack(st.stack)?;
            let reason = self.strings.intern(st.reason.as_bytes());
            self.goroutines.insert(
                id,
                Stretch {
                    state: to,
                    since: t,
                    reason,
                    stack,
                    proc: some_p(ev.proc()),
                    thread: some_m(ev.thread()),
                },
            );
        } else if let Some(open) = self.regions.remove(&id) {
            // Its regions end with it.
            for (depth, r) in open.into_iter().enumerate().rev() {
                self.region_row(id, r.task, r.ty, Some(r.start), Some(t), depth)?;
            }
        }
        Ok(())
    }

    fn state_row(&mut self, g: GoId, s: Stretch, end: i64) -> Result<(), Error> {
        let state = self.strings.intern(s.state.to_string().as_bytes());
        let reason = s.reason;
        let table = &mut self.tables[T_STATES];
        table
            .bytes(&self.trace)
            .i64(g.0)
            .bytes(self.strings.get(state))
            .i64(s.since)
            .i64(end)
            .i64(end - s.since)
            .bytes(self.strings.get(reason))
            .opt_i64(s.stack)
            .opt_i64(s.proc)
            .opt_i64(s.thread);
        table.end_row()
    }

    fn region_row(
        &mut self,
        g: GoId,
        task: TaskId,
        ty: Sym,
        start: Option<i64>,
        end: Option<i64>,
        depth: usize,
    ) -> Result<(), Error> {
        let table = &mut self.tables[T_REGIONS];
        table
            .bytes(&self.trace)
            .i64(task.0 as i64)
            .bytes(self.strings.get(ty))
            .i64(g.0)
            .i32(depth as i32)
            .opt_i64(start)
            .opt_i64(end)
            .opt_i64(start.zip(end).map(|(s, e)| e - s));
        table.end_row()
    }

    fn task_row(
        &mut self,
        id: TaskId,
        task: OpenTask,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<(), Error> {
        let table = &mut self.tables[T_TASKS];
        table
            .bytes(&self.trace)
            .i64(id.0 as i64)
            .opt_i64(task.parent)
            .bytes(self.strings.get(task.ty))
            .opt_i64(start)
            .opt_i64(end)
            .opt_i64(start.zip(end).map(|(s, e)| e - s))
            .opt_i64(task.goroutine);
        table.end_row()
    }

    fn event(&mut self, ev: &Event) -> Result<(), Error> {
        let abs = ev.time().as_nanos();
        let t0 = *self.t0.get_or_insert(abs);
        let t = abs - t0;
        self.last = t;
        self.events += 1;
        if ev.kind() == EventKind::Sync {
            self.gen_stacks.clear();
            if self.start_unix_ns.is_none() {
                if let Some(c) = ev.sync().and_then(|s| s.clock_snapshot) {
                    let wall = c.wall_sec as i128 * 1_000_000_000 + c.wall_nsec as i128;
                    let at_t0 = wall - (c.trace.as_nanos() as i128 - t0 as i128);
                    self.start_unix_ns = i64::try_from(at_t0).ok();
                }
            }
        }
        let stack = self.stack(ev.stack())?;
        let kind = self.kind_sym(ev.kind());
        let kind = self.strings.get(kind).clone();
        self.row(T_EVENTS)
            .i64(t)
            .bytes(&kind)
            .opt_i64(some_g(ev.goroutine()))
            .opt_i64(some_p(ev.proc()))
            .opt_i64(some_m(ev.thread()))
            .opt_i64(stack);
        self.tables[T_EVENTS].end_row()?;

        match ev.kind() {
            EventKind::StateTransition => self.transition(ev, t)?,
            EventKind::TaskBegin => {
                if let Some(task) = ev.task() {
                    let ty = self.strings.intern(task.ty.as_bytes());
                    let parent =
                        (task.parent != trace_reader::NO_TASK).then_some(task.parent.0 as i64);
                    let open = OpenTask {
                        parent,
                        ty,
                        start: t,
                        goroutine: some_g(ev.goroutine()),
                    };
                    // A task id begun twice: the first one ends unseen.
                    if let Some(before) = self.tasks.insert(task.id, open) {
                        self.task_row(task.id, before, Some(before.start), None)?;
                    }
                }
            }
            EventKind::TaskEnd => {
                if let Some(task) = ev.task() {
                    match self.tasks.remove(&task.id) {
                        Some(open) => self.task_row(task.id, open, Some(open.start), Some(t))?,
                        None => {
                            let open = OpenTask {
                                parent: (task.parent != trace_reader::NO_TASK)
                                    .then_some(task.parent.0 as i64),
                                ty: self.strings.intern(task.ty.as_bytes()),
                                start: t,
                                goroutine: None,
                            };
                            self.task_row(task.id, open, None, Some(t))?;
                        }
                    }
                }
            }
            EventKind::RegionBegin => {
                if let Some(r) = ev.region() {
                    let ty = self.strings.intern(r.ty.as_bytes());
                    self.regions
                        .entry(ev.goroutine())
                        .or_default()
                        .push(OpenRegion {
                            task: r.task,
                            ty,
                            start: t,
                        });
                }
            }
            EventKind::RegionEnd => {
                if let Some(r) = ev.region() {
                    let g = ev.goroutine();
                    let ty = self.strings.intern(r.ty.as_bytes());
                    let open = self.regions.entry(g).or_default();
                    // The innermost open region of that type ends (what is
                    // open inside it stays open, as Go's summaries do).
                    match open.iter().rposition(|o| o.ty == ty) {
                        Some(i) => {
                            let o = open.remove(i);
                            self.region_row(g, o.task, o.ty, Some(o.start), Some(t), i)?;
                        }
                        None => self.region_row(g, r.task, ty, None, Some(t), 0)?,
                    }
                }
            }
            EventKind::Log => {
                if let Some(l) = ev.log() {
                    let category = self.strings.intern(l.category.as_bytes());
                    let table = &mut self.tables[T_LOGS];
                    table
                        .bytes(&self.trace)
                        .i64(t)
                        .i64(l.task.0 as i64)
                        .opt_i64(some_g(ev.goroutine()))
                        .bytes(self.strings.get(category))
                        .str(l.message.as_bytes())
                        .opt_i64(stack);
                    table.end_row()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends what is open at the last event and writes the files' footers.
    ///
    /// # Errors
    ///
    /// [`Error::Parquet`] if writing fails.
    pub fn finish(mut self) -> Result<Summary, Error> {
        let end = self.last;
        let mut gs: Vec<(GoId, Stretch)> = self.goroutines.drain().collect();
        gs.sort_by_key(|&(g, _)| g);
        for (g, s) in gs {
            self.state_row(g, s, end)?;
        }
        let mut tasks: Vec<(TaskId, OpenTask)> = self.tasks.drain().collect();
        tasks.sort_by_key(|&(id, _)| id);
        for (id, task) in tasks {
            self.task_row(id, task, Some(task.start), None)?;
        }
        let mut regions: Vec<(GoId, Vec<OpenRegion>)> = self.regions.drain().collect();
        regions.sort_by_key(|(g, _)| *g);
        for (g, open) in regions {
            for (depth, r) in open.into_iter().enumerate().rev() {
                self.region_row(g, r.task, r.ty, Some(r.start), None, depth)?;
            }
        }
        let (events, version, start) = (self.events, self.version.clone(), self.start_unix_ns);
        self.row(T_TRACES)
            .str(version.as_bytes())
            .i64(events as i64)
            .i64(end)
            .opt_i64(start);
        self.tables[T_TRACES].end_row()?;
        let mut tables = Vec::with_capacity(TABLES.len());
        for ((name, _), table) in TABLES.iter().zip(self.tables) {
            tables.push((*name, table.finish()?));
        }
        Ok(Summary { events, tables })
    }
}

impl trace_reader::Consume for Exporter {
    type Error = Error;

    fn event(&mut self, ev: &Event) -> Result<(), Error> {
        Exporter::event(self, ev)
    }
}
