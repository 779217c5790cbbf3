//! Reads Go execution traces (format v2, Go 1.22 and later) into the ordered,
//! validated event stream Go's own reader produces.
//!
//! This is a reimplementation of Go's `internal/trace` reader (the code behind
//! `golang.org/x/exp/trace` and `go tool trace`): the same events, in the
//! same order, with the same timestamps and the same error messages, for
//! traces of every format from Go 1.22 to Go 1.26's (which Go 1.26 and 1.27
//! write). An [`Event`]'s `Display` is exactly Go 1.27's `Event.String()`,
//! so printing every event reproduces `go tool trace -d=parsed`; with
//! [`Compat::Go123`] and [`Event::go123`] it reproduces Go 1.23's
//! `go tool trace -d=1`.
//!
//! * [`Reader`] reads a trace from any [`std::io::Read`], one generation at a
//!   time, and yields [`Event`]s ([`Reader::read_event`] or the `Iterator`);
//!   large traces are decoded on a background thread ([`Threading`]).
//! * [`Event`] has the common accessors ([`Event::kind`], [`Event::time`],
//!   [`Event::goroutine`], [`Event::proc`], [`Event::thread`],
//!   [`Event::stack`]) and one view per kind ([`Event::state_transition`],
//!   [`Event::range`], [`Event::task`], [`Event::log`], [`Event::sync`], …).
//! * [`Error`] is Go's error message plus where it happened.
//! * [`validate`] and [`Validator`] re-check the stream as Go's test
//!   validator does.
//! * [`EventBuilder`] makes events by hand, as Go's `trace.MakeEvent` does
//!   (for writers and tests).
//!
//! # Before writing an analysis
//!
//! Much of what people compute from a trace is already computed, on this
//! reader, in the `trace-analysis` crate (each fed one event at a time, so
//! they combine in one pass):
//!
//! | to get | use |
//! |---|---|
//! | per-goroutine execution, scheduler wait, block time by reason, syscalls, regions | `trace_analysis::summary` (Go's goroutine analysis) |
//! | blocking profiles (`sync`, `net`, `syscall`, `sched`) for `go tool pprof` | `trace_analysis::pprof` |
//! | task and region latencies (percentiles, the slowest instance), GC and STW pauses, goroutines by start function | `trace_analysis::stats` |
//! | CI latency gates | `trace_analysis::check` |
//! | a Perfetto/Chrome JSON timeline | `trace_analysis::chrome` |
//!
//! Each implements [`Consume`], and [`Reader::feed`] drives any consumer (or
//! a pair of them, or a closure with [`consume::from_fn`]) to the end of
//! the trace with Go's end-of-trace rule.
//!
//! Small helpers here: [`StateTransition::start_function`] (the name Go's
//! tools give a goroutine), `later - earlier` on [`Time`] (a
//! [`std::time::Duration`]), [`Reader::read_event_ref`] for loops that do
//! not keep events.
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
//!     // `event.to_string()` is the line `go tool trace -d=parsed` prints.
//! }
//! assert!(created > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What changed with Go 1.25–1.27 (and in this crate)
//!
//! * **Sync events.** Today's reader yields a [`EventKind::Sync`] at the
//!   start of every generation and one after the last, for traces of every
//!   version; [`SyncInfo::n`] counts them from 1, and in Go 1.25+ traces
//!   [`SyncInfo::clock_snapshot`] carries the generation's trace, monotonic
//!   and wall clocks (a trace can be lined up with logs). Go 1.23 yielded one
//!   after each generation; [`Compat::Go123`] keeps that for Go 1.22 and 1.23
//!   traces.
//! * **Go 1.26 framing.** Each generation ends with an end-of-generation
//!   event; nothing of the next generation is read ahead. A read error loses
//!   the generation it happens in (Go's "incomplete generation found; trace
//!   likely truncated" for a cut trace), and comes after a sync event.
//! * **Goroutine statuses.** The transition of a goroutine status that
//!   carries a stack (at a generation's start) has that stack as its
//!   [`StateTransition::stack`] too, as in Go 1.26+.
//! * **Text.** `Display` and [`Event::write_go`] print Go 1.27's
//!   `Event.String()`: `GoID=N From->To Reason="…"`, values as
//!   `Value{Uint64(N)}`, experimental events as `Args=[name=Value{…}, …]`,
//!   syncs with `N=`, `Trace=`, `Mono=` and `Wall=` (in UTC, as Go prints it
//!   with `TZ=UTC`). [`Event::go123`] and [`Event::write_go123`] print Go
//!   1.23's.
//! * **Frequency batches** of Go 1.22 and 1.23 traces are read to their end,
//!   as Go 1.25+ reads them (extra bytes after the frequency are an error).
//!
//! # Differences from Go
//!
//! * Where Go accepts an event that it would then crash printing (a status
//!   value out of range, a CPU sample with an undeclared stack, …), this
//!   reader reports an error when it reaches the event.
//! * The debugging dumps inside `broken trace` errors list goroutines, procs
//!   and threads sorted by id (Go prints them in random map order).
//! * Traces in the pre-1.22 format, which Go converts with a separate parser,
//!   are rejected as unsupported versions.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chunk;
pub mod consume;
mod core;
mod cursor;
mod display;
mod error;
mod event;
mod framing;
#[doc(hidden)]
pub mod fuzzing;
mod generation;
mod idmap;
mod make;
mod options;
mod order;
mod pipeline;
mod quote;
mod reader;
mod specs;
mod tables;
mod types;
mod validate;

pub use consume::{Consume, Stop};
pub use display::Go123Text;
pub use error::{ContextViolation, Error, ErrorKind};
pub use event::{
    Event, EventKind, ExperimentalEvent, Frame, Label, Log, Metric, Range, RangeAttribute,
    RangeName, Region, Stack, StateChange, StateTransition, SyncInfo, Task, WireForm,
};
pub use make::{EventBuilder, FrameSpec, MakeError};
pub use options::{Compat, Options, Threading};
pub use reader::Reader;
pub use tables::{ClockSnapshot, ExperimentalBatch, ExperimentalData};
pub use trace_wire::{Experiment, Version};
pub use types::{
    GoId, GoState, ProcId, ProcState, ResourceId, ResourceKind, TaskId, ThreadId, Time, TraceStr,
    Value, BACKGROUND_TASK, NO_GOROUTINE, NO_PROC, NO_TASK, NO_THREAD,
};
pub use validate::{validate, validate_with, Report, Validator, Violation};
