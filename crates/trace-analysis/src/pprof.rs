//! The four blocking profiles of `go tool trace -pprof=KIND`, as pprof
//! protobuf.
//!
//! | kind | Go's name | time goroutines spent … |
//! | --- | --- | --- |
//! | [`ProfileKind::Sync`] | `sync` | blocked on channels, `select` and `sync` primitives |
//! | [`ProfileKind::Net`] | `net` | blocked on the network poller |
//! | [`ProfileKind::Syscall`] | `syscall` | in system calls |
//! | [`ProfileKind::Sched`] | `sched` | runnable, waiting to be scheduled |
//!
//! Each sample is a stack with two values, `contentions/count` and
//! `delay/nanoseconds`, computed exactly as Go 1.27's `cmd/trace` does
//! (`pprof.go`): a goroutine is in the profiled state from the transition
//! that put it there (for a reason the kind tracks) to its next transition
//! to another state, the sample's stack is the stack of the event that
//! started it (none for events without one, such as a goroutine's status at
//! the start of a generation: those count under an empty stack), and time is
//! clipped to each goroutine's lifetime as Go's goroutine summary records it
//! (from its first start to its end, see [`crate::summary`]). Of a trace that
//! breaks, the events up to its last sync count. The same samples as Go's,
//! stack for stack and nanosecond for nanosecond, is the point: these
//! profiles are compared against Go's on the whole conformance corpus.
//!
//! ```
//! use trace_analysis::pprof::{Profile, ProfileKind, Profiler};
//! use trace_reader::Reader;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-misc.trace");
//! let mut profiler = Profiler::new(ProfileKind::Sync);
//! for event in Reader::new(std::fs::File::open(path)?)? {
//!     profiler.event(&event?);
//! }
//! let profile = profiler.finish()?;
//! let mut gz = Vec::new();
//! profile.write_pprof(&mut gz)?; // what `go tool pprof` reads
//! assert_eq!(Profile::from_pprof(&gz)?, profile);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};
use std::io::{self, Read, Write};
use std::str::FromStr;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use hashbrown::HashMap;
use trace_reader::{Event, EventKind, GoId, GoState, Stack, StateChange, Stop};

use crate::intern::{Interner, Sym};
use crate::proto::{fields, Encoder};
use crate::summary::Summarizer;

pub use crate::proto::DecodeError;

/// Why a trace has no profile; Go's `go tool trace -pprof` fails on it too.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The trace could not be read, and no sync event came before the
    /// error (Go: "failed to parse any useful part of the trace").
    Read(trace_reader::Error),
    /// The events that count hold no goroutine (Go: "failed to find
    /// matching goroutines").
    NoGoroutines,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(e) => write!(f, "failed to parse any useful part of the trace: {e}"),
            Error::NoGoroutines => f.write_str("the trace has no goroutines"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read(e) => Some(e),
            Error::NoGoroutines => None,
        }
    }
}

impl From<trace_reader::Error> for Error {
    fn from(e: trace_reader::Error) -> Self {
        Error::Read(e)
    }
}

/// Which blocking profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileKind {
    /// Blocking on synchronization: channels, `select`, `sync` primitives
    /// (Go's `sync`, the "blocking profile").
    Sync,
    /// Blocking on the network (Go's `net`, the "IO profile").
    Net,
    /// Time in system calls (Go's `syscall`).
    Syscall,
    /// Scheduler latency: time runnable before running (Go's `sched`).
    Sched,
}

impl ProfileKind {
    /// All kinds, in Go's order of documentation.
    pub const ALL: [ProfileKind; 4] = [
        ProfileKind::Net,
        ProfileKind::Sync,
        ProfileKind::Syscall,
        ProfileKind::Sched,
    ];

