//! The trace doctor: what about a trace limits what can be learned from it,
//! in one line. No stacks (profiles and the viewer cannot say where), no CPU
//! samples (nothing says where the CPU went), no wall clock (the trace
//! cannot be lined up with logs), clocks that disagree, and a trace that
//! ends early.
//!
//! ```
//! use trace_analysis::doctor::Doctor;
//! use trace_reader::Reader;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let mut doctor = Doctor::new();
//! let res = Reader::new(std::fs::File::open(path)?)?.feed(&mut doctor);
//! let diagnosis = doctor.finish(res.err().as_ref().map(|e| match e {
//!     trace_reader::Stop::Trace(e) => e,
//!     trace_reader::Stop::Consumer(never) => match *never {},
//! }));
//! // A Go 1.23 trace: no wall clock, and this program did no CPU profiling.
//! assert!(diagnosis.to_string().contains("no CPU samples"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::convert::Infallible;
use std::fmt;

use trace_reader::{ClockSnapshot, Event, EventKind, GoState};

/// Between two clock snapshots further apart than this (ns), trace and
/// monotonic time must agree within [`MAX_SKEW`].
const MIN_SPAN_NS: i64 = 10_000_000;

/// The largest relative difference between the trace clock and the
/// monotonic clock over a span that is not reported.
const MAX_SKEW: f64 = 0.01;

/// The largest step of the wall clock against the monotonic clock between
/// two snapshots that is not reported (ns).
const MAX_WALL_STEP_NS: i64 = 1_000_000_000;

/// One thing the doctor found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Finding {
    /// No event that can carry a stack has one: the program was traced
    /// without stacks.
    NoStacks {
        /// Events that could have had a stack.
        events: u64,
    },
    /// No CPU profile samples: the program's CPU profiler was off.
    NoCpuSamples,
    /// The trace has no clock snapshots (formats before Go 1.25's): its
    /// times cannot be lined up with wall-clock logs.
    NoWallClock,
    /// Over `span_ns` of monotonic time between two generations, the trace
    /// clock moved by a different amount (`skew` is the relative error).
    ClockSkew {
        /// The generation (sync number) where the span ends.
        generation: u64,
        /// The monotonic time between the two snapshots.
        span_ns: i64,
        /// (trace − monotonic) / monotonic.
        skew: f64,
    },
    /// The wall clock stepped against the monotonic clock between two
    /// generations (a clock adjustment such as NTP).
    WallClockStep {
        /// The generation (sync number) where the step shows.
        generation: u64,
        /// The step (wall − monotonic movement), in ns.
        step_ns: i64,
    },
    /// The trace ends early: the reader stopped at this error.
    Truncated {
        /// Go's message.
        message: String,
        /// The generation the reader was in.
        generation: Option<u64>,
    },
    /// The trace has no events.
    Empty,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::NoStacks { events } => write!(
                f,
                "no stacks ({events} events could have one): profiles and the viewer cannot say where"
            ),
            Finding::NoCpuSamples => {
                f.write_str("no CPU samples: nothing says where the CPU went")
            }
            Finding::NoWallClock => f.write_str(
                "no wall clock (a format before Go 1.25's): times cannot be lined up with logs",
            ),
            Finding::ClockSkew {
                generation,
                span_ns,
                skew,
            } => write!(
                f,
                "trace clock off the monotonic clock by {:.2}% over {:.3} s before generation {generation}",
                skew * 100.0,
                *span_ns as f64 / 1e9
            ),
            Finding::WallClockStep {
                generation,
                step_ns,
            } => write!(
                f,
                "wall clock stepped by {:+.3} s before generation {generation}",
                *step_ns as f64 / 1e9
            ),
            Finding::Truncated {
                message,
                generation,
            } => match generation {
                Some(g) => write!(f, "truncated in generation {g}: {message}"),
                None => write!(f, "truncated: {message}"),
            },
            Finding::Empty => f.write_str("no events"),
        }
    }
}

/// What the doctor found, in stream order of discovery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnosis {
    /// Each finding; none for a healthy trace.
    pub findings: Vec<Finding>,
}

impl Diagnosis {
    /// Whether nothing limits the trace.
    pub fn is_healthy(&self) -> bool {
        self.findings.is_empty()
    }
}

