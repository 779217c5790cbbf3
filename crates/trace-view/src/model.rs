//! The timeline: lanes of rows of slices, marks, tasks and charts.
//!
//! Times are nanoseconds since the trace's first event. Within a [`Row`],
//! slices are sorted by start and never overlap, so both their starts and
//! their ends are sorted: a time window is found with two binary searches.

use std::fmt;

use crate::intern::{FrameRec, Stacks, Strings};
use crate::store::{Points, Row};

/// What a slice shows. The numeric values are the `kind` field of the JSON
/// API; the page's TypeScript (`web/src/types.ts`) mirrors them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SliceKind {
    /// A goroutine running.
    Running = 1,
    /// A goroutine ready to run.
    Runnable = 2,
    /// A goroutine blocked (`arg` is the reason).
    Waiting = 3,
    /// A goroutine in a system call.
    Syscall = 4,
    /// A goroutine (`extra`) running on this proc.
    ProcRun = 5,
    /// A goroutine (`extra`) running on this thread.
    ThreadRun = 6,
    /// A goroutine (`extra`) in a system call on this thread.
    ThreadSyscall = 7,
    /// A user region (`arg` is its type, `extra` its task).
    Region = 8,
    /// A runtime range: GC mark phase, stop-the-world, sweep, mark assist
    /// (`arg` is its name).
    Range = 9,
    /// A user task (`arg` is its type, `extra` its id).
    Task = 10,
}

impl SliceKind {
    /// The JSON code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind of JSON code `code`.
    pub fn from_code(code: u8) -> Option<SliceKind> {
        Some(match code {
            1 => SliceKind::Running,
            2 => SliceKind::Runnable,
            3 => SliceKind::Waiting,
            4 => SliceKind::Syscall,
            5 => SliceKind::ProcRun,
            6 => SliceKind::ThreadRun,
            7 => SliceKind::ThreadSyscall,
            8 => SliceKind::Region,
            9 => SliceKind::Range,
            10 => SliceKind::Task,
            _ => return None,
        })
    }

    /// A short name, e.g. `running`.
    pub fn name(self) -> &'static str {
        match self {
            SliceKind::Running => "running",
            SliceKind::Runnable => "runnable",
            SliceKind::Waiting => "waiting",
            SliceKind::Syscall => "syscall",
            SliceKind::ProcRun => "proc-run",
            SliceKind::ThreadRun => "thread-run",
            SliceKind::ThreadSyscall => "thread-syscall",
            SliceKind::Region => "region",
            SliceKind::Range => "range",
            SliceKind::Task => "task",
        }
    }
}

/// A span of time on one row of a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Start, in nanoseconds since the trace's first event.
    pub start: i64,
    /// End (exclusive), `>= start`.
    pub end: i64,
    /// Kind-specific: a task id for regions and tasks, the goroutine for
    /// proc and thread slices; for a goroutine's runnable slice that began
    /// when it was unblocked (or created), 2 + the goroutine that unblocked
    /// (created) it, the one running on the thread that did, or 1 if no
    /// goroutine was (see [`Slice::waker`]); else 0.
    pub extra: u64,
    /// A string id: the reason of a goroutine state, the type of a region or
    /// task, the name of a range; else 0.
    pub arg: u32,
    /// The stack where the slice began (0 for none).
    pub stack0: u32,
    /// The stack of the event that ended it (0 for none).
    pub stack1: u32,
    /// What it is.
    pub kind: SliceKind,
}

impl Slice {
    /// For a runnable slice that began when its goroutine was unblocked or
    /// created: the goroutine that did it (`Some(-1)`: no goroutine, e.g. the
    /// runtime's network poller on a thread without one). `None` for other
    /// slices.
    pub fn waker(&self) -> Option<i64> {
        (self.kind == SliceKind::Runnable && self.extra != 0).then(|| self.extra as i64 - 2)
    }
}

/// A CPU profile sample: when, on which goroutine, with what stack (16
/// bytes each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample {
    /// When, in nanoseconds since the trace's first event.
    pub time: i64,
    /// The index of the sampled goroutine's lane ([`NO_LANE`] if it was
    /// taken off any goroutine).
    pub lane: u32,
    /// The sampled stack (0 for none).
    pub stack: u32,
}

/// The lane of a sample taken off any goroutine.
pub const NO_LANE: u32 = u32::MAX;

/// What a mark shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MarkKind {
    /// A user log message.
    Log = 1,
}

/// An instant on a lane: a user log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// When, in nanoseconds since the trace's first event.
    pub time: i64,
    /// The task it belongs to.
    pub task: u64,
    /// The log's category (string id).
    pub category: u32,
    /// The log's message (string id).
    pub message: u32,
    /// The logging goroutine's stack.
    pub stack: u32,
    /// What it is.
    pub kind: MarkKind,
}