    /// Go's name: `sync`, `net`, `syscall` or `sched`.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Sync => "sync",
            ProfileKind::Net => "net",
            ProfileKind::Syscall => "syscall",
            ProfileKind::Sched => "sched",
        }
    }

    /// The goroutine state whose time is profiled.
    fn state(self) -> GoState {
        match self {
            ProfileKind::Sync | ProfileKind::Net => GoState::Waiting,
            ProfileKind::Syscall => GoState::Syscall,
            ProfileKind::Sched => GoState::Runnable,
        }
    }

    /// Whether entering the state for `reason` counts.
    fn tracks(self, reason: &[u8]) -> bool {
        let has = |s: &[u8]| reason.windows(s.len()).any(|w| w == s);
        match self {
            ProfileKind::Sync => has(b"chan") || has(b"sync") || has(b"select"),
            ProfileKind::Net => reason == b"network",
            ProfileKind::Syscall | ProfileKind::Sched => true,
        }
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProfileKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown profile kind `{s}` (expected sync, net, syscall or sched)")
            })
    }
}

/// One stack frame of a sample.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// The program counter.
    pub pc: u64,
    /// The function.
    pub function: String,
    /// Its source file.
    pub file: String,
    /// The line in `file`.
    pub line: i64,
}

/// One sample: a stack and the time goroutines spent in the profiled state
/// after reaching it from there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sample {
    /// How many times (`contentions/count`).
    pub count: i64,
    /// For how long in total, in nanoseconds (`delay/nanoseconds`).
    pub delay_ns: i64,
    /// The stack, leaf first (at most 128 frames, as in Go).
    pub stack: Vec<Frame>,
}

/// A profile: samples with the value types `contentions/count` and
/// `delay/nanoseconds` (a blocking profile, as Go's trace tool writes them),
/// or `samples/count` and `cpu/nanoseconds` (a CPU profile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The samples, one per distinct stack, largest delay first.
    pub samples: Vec<Sample>,
    /// What the two values of each sample are.
    pub values: Values,
}

/// What a [`Profile`]'s two sample values measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Values {
    /// `contentions/count`, `delay/nanoseconds` (time blocked).
    #[default]
    Blocking,
    /// `samples/count`, `cpu/nanoseconds` (CPU time, estimated as the
    /// samples times the sampling period).
    Cpu,
}

/// Go deduplicates stacks on their first 128 PCs and cuts longer ones there.
const MAX_STACK: usize = 128;

/// A frame, interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameRef {
    pc: u64,
    func: Sym,
    file: Sym,
    line: i64,
}

/// A stack as a profile sees it: the group of stacks with its program
/// counters, and which of the group's frame lists this one has.
#[derive(Debug, Clone, Copy)]
struct StackRef {
    group: u32,
    variant: u32,
}

/// Stacks of all generations, grouped by their program counters as Go
/// groups them (stack ids are only meaningful within a generation). Stacks
/// of a group nearly always have the same frames; where they do not, Go
/// prints the frames of the stack of the group's last sample, so each
/// group keeps every distinct frame list.
#[derive(Debug, Default)]
struct StackTable {
    by_pcs: HashMap<Box<[u64]>, u32>,
    /// The distinct frame lists of each group.
    groups: Vec<Vec<Box<[FrameRef]>>>,
    /// Stack id → stack, for the current generation.
    current: HashMap<u64, StackRef>,
    names: Interner,
    pcs: Vec<u64>,
    frames: Vec<FrameRef>,
}

impl StackTable {
    fn new_generation(&mut self) {
        self.current.clear();
    }

    /// The group of `stack`; no stack is the empty stack, as in Go (whose
    /// `NoStack` has no PCs).
    fn intern(&mut self, stack: Option<Stack<'_>>) -> StackRef {
        let id = stack.map_or(0, |s| s.id());
        if let Some(&r) = self.current.get(&id) {
            return r;
        }
        let names = &mut self.names;
        self.frames.clear();
        self.frames.extend(
            stack
                .iter()
                .flat_map(|s| s.frames())
                .take(MAX_STACK)
                .map(|f| FrameRef {
                    pc: f.pc,
                    func: names.intern(f.func.as_bytes()),
                    file: names.intern(f.file.as_bytes()),
                    line: f.line as i64,
                }),
        );
        self.pcs.clear();
        self.pcs.extend(self.frames.iter().map(|f| f.pc));
        // Go compares fixed arrays of 128 PCs padded with zeros.
        while self.pcs.last() == Some(&0) {
            self.pcs.pop();
        }
        let group = match self.by_pcs.get(&self.pcs[..]) {
            Some(&g) => g,
            None => {
                let g = u32::try_from(self.groups.len()).expect("fewer than 2^32 stacks");
                self.groups.push(Vec::new());
                self.by_pcs.insert(self.pcs[..].into(), g);
                g
            }
        };
        let variants = &mut self.groups[group as usize];
        let variant = match variants.iter().position(|v| **v == self.frames[..]) {
            Some(v) => v,
            None => {
                variants.push(self.frames[..].into());
                variants.len() - 1
            }
        };
        let r = StackRef {
            group,
            variant: u32::try_from(variant).expect("fewer than 2^32 variants"),
        };
        self.current.insert(id, r);
        r
    }