impl fmt::Display for Diagnosis {
    /// One line: `ok`, or the findings separated by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() {
            return f.write_str("ok");
        }
        for (i, finding) in self.findings.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// Examines a trace one event at a time (a [`trace_reader::Consume`]).
#[derive(Debug, Default)]
pub struct Doctor {
    events: u64,
    /// Events that could carry a stack, and those that did.
    stackable: u64,
    with_stack: u64,
    cpu_samples: u64,
    syncs: u64,
    snapshots: u64,
    last_snapshot: Option<ClockSnapshot>,
    findings: Vec<Finding>,
}

impl Doctor {
    /// A doctor that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether it has seen an event other than a generation's sync: a
    /// trace that stops before one says nothing of its own.
    pub fn saw_more_than_syncs(&self) -> bool {
        self.events > self.syncs
    }

    /// Takes in the next event.
    pub fn event(&mut self, ev: &Event) {
        self.events += 1;
        match ev.kind() {
            EventKind::Sync => {
                self.syncs += 1;
                if let Some(snap) = ev.sync().and_then(|s| s.clock_snapshot) {
                    self.snapshot(snap);
                }
            }
            EventKind::StackSample => self.cpu_samples += 1,
            EventKind::StateTransition => {
                // Blocking and creation carry the goroutine's stack when
                // the program collects stacks.
                if let Some(st) = ev.state_transition() {
                    if let Some((from, to)) = st.goroutine() {
                        let blocks = from == GoState::Running && to == GoState::Waiting;
                        let creates = from == GoState::NotExist;
                        if blocks || creates {
                            self.stackable += 1;
                            let has = |s: Option<trace_reader::Stack<'_>>| {
                                s.is_some_and(|s| !s.is_empty())
                            };
                            if has(ev.stack()) || has(st.stack) {
                                self.with_stack += 1;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn snapshot(&mut self, snap: ClockSnapshot) {
        self.snapshots += 1;
        if let Some(prev) = self.last_snapshot {
            let mono = snap.mono as i64 - prev.mono as i64;
            let trace = snap.trace.nanos_since(prev.trace);
            if mono >= MIN_SPAN_NS {
                let skew = (trace - mono) as f64 / mono as f64;
                if skew.abs() > MAX_SKEW {
                    self.findings.push(Finding::ClockSkew {
                        generation: self.syncs,
                        span_ns: mono,
                        skew,
                    });
                }
            }
            let wall = (snap.wall_sec - prev.wall_sec)
                .saturating_mul(1_000_000_000)
                .saturating_add(snap.wall_nsec - prev.wall_nsec);
            let step = wall.saturating_sub(mono);
            if step.abs() > MAX_WALL_STEP_NS {
                self.findings.push(Finding::WallClockStep {
                    generation: self.syncs,
                    step_ns: step,
                });
            }
        }
        self.last_snapshot = Some(snap);
    }

    /// What was found; `error` is where the reader stopped, if it did.
    pub fn finish(self, error: Option<&trace_reader::Error>) -> Diagnosis {
        let mut findings = Vec::new();
        if self.events == 0 && error.is_none() {
            findings.push(Finding::Empty);
        }
        if self.stackable > 0 && self.with_stack == 0 {
            findings.push(Finding::NoStacks {
                events: self.stackable,
            });
        }
        // Sync events are the reader's; a trace that stops before any event
        // of its own says nothing about samples.
        if self.saw_more_than_syncs() && self.cpu_samples == 0 {
            findings.push(Finding::NoCpuSamples);
        }
        // A whole generation read without a clock snapshot.
        if self.syncs >= 2 && self.snapshots == 0 {
            findings.push(Finding::NoWallClock);
        }
        findings.extend(self.findings);
        if let Some(e) = error {
            findings.push(Finding::Truncated {
                message: e.to_string(),
                generation: e.generation(),
            });
        }
        Diagnosis { findings }
    }
}

impl trace_reader::Consume for Doctor {
    type Error = Infallible;

    fn event(&mut self, ev: &Event) -> Result<(), Infallible> {
        Doctor::event(self, ev);
        Ok(())
    }
}