/// What a lane is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LaneKind {
    /// Garbage collection and stop-the-world ranges.
    Gc,
    /// User tasks, packed into rows.
    Tasks,
    /// A proc (P).
    Proc(i64),
    /// A thread (M).
    Thread(i64),
    /// A goroutine: its states on row 0, its regions and mark assists below.
    Goroutine(i64),
}

impl LaneKind {
    /// The JSON name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            LaneKind::Gc => "gc",
            LaneKind::Tasks => "tasks",
            LaneKind::Proc(_) => "proc",
            LaneKind::Thread(_) => "thread",
            LaneKind::Goroutine(_) => "goroutine",
        }
    }

    /// The resource id (−1 for the GC and tasks lanes).
    pub fn id(self) -> i64 {
        match self {
            LaneKind::Gc | LaneKind::Tasks => -1,
            LaneKind::Proc(id) | LaneKind::Thread(id) | LaneKind::Goroutine(id) => id,
        }
    }
}

/// A horizontal band of the timeline.
#[derive(Debug, Clone)]
pub struct Lane {
    /// What it is about.
    pub kind: LaneKind,
    /// Its title, e.g. `G17 main.worker`.
    pub name: String,
    /// For goroutines: the label the runtime gave it (e.g. `GC (idle)`).
    pub label: String,
    /// For goroutines: where it was created (its start function) if
    /// `created`, else its first stack in the trace; 0 if none.
    pub stack: u32,
    /// For goroutines: whether it was created within the trace.
    pub created: bool,
    /// The rows, top to bottom.
    pub rows: Vec<Row>,
    /// Instants, sorted by time.
    pub marks: Vec<Mark>,
}

impl Lane {
    /// The number of slices over all rows.
    pub fn slice_count(&self) -> usize {
        self.rows.iter().map(Row::len).sum()
    }
}

/// A user task, for the task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The task id.
    pub id: u64,
    /// The parent's id (`u64::MAX` for none).
    pub parent: u64,
    /// The task type (string id).
    pub ty: u32,
    /// When it began, if it began within the trace.
    pub start: Option<i64>,
    /// When it ended, if it ended within the trace.
    pub end: Option<i64>,
    /// The goroutine that began it (−1 if unknown).
    pub goroutine: i64,
    /// The goroutine that ended it (−1 if unknown or still open).
    pub end_goroutine: i64,
    /// Its row on the tasks lane.
    pub row: u32,
    /// Stacks where it began and ended.
    pub stack0: u32,
    /// See `stack0`.
    pub stack1: u32,
    /// How many regions and logs were attributed to it.
    pub regions: u32,
    /// See `regions`.
    pub logs: u32,
}

/// The most logs, regions, child tasks and goroutines kept per task for its
/// details (each list keeps the earliest); the totals are counted whole.
pub const MAX_TASK_ITEMS: usize = 256;

/// What a task's details list, by reference into the lanes: at most
/// [`MAX_TASK_ITEMS`] of each, the earliest ones, in order of time.
///
/// Built after the lanes, by one scan over their regions and logs, so it
/// costs 12 bytes per kept log or region and a few per goroutine and child;
/// a trace of many short tasks costs as much as their regions and logs, and
/// a task with millions of regions costs [`MAX_TASK_ITEMS`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDetail {
    /// Logs of the task: (lane, index in the lane's marks).
    pub logs: Vec<(u32, u32)>,
    /// Regions of the task: (lane, row, index in the row).
    pub regions: Vec<(u32, u32, u32)>,
    /// Indices (into [`Timeline::tasks`]) of the tasks whose parent it is.
    pub children: Vec<u32>,
    /// Goroutines that began it, or had a region or a log of it, by id.
    pub goroutines: Vec<i64>,
    /// How many children and goroutines there are in all.
    pub n_children: u32,
    /// See `n_children`.
    pub n_goroutines: u32,
}

/// The minimum mutator utilization curve (see [`trace_analysis::mmu`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MmuCurve {
    /// Window lengths (ns), increasing.
    pub windows: Vec<i64>,
    /// The worst utilization (0 to 1) over any window of each length.
    pub values: Vec<f64>,
    /// The mean utilization over the trace.
    pub mean: f64,
    /// Steps of the utilization function it was computed from.
    pub steps: u64,
}

/// A time series of a chart: each value holds from its time until the
/// next one's.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// The name, e.g. `goal`.
    pub name: String,
    /// The points, `(time, value)`, times increasing.
    pub points: Points,
}

/// A small chart above the lanes.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The title, e.g. `Heap`.
    pub name: String,
    /// `bytes` or `count`.
    pub unit: &'static str,
    /// The lines drawn.
    pub series: Vec<Series>,
}