    fn frames(&self, r: StackRef) -> Vec<Frame> {
        let s = |sym| String::from(&**self.names.get(sym));
        self.groups[r.group as usize][r.variant as usize]
            .iter()
            .map(|f| Frame {
                pc: f.pc,
                function: s(f.func),
                file: s(f.file),
                line: f.line,
            })
            .collect()
    }
}

/// A stretch of time a goroutine spent in the profiled state.
#[derive(Debug, Clone, Copy)]
struct Span {
    g: GoId,
    start: i64,
    end: i64,
    stack: StackRef,
}

/// Computes one blocking profile from the event stream.
///
/// Feed every event, in order, to [`Profiler::event`]; then
/// [`Profiler::finish`]. Memory grows with the number of goroutines, of
/// distinct stacks and of blocking episodes (a few dozen bytes each), never
/// with the number of events.
#[derive(Debug)]
pub struct Profiler {
    kind: ProfileKind,
    summarizer: Summarizer,
    stacks: StackTable,
    /// Goroutines in the profiled state: since when, from which stack.
    tracking: HashMap<GoId, (i64, StackRef)>,
    spans: Vec<Span>,
    last_time: Option<i64>,
    /// The time of the last sync event, and how many spans had ended by
    /// then: what Go keeps of a trace that breaks after it.
    last_sync: Option<(i64, usize)>,
}

impl Profiler {
    /// A profiler for `kind` that has seen nothing.
    pub fn new(kind: ProfileKind) -> Self {
        Profiler {
            kind,
            summarizer: Summarizer::new(),
            stacks: StackTable::default(),
            tracking: HashMap::new(),
            spans: Vec::new(),
            last_time: None,
            last_sync: None,
        }
    }

    /// The kind of profile being computed.
    pub fn kind(&self) -> ProfileKind {
        self.kind
    }

    /// Takes in the next event.
    pub fn event(&mut self, ev: &Event) {
        self.summarizer.event(ev);
        let t = ev.time().as_nanos();
        self.last_time = Some(t);
        if ev.kind() == EventKind::Sync {
            // A sync begins each generation (and one ends the trace), and
            // stack ids are per generation.
            self.last_sync = Some((t, self.spans.len()));
            self.stacks.new_generation();
            return;
        }
        if ev.kind() != EventKind::StateTransition {
            return;
        }
        let Some(st) = ev.state_transition() else {
            return;
        };
        let StateChange::Goroutine { id, to, .. } = st.change else {
            return;
        };
        let state = self.kind.state();
        match self.tracking.get(&id) {
            None => {
                if to == state && self.kind.tracks(st.reason.as_bytes()) {
                    // The event's own stack (for a goroutine's status, its
                    // status stack), not the transition's.
                    let s = self.stacks.intern(ev.stack());
                    self.tracking.insert(id, (t, s));
                }
            }
            Some(_) if to == state => {}
            Some(&(start, stack)) => {
                self.tracking.remove(&id);
                self.spans.push(Span {
                    g: id,
                    start,
                    end: t,
                    stack,
                });
            }
        }
    }

    /// The profile of the whole stream: an error if it had no goroutine.
    pub fn finish(self) -> Result<Profile, Error> {
        let end = self.last_time.unwrap_or(0);
        let spans = self.spans.len();
        self.build(end, spans)
    }

    /// The profile of a stream that broke with `error`, as Go's tool makes
    /// it: of the events up to the last `Sync` event (with the goroutines'
    /// lifetimes as all events seen had them), or the error if no `Sync`
    /// came.
    pub fn finish_after_error(self, error: trace_reader::Error) -> Result<Profile, Error> {
        let Some((end, spans)) = self.last_sync else {
            return Err(Error::Read(error));
        };
        self.build(end, spans)
    }

