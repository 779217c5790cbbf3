//! Event-level filters on top of the [`EventWriter`]: keep some goroutines,
//! some tasks with the goroutines that worked on them, a time window, some
//! kinds of events.

use std::io::Write;

use hashbrown::HashSet;
use trace_reader::{Event, EventKind, GoId, Reader, ResourceId, TaskId, Time, Version, NO_TASK};

use crate::writer::{EventWriter, Summary, WriterOptions};
use crate::Error;

/// Which events of a trace to keep ([`filter_events`]). Every predicate
/// set must hold; with none, every event is kept (the writer's round trip).
///
/// ```
/// use trace_reader::{Reader, Time};
/// use trace_rewrite::{filter_events, EventFilter};
///
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
/// let input = std::fs::read(path)?;
/// let times: Vec<i64> = Reader::new(&input[..])?.map(|e| e.unwrap().time().0).collect();
/// let (from, to) = (times[times.len() / 3], times[2 * times.len() / 3]);
/// let filter = EventFilter::new().window(Time(from), Time(to));
/// let (output, summary) = filter_events(&input, &filter, Vec::new())?;
/// assert!(summary.synthesized > 0); // the statuses at the cut
/// assert!(trace_reader::validate(&output[..]).is_valid());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    goroutines: Option<HashSet<i64>>,
    task_types: Vec<Vec<u8>>,
    task_ids: Vec<u64>,
    window: Option<(i64, i64)>,
    kinds: Option<Vec<EventKind>>,
    version: Option<Version>,
}

impl EventFilter {
    /// Keeps everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps these goroutines: their state transitions and the events they
    /// run. Procs' transitions, and events run without a goroutine, are
    /// kept; events that need a goroutine that is left out (a metric, a GC
    /// event run by it) are left out.
    pub fn goroutines(mut self, ids: impl IntoIterator<Item = GoId>) -> Self {
        self.goroutines
            .get_or_insert_with(HashSet::new)
            .extend(ids.into_iter().map(|g| g.0));
        self
    }

    /// Keeps the tasks of this type (`trace.NewTask`'s), their subtasks,
    /// and the goroutines that ran any of their events, as
    /// [`goroutines`](Self::goroutines) does; task, region and log events of
    /// other tasks are left out.
    pub fn task_type(mut self, ty: &str) -> Self {
        self.task_types.push(ty.as_bytes().to_vec());
        self
    }

    /// The same for one task by id.
    pub fn task(mut self, id: TaskId) -> Self {
        self.task_ids.push(id.0);
        self
    }

    /// Keeps the events of the time window `[from, to]` (reader times, in
    /// nanoseconds). The output starts with a sync event and the status of
    /// every goroutine and proc alive at `from` (with the ranges in flight
    /// and a GC in progress), then holds exactly the input's events of the
    /// window, as Go's reader yields them; see [`filter_events`] for the
    /// few that cannot be kept.
    pub fn window(mut self, from: Time, to: Time) -> Self {
        self.window = Some((from.0, to.0));
        self
    }

    /// Keeps only events of these kinds. State transitions and sync events
    /// are always kept: every other kind can go without making the trace
    /// invalid.
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        self.kinds = Some(kinds.into_iter().collect());
        self
    }

    /// Writes the output in the format of `version` (Go 1.26's by
    /// default; see [`WriterOptions::version`]).
    pub fn format(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    fn selects_tasks(&self) -> bool {
        !self.task_types.is_empty() || !self.task_ids.is_empty()
    }
}