/// Counts describing a built timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events read.
    pub events: u64,
    /// Slices over all lanes.
    pub slices: u64,
    /// Marks over all lanes.
    pub marks: u64,
    /// Distinct stacks.
    pub stacks: u64,
    /// Distinct strings.
    pub strings: u64,
    /// CPU profile samples.
    pub samples: u64,
    /// Bytes of encoded rows and series, in the temporary file (see
    /// [`Row`]).
    pub stored_bytes: u64,
    /// Whether they are in a file (else in memory: no file could be made).
    pub on_disk: bool,
}

/// A frame of a stack, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo<'a> {
    /// The program counter.
    pub pc: u64,
    /// The function.
    pub func: &'a str,
    /// The source file.
    pub file: &'a str,
    /// The line.
    pub line: u64,
}

/// A whole trace laid out as lanes, ready for window queries.
pub struct Timeline {
    pub(crate) title: String,
    pub(crate) base: i64,
    pub(crate) span: i64,
    pub(crate) version: String,
    pub(crate) lanes: Vec<Lane>,
    pub(crate) tasks: Vec<TaskInfo>,
    pub(crate) task_details: Vec<TaskDetail>,
    pub(crate) task_by_id: hashbrown::HashMap<u64, u32>,
    pub(crate) diagnosis: trace_analysis::doctor::Diagnosis,
    /// Where the trace broke off, for a timeline of what came before.
    pub(crate) stopped: Option<trace_reader::Error>,
    pub(crate) mmu: MmuCurve,
    pub(crate) charts: Vec<Chart>,
    pub(crate) samples: Vec<CpuSample>,
    /// (goroutine, lane) by goroutine.
    pub(crate) goroutine_lanes: Vec<(i64, u32)>,
    pub(crate) strings: Strings,
    pub(crate) stacks: Stacks,
    pub(crate) stats: Stats,
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("title", &self.title)
            .field("span", &self.span)
            .field("lanes", &self.lanes.len())
            .field("tasks", &self.tasks.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Timeline {
    /// The title shown by the page (usually the file name).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Sets the title.
    pub fn set_title(&mut self, title: impl Into<String>) {
        self.title = title.into();
    }

    /// The absolute time (the trace's clock, in ns) of the first event;
    /// every other time is relative to it.
    pub fn base(&self) -> i64 {
        self.base
    }

    /// Nanoseconds from the first event to the last.
    pub fn span(&self) -> i64 {
        self.span
    }

    /// The trace's format version, e.g. `Go1.23`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The lanes, top to bottom: GC, tasks, procs, threads, goroutines.
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// The tasks, in order of first appearance.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }

    /// The details of task `tasks()[i]`.
    pub fn task_detail(&self, i: usize) -> Option<&TaskDetail> {
        self.task_details.get(i)
    }

    /// The index in [`Timeline::tasks`] of the task with id `id` (the last
    /// one, should an id begin twice).
    pub fn task_index(&self, id: u64) -> Option<usize> {
        self.task_by_id.get(&id).map(|&i| i as usize)
    }

    /// What limits what the trace can tell (the trace doctor's findings).
    pub fn diagnosis(&self) -> &trace_analysis::doctor::Diagnosis {
        &self.diagnosis
    }

    /// Where the trace broke off, if it did and the timeline holds what
    /// came before (see [`Options::partial`](crate::Options::partial)).
    pub fn stopped(&self) -> Option<&trace_reader::Error> {
        self.stopped.as_ref()
    }

    /// The minimum mutator utilization curve.
    pub fn mmu(&self) -> &MmuCurve {
        &self.mmu
    }

    /// The charts.
    pub fn charts(&self) -> &[Chart] {
        &self.charts
    }

    /// The CPU profile samples, in order of time.
    pub fn samples(&self) -> &[CpuSample] {
        &self.samples
    }

    /// Counts.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The string with id `id` ("" if unknown).
    pub fn string(&self, id: u32) -> &str {
        self.strings.get(id)
    }

    /// The frames of the stack with id `id`, leaf first.
    pub fn stack(&self, id: u32) -> impl ExactSizeIterator<Item = FrameInfo<'_>> + '_ {
        self.stacks.frames(id).map(|f: FrameRec| FrameInfo {
            pc: f.pc,
            func: self.strings.get(f.func),
            file: self.strings.get(f.file),
            line: f.line,
        })
    }

    /// The index of goroutine `g`'s lane, if it has one.
    pub fn goroutine_lane(&self, g: i64) -> Option<usize> {
        if g < 0 {
            return None;
        }
        self.goroutine_lanes
            .binary_search_by_key(&g, |&(id, _)| id)
            .ok()
            .map(|i| self.goroutine_lanes[i].1 as usize)
    }

    /// The index of the first lane of `kind`, if any.
    pub fn lane_index(&self, kind: LaneKind) -> Option<usize> {
        self.lanes.iter().position(|l| l.kind == kind)
    }
}