    fn build(self, trace_end: i64, spans: usize) -> Result<Profile, Error> {
        let summary = self.summarizer.finish();
        if summary.goroutines.is_empty() {
            return Err(Error::NoGoroutines);
        }
        // Go clips each span to the goroutine's lifetime as its summary has
        // it: from its first start (or the beginning of time if it never
        // ran) to its end (or the end of the trace).
        let lifetimes: HashMap<GoId, (i64, i64)> = summary
            .goroutines
            .iter()
            .map(|g| {
                let start = g.start_time.map_or(0, |t| t.as_nanos());
                let end = g.end_time.map_or(trace_end, |t| t.as_nanos());
                (g.id, (start, end))
            })
            .collect();
        // Per group of stacks: count, delay, and the stack of its last
        // sample, whose frames Go prints.
        let mut totals: HashMap<u32, (i64, i64, StackRef)> = HashMap::new();
        for s in &self.spans[..spans] {
            let Some(&(g_start, g_end)) = lifetimes.get(&s.g) else {
                continue;
            };
            if g_end < s.start || s.end < g_start {
                continue;
            }
            let overlap = g_end.min(s.end) - g_start.max(s.start);
            if overlap > 0 {
                let e = totals.entry(s.stack.group).or_insert((0, 0, s.stack));
                e.0 += 1;
                e.1 += overlap;
                e.2 = s.stack;
            }
        }
        let mut samples: Vec<Sample> = totals
            .into_values()
            .map(|(count, delay_ns, stack)| Sample {
                count,
                delay_ns,
                stack: self.stacks.frames(stack),
            })
            .collect();
        samples.sort_by(|a, b| {
            (b.delay_ns, b.count)
                .cmp(&(a.delay_ns, a.count))
                .then_with(|| a.stack.cmp(&b.stack))
        });
        Ok(Profile {
            samples,
            values: Values::Blocking,
        })
    }
}

/// Computes the profile of `kind` for a whole trace.
///
/// Like Go's tool, a trace that breaks still gives the profile of its
/// events up to the last sync event before the break (see
/// [`Profiler::finish_after_error`]); a trace without goroutines is an
/// error.
pub fn profile(input: impl Read, kind: ProfileKind) -> Result<Profile, Error> {
    let mut reader = trace_reader::Reader::new(input)?;
    let mut profiler = Profiler::new(kind);
    match reader.feed(&mut profiler) {
        Ok(_) => profiler.finish(),
        Err(Stop::Trace(e)) => profiler.finish_after_error(e),
        Err(Stop::Consumer(never)) => match never {},
    }
}

impl trace_reader::Consume for Profiler {
    type Error = std::convert::Infallible;

    fn event(&mut self, ev: &Event) -> Result<(), Self::Error> {
        Profiler::event(self, ev);
        Ok(())
    }
}

/// Which CPU samples a [`CpuProfiler`] counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CpuScope {
    /// Every sample.
    #[default]
    All,
    /// Samples of goroutines inside a region of a task of this type (the
    /// CPU that requests of one kind used).
    Task(String),
    /// Samples of goroutines inside a region of this type.
    Region(String),
}

/// A region a goroutine is in: its task, and its type.
type OpenRegion = (u64, Box<[u8]>);

/// Computes a CPU profile from the trace's CPU samples (`StackSample`
/// events), optionally only those taken inside tasks or regions of one
/// type: where the CPU of the slow requests went, which no profiler of a
/// whole process says.
///
/// A goroutine is in a task while it is inside one of the task's regions;
/// nested regions count for every enclosing one.
#[derive(Debug)]
pub struct CpuProfiler {
    scope: CpuScope,
    period_ns: i64,
    stacks: StackTable,
    /// Per stack group: samples, and the stack of the last one.
    counts: HashMap<u32, (i64, StackRef)>,
    /// Open tasks: id → type.
    tasks: HashMap<u64, Box<[u8]>>,
    /// Each goroutine's open regions, innermost last: (task, type).
    regions: HashMap<GoId, Vec<OpenRegion>>,
}