/// Writes the events of `input` that `filter` keeps as a trace of Go 1.26's
/// format, into `out`; returns `out` and what was written.
///
/// The writer runs with [`WriterOptions::repair`]: an event whose premises
/// were left out is left out too and counted in [`Summary::skipped`]. For a
/// window these are the ends of stop-the-world ranges begun before it (Go's
/// reader rejects an end without a begin, and the format cannot say that
/// one is in progress). Other differences a window shows, against the
/// input's events: a task that ends in the window but began before it ends
/// without its type and parent (Go's reader attaches them from the begin);
/// a proc first seen in the output's first generation goes from
/// `Undetermined`, not `NotExist`; the first sync's clock snapshot is the
/// last one before the window, moved on to the window's start.
///
/// A trace the reader cannot read to the end gives the events before the
/// error. Tasks are found in a first pass over `input`.
pub fn filter_events<W: Write>(
    input: &[u8],
    filter: &EventFilter,
    out: W,
) -> Result<(W, Summary), Error> {
    let mut goroutines = filter.goroutines.clone();
    let tasks = if filter.selects_tasks() {
        let (tasks, gs) = find_tasks(input, filter)?;
        goroutines.get_or_insert_with(HashSet::new).extend(gs);
        Some(tasks)
    } else {
        None
    };
    let mut opts = WriterOptions::new().repair(true);
    if let Some(v) = filter.version {
        opts = opts.version(v);
    }
    let mut w = EventWriter::with_options(out, opts)?;
    let mut reader = Reader::new(input)?;
    let mut written = false;
    // A sync is written once an event follows it: the last one ends the
    // trace, and the reader of the output yields one of its own.
    let mut sync: Option<Event> = None;
    loop {
        let ev = match reader.read_event_ref() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) if e.is_go_eof() => break,
            Err(_) if written => break,
            Err(e) => return Err(e.into()),
        };
        if let Some((from, to)) = filter.window {
            let t = ev.time().0;
            if t > to {
                break;
            }
            if t < from {
                w.observe(ev)?;
                continue;
            }
        }
        if ev.kind() == EventKind::Sync {
            if let Some(s) = sync.replace(ev.clone()) {
                w.write(&s)?;
            }
            continue;
        }
        if keep(ev, filter, goroutines.as_ref(), tasks.as_ref()) {
            if let Some(s) = sync.take() {
                w.write(&s)?;
            }
            w.write(ev)?;
            written = true;
        }
    }
    if w.summary().events == 0 {
        return Err(Error::NothingSelected);
    }
    w.finish()
}

/// Whether `ev` passes the filter's predicates (the window aside).
fn keep(
    ev: &Event,
    filter: &EventFilter,
    goroutines: Option<&HashSet<i64>>,
    tasks: Option<&HashSet<u64>>,
) -> bool {
    let kind = ev.kind();
    if matches!(kind, EventKind::Sync) {
        return true;
    }
    if let Some(kinds) = &filter.kinds {
        if kind != EventKind::StateTransition && !kinds.contains(&kind) {
            return false;
        }
    }
    if let Some(tasks) = tasks {
        let task = match kind {
            EventKind::TaskBegin | EventKind::TaskEnd => ev.task().map(|t| t.id.0),
            EventKind::RegionBegin | EventKind::RegionEnd => ev.region().map(|r| r.task.0),
            EventKind::Log => ev.log().map(|l| l.task.0),
            _ => None,
        };
        if task.is_some_and(|t| !tasks.contains(&t)) {
            return false;
        }
    }
    let Some(gs) = goroutines else {
        return true;
    };
    let subject = match ev.state_transition() {
        Some(st) => match st.resource {
            ResourceId::Goroutine(g) => g.0,
            _ => return true,
        },
        None => match ev.range().map(|r| r.scope) {
            Some(ResourceId::Goroutine(g)) => g.0,
            _ => ev.goroutine().0,
        },
    };
    subject == -1 || gs.contains(&subject)
}

/// The ids of the tasks `filter` selects (with their subtasks), and the
/// goroutines that ran their events.
fn find_tasks(input: &[u8], filter: &EventFilter) -> Result<(HashSet<u64>, HashSet<i64>), Error> {
    let mut tasks: HashSet<u64> = filter.task_ids.iter().copied().collect();
    let mut goroutines = HashSet::new();
    let mut reader = Reader::new(input)?;
    loop {
        let ev = match reader.read_event_ref() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(_) => break,
        };
        let task = match ev.kind() {
            EventKind::TaskBegin => {
                let t = ev.task().expect("a task event");
                if filter.task_types.iter().any(|ty| ty == t.ty.as_bytes())
                    || (t.parent != NO_TASK && tasks.contains(&t.parent.0))
                {
                    tasks.insert(t.id.0);
                }
                Some(t.id.0)
            }
            EventKind::TaskEnd => ev.task().map(|t| t.id.0),
            EventKind::RegionBegin | EventKind::RegionEnd => ev.region().map(|r| r.task.0),
            EventKind::Log => ev.log().map(|l| l.task.0),
            _ => None,
        };
        if task.is_some_and(|t| tasks.contains(&t)) && ev.goroutine().0 != -1 {
            goroutines.insert(ev.goroutine().0);
        }
    }
    Ok((tasks, goroutines))
}
