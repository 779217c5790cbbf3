//! What `go tool trace` computes from a Go execution trace, without Go.
//!
//! Built on [`trace_reader`]'s ordered event stream, every analysis here is
//! fed one event at a time, in one pass, and never holds on to events: it
//! keeps state per goroutine, proc, thread, stack, task or region (and a
//! few bytes per blocking episode for profiles), so traces of any size go
//! through.
//!
//! * [`summary`]: per-goroutine time accounting and user regions, after Go's
//!   goroutine summaries.
//! * [`pprof`]: the four blocking profiles of `go tool trace -pprof=KIND`
//!   (sync, net, syscall, sched), written as pprof protobuf.
//! * [`chrome`]: Chrome trace-event JSON for Perfetto UI and
//!   `chrome://tracing`, streamed.
//! * [`stats`]: whole-trace statistics: event counts, GC, tasks and regions
//!   with latency distributions, goroutines grouped by start function.
//! * [`check`]: latency bounds on region and task types, for CI gates.
//! * [`doctor`]: what limits what a trace can tell (no stacks, no CPU
//!   samples, no wall clock, clock trouble, truncation), in one line.
//! * [`layout`]: which thread and proc each goroutine occupies, as
//!   timelines draw it (the Chrome export and `trace-view` share it).
//! * [`mmu`]: minimum mutator utilization: the GC's worst share of the
//!   procs over windows of each length.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod intern;
mod json;
mod proto;

pub mod check;
pub mod chrome;
pub mod doctor;
pub mod layout;
pub mod mmu;
pub mod pprof;
pub mod stats;
pub mod summary;