impl CpuProfiler {
    /// A profiler of the samples in `scope`; each sample stands for
    /// `period_ns` of CPU time (10 ms for Go's and our default 100 Hz).
    pub fn new(scope: CpuScope, period_ns: i64) -> Self {
        CpuProfiler {
            scope,
            period_ns,
            stacks: StackTable::default(),
            counts: HashMap::new(),
            tasks: HashMap::new(),
            regions: HashMap::new(),
        }
    }

    /// Takes in the next event.
    pub fn event(&mut self, ev: &Event) {
        match ev.kind() {
            EventKind::Sync => self.stacks.new_generation(),
            EventKind::TaskBegin => {
                if let Some(t) = ev.task() {
                    self.tasks.insert(t.id.0, t.ty.as_bytes().into());
                }
            }
            EventKind::TaskEnd => {
                if let Some(t) = ev.task() {
                    self.tasks.remove(&t.id.0);
                }
            }
            EventKind::RegionBegin | EventKind::RegionEnd => {
                let (Some(r), g) = (ev.region(), ev.goroutine()) else {
                    return;
                };
                if !g.is_some() {
                    return;
                }
                let open = self.regions.entry(g).or_default();
                if ev.kind() == EventKind::RegionBegin {
                    open.push((r.task.0, r.ty.as_bytes().into()));
                } else if let Some(i) = open.iter().rposition(|(_, ty)| **ty == *r.ty.as_bytes()) {
                    open.truncate(i);
                }
            }
            EventKind::StateTransition => {
                if let Some(StateChange::Goroutine {
                    id,
                    to: GoState::NotExist,
                    ..
                }) = ev.state_transition().map(|s| s.change)
                {
                    self.regions.remove(&id);
                }
            }
            EventKind::StackSample => {
                let g = ev.goroutine();
                if self.counts_sample(g.is_some().then_some(g)) {
                    let s = self.stacks.intern(ev.stack());
                    let e = self.counts.entry(s.group).or_insert((0, s));
                    e.0 += 1;
                    e.1 = s;
                }
            }
            _ => {}
        }
    }

    fn counts_sample(&self, g: Option<GoId>) -> bool {
        let open = || g.and_then(|g| self.regions.get(&g)).into_iter().flatten();
        match &self.scope {
            CpuScope::All => true,
            CpuScope::Region(ty) => open().any(|(_, t)| **t == *ty.as_bytes()),
            CpuScope::Task(ty) => {
                open().any(|(task, _)| self.tasks.get(task).is_some_and(|t| **t == *ty.as_bytes()))
            }
        }
    }

    /// The profile, most samples first.
    pub fn finish(self) -> Profile {
        let period = self.period_ns;
        let mut samples: Vec<Sample> = self
            .counts
            .into_values()
            .map(|(count, stack)| Sample {
                count,
                delay_ns: count.saturating_mul(period),
                stack: self.stacks.frames(stack),
            })
            .collect();
        samples.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.stack.cmp(&b.stack)));
        Profile {
            samples,
            values: Values::Cpu,
        }
    }
}

impl trace_reader::Consume for CpuProfiler {
    type Error = std::convert::Infallible;

    fn event(&mut self, ev: &Event) -> Result<(), Self::Error> {
        CpuProfiler::event(self, ev);
        Ok(())
    }
}

/// The CPU profile of a whole trace (see [`CpuProfiler`]). Like the
/// blocking profiles, a trace that breaks gives the profile of its events
/// before the break.
pub fn cpu_profile(input: impl Read, scope: CpuScope, period_ns: i64) -> Result<Profile, Error> {
    let mut reader = trace_reader::Reader::new(input)?;
    let mut profiler = CpuProfiler::new(scope, period_ns);
    match reader.feed(&mut profiler) {
        Ok(_) | Err(Stop::Trace(_)) => Ok(profiler.finish()),
        Err(Stop::Consumer(never)) => match never {},
    }
}

// The field numbers of profile.proto.
mod field {
    pub(super) const SAMPLE_TYPE: u32 = 1;
    pub(super) const SAMPLE: u32 = 2;
    pub(super) const LOCATION: u32 = 4;
    pub(super) const FUNCTION: u32 = 5;
    pub(super) const STRING_TABLE: u32 = 6;
    pub(super) const PERIOD_TYPE: u32 = 11;
    pub(super) const PERIOD: u32 = 12;
}

