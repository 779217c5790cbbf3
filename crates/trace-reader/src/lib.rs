//! Reads Go execution traces (format v2, Go 1.22 and later) into the ordered,
//! validated event stream Go's own reader produces.
//!
//! This is a reimplementation of Go's `internal/trace` reader (the code behind
//! `golang.org/x/exp/trace` and `go tool trace`): the same events, in the
//! same order, with the same timestamps and the same error messages. An
//! [`Event`]'s `Display` is exactly Go 1.23's `Event.String()`, so printing
//! every event reproduces `go tool trace -d=1`.
//!
//! * [`Reader`] reads a trace from any [`std::io::Read`], one generation at a
//!   time, and yields [`Event`]s ([`Reader::read_event`] or the `Iterator`);
//!   large traces are decoded on a background thread ([`Threading`]).
//! * [`Event`] has the common accessors ([`Event::kind`], [`Event::time`],
//!   [`Event::goroutine`], [`Event::proc`], [`Event::thread`],
//!   [`Event::stack`]) and one view per kind ([`Event::state_transition`],
//!   [`Event::range`], [`Event::task`], [`Event::log`], …).
//! * [`Error`] is Go's error message plus where it happened.
//!
//! # Example
//!
//! ```
//! use trace_reader::{Reader, StateChange, GoState};
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let reader = Reader::new(std::fs::File::open(path)?)?;
//! let mut created = 0;
//! for event in reader {
//!     let event = event?;
//!     if let Some(t) = event.state_transition() {
//!         if let StateChange::Goroutine { from: GoState::NotExist, .. } = t.change {
//!             created += 1;
//!         }
//!     }
//!     // `event.to_string()` is the line `go tool trace -d=1` prints.
//! }
//! assert!(created > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Differences from Go 1.23
//!
//! * A generation without any event (possible in hand-written traces, and
//!   accepted by newer Go readers) yields just its `Sync` event instead of
//!   failing with `broken trace: frontier is empty`, unless it is the first
//!   generation of the trace.
//! * Where Go 1.23 accepts an event that it would then crash printing (a
//!   status value out of range, a CPU sample with an undeclared stack, …),
//!   this reader reports an error when it reaches the event.
//! * The debugging dumps inside `broken trace` errors list goroutines, procs
//!   and threads sorted by id (Go prints them in random map order).
//! * Go 1.23 cannot read Go 1.25 traces; for those this reader follows Go
//!   1.25's reader (`golang.org/x/exp/trace`), but `Display` keeps Go 1.23's
//!   format (the sync number and clock snapshot are available through
//!   [`Event::sync`]). Go 1.26 traces, whose end-of-generation signal is not
//!   verified yet, are read as 1.25 traces.
//! * Traces in the pre-1.22 format are rejected as unsupported versions.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cursor;
mod display;
mod error;
mod event;
mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod generation;
mod gosort;
mod idmap;
mod order;
mod pipeline;
mod quote;
mod reader;
mod specs;
mod tables;
mod types;
mod validate;

pub use display::Go123Text;
pub use error::{ContextViolation, Error, ErrorKind};
pub use event::{
    Event, EventKind, ExperimentalEvent, Frame, Label, Log, Metric, Range, RangeAttribute,
    RangeName, Region, Stack, StateChange, StateTransition, SyncInfo, Task,
};
pub use reader::{Compat, Options, Reader, Threading};
pub use tables::{ClockSnapshot, ExperimentalBatch, ExperimentalData};
pub use trace_wire::{Experiment, Version};
pub use types::{
    GoId, GoState, ProcId, ProcState, ResourceId, ResourceKind, TaskId, ThreadId, Time, TraceStr,
    Value, BACKGROUND_TASK, NO_GOROUTINE, NO_PROC, NO_TASK, NO_THREAD,
};
pub use validate::{validate, Report, Validator, Violation};