impl Profile {
    /// The profile as an uncompressed `profile.proto` message, laid out as
    /// Go's `traceviewer.BuildProfile` lays it out: one location per program
    /// counter and one function per (file, name), numbered from 1 in order
    /// of first use, and no mappings.
    pub fn to_protobuf(&self) -> Vec<u8> {
        let mut p = Encoder::default();
        let mut st = StringTable::default();
        st.id("");
        let vt = |p: &mut Encoder, field: u32, ty: u64, unit: u64| {
            p.message(field, |m| {
                m.uint(1, ty);
                m.uint(2, unit);
            });
        };
        let (first, second) = match self.values {
            Values::Blocking => ("contentions", "delay"),
            Values::Cpu => ("samples", "cpu"),
        };
        let contentions = st.id(first);
        let count = st.id("count");
        let delay = st.id(second);
        let nanoseconds = st.id("nanoseconds");
        vt(&mut p, field::SAMPLE_TYPE, contentions, count);
        vt(&mut p, field::SAMPLE_TYPE, delay, nanoseconds);

        let mut locations: HashMap<u64, u64> = HashMap::new();
        let mut functions: HashMap<(&str, &str), u64> = HashMap::new();
        let mut loc_msgs = Encoder::default();
        let mut fn_msgs = Encoder::default();
        for sample in &self.samples {
            let mut ids = Vec::with_capacity(sample.stack.len());
            for f in &sample.stack {
                let next = locations.len() as u64 + 1;
                let loc = *locations.entry(f.pc).or_insert_with(|| {
                    let next_fn = functions.len() as u64 + 1;
                    let func = *functions
                        .entry((f.file.as_str(), f.function.as_str()))
                        .or_insert_with(|| {
                            let name = st.id(&f.function);
                            let file = st.id(&f.file);
                            fn_msgs.message(field::FUNCTION, |m| {
                                m.uint(1, next_fn);
                                m.uint(2, name);
                                m.uint(3, name);
                                m.uint(4, file);
                            });
                            next_fn
                        });
                    loc_msgs.message(field::LOCATION, |m| {
                        m.uint(1, next);
                        m.uint(3, f.pc);
                        m.message(4, |l| {
                            l.uint(1, func);
                            l.int(2, f.line);
                        });
                    });
                    next
                });
                ids.push(loc);
            }
            p.message(field::SAMPLE, |m| {
                m.packed(1, ids.iter().copied());
                m.packed(2, [sample.count as u64, sample.delay_ns as u64]);
            });
        }
        p.buf.extend_from_slice(&loc_msgs.buf);
        p.buf.extend_from_slice(&fn_msgs.buf);
        let trace = st.id("trace");
        for s in &st.table {
            p.bytes(field::STRING_TABLE, s.as_bytes());
        }
        vt(&mut p, field::PERIOD_TYPE, trace, count);
        p.uint(field::PERIOD, 1);
        p.buf
    }

    /// Writes the profile as `go tool pprof` reads it: the protobuf message,
    /// gzipped.
    pub fn write_pprof(&self, out: impl Write) -> io::Result<()> {
        let mut gz = GzEncoder::new(out, flate2::Compression::default());
        gz.write_all(&self.to_protobuf())?;
        gz.finish()?.flush()
    }

    /// Reads a profile written by [`Profile::write_pprof`] or by Go
    /// (gzipped or not): the samples with their first two values and their
    /// locations' first lines. Other profile contents are ignored.
    pub fn from_pprof(bytes: &[u8]) -> Result<Profile, DecodeError> {
        let unzipped;
        let msg = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut v = Vec::new();
            GzDecoder::new(bytes)
                .read_to_end(&mut v)
                .map_err(|e| DecodeError(format!("gzip: {e}")))?;
            unzipped = v;
            &unzipped[..]
        } else {
            bytes
        };
        decode(msg)
    }

    /// The profile as canonical text, independent of how it was encoded:
    /// one block per sample, sorted; each block is a line `COUNT DELAY_NS`
    /// followed by one line per frame, leaf first,
    /// `\t0xPC FUNCTION FILE:LINE`. The golden files under
    /// `testdata/pprof/` hold Go's profiles in this form.
    pub fn canonical_text(&self) -> String {
        let mut blocks: Vec<String> = self
            .samples
            .iter()
            .map(|s| {
                let mut b = format!("{} {}\n", s.count, s.delay_ns);
                for f in &s.stack {
                    let _ = writeln!(b, "\t{:#x} {} {}:{}", f.pc, f.function, f.file, f.line);
                }
                b
            })
            .collect();
        blocks.sort();
        blocks.concat()
    }

    /// The total of the samples' delays, in nanoseconds.
    pub fn total_delay_ns(&self) -> i64 {
        self.samples.iter().map(|s| s.delay_ns).sum()
    }
}

/// The string table being built for an encoded profile.
#[derive(Debug, Default)]
struct StringTable {
    ids: HashMap<String, u64>,
    table: Vec<String>,
}

impl StringTable {
    fn id(&mut self, s: &str) -> u64 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.table.len() as u64;
        self.table.push(s.to_string());
        self.ids.insert(s.to_string(), i);
        i
    }
}

fn decode(msg: &[u8]) -> Result<Profile, DecodeError> {
    struct RawSample {
        locs: Vec<u64>,
        values: Vec<u64>,
    }
    let mut strings: Vec<&[u8]> = Vec::new();
    let mut raw_samples = Vec::new();
    // Location id → (address, function id, line).
    let mut locations: HashMap<u64, (u64, u64, i64)> = HashMap::new();
    // Function id → (name, file) string indices.
    let mut functions: HashMap<u64, (u64, u64)> = HashMap::new();
    for f in fields(msg) {
        let (num, v) = f?;
        match num {
            field::SAMPLE => {
                let mut s = RawSample {
                    locs: Vec::new(),
                    values: Vec::new(),
                };
                for f in fields(v.bytes()?) {
                    match f? {
                        (1, v) => s.locs.extend(v.ints()?),
                        (2, v) => s.values.extend(v.ints()?),
                        _ => {}
                    }
                }
                raw_samples.push(s);
            }
            field::LOCATION => {
                let (mut id, mut addr, mut func, mut line) = (0, 0, 0, 0);
                let mut first_line = true;
                for f in fields(v.bytes()?) {
                    match f? {
                        (1, v) => id = v.int()?,
                        (3, v) => addr = v.int()?,
                        (4, v) if first_line => {
                            first_line = false;
                            for f in fields(v.bytes()?) {
                                match f? {
                                    (1, v) => func = v.int()?,
                                    (2, v) => line = v.int()? as i64,
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                locations.insert(id, (addr, func, line));
            }
            field::FUNCTION => {
                let (mut id, mut name, mut file) = (0, 0, 0);
                for f in fields(v.bytes()?) {
                    match f? {
                        (1, v) => id = v.int()?,
                        (2, v) => name = v.int()?,
                        (4, v) => file = v.int()?,
                        _ => {}
                    }
                }
                functions.insert(id, (name, file));
            }
            field::STRING_TABLE => strings.push(v.bytes()?),
            _ => {}
        }
    }
    let string = |i: u64| -> Result<String, DecodeError> {
        let b = usize::try_from(i)
            .ok()
            .and_then(|i| strings.get(i))
            .ok_or_else(|| DecodeError(format!("string index {i} out of range")))?;
        Ok(String::from_utf8_lossy(b).into_owned())
    };
    let mut samples = Vec::with_capacity(raw_samples.len());
    for s in raw_samples {
        let mut stack = Vec::with_capacity(s.locs.len());
        for id in s.locs {
            let &(pc, func, line) = locations
                .get(&id)
                .ok_or_else(|| DecodeError(format!("unknown location {id}")))?;
            let (function, file) = match func {
                0 => (String::new(), String::new()),
                f => {
                    let &(name, file) = functions
                        .get(&f)
                        .ok_or_else(|| DecodeError(format!("unknown function {f}")))?;
                    (string(name)?, string(file)?)
                }
            };
            stack.push(Frame {
                pc,
                function,
                file,
                line,
            });
        }
        let value = |i: usize| s.values.get(i).map_or(0, |&v| v as i64);
        samples.push(Sample {
            count: value(0),
            delay_ns: value(1),
            stack,
        });
    }
    Ok(Profile {
        samples,
        values: Values::Blocking,
    })
}
