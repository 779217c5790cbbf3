//! Rewrites Go execution traces (format v2, Go 1.22 to 1.26's format): at
//! the wire level, one generation at a time (redact user strings, cut a
//! trace down to some generations, re-encode it), and at the event level
//! (write events in the reader's vocabulary as a trace, keep some of them).
//!
//! * [`rewrite`] reads a trace held in memory generation by generation,
//!   hands each [`Generation`] to a [`Transform`], and writes the result.
//!   Untouched generations are copied byte for byte (each generation stands
//!   alone); in a touched one, every batch that changed is encoded again
//!   with correct lengths (string data, stack frames, batch sizes, batches
//!   split at the 64 KiB limit) and the others are copied.
//! * A transform edits the generation's string table ([`StringTable`]),
//!   stack table ([`StackTable`]) and the timed events of its event batches
//!   ([`Generation::edit_events`]), or drops the whole generation.
//! * [`Redactor`] replaces task and region names, log categories and
//!   messages, goroutine labels, and the function and file names of frames
//!   outside an allow-list ([`RedactOptions`]), consistently over the whole
//!   trace, and counts what it replaced ([`Report`]).
//! * [`Cut`] keeps the generations of a time window or a range
//!   ([`Selection`]).
//! * [`EventWriter`] writes [`trace_reader::Event`]s, fed in the reader's
//!   order, as a trace of Go 1.26's format that reads back to the same
//!   events: it runs Go's reader state machine over its output, so that it
//!   writes each event in its thread's batches with the sequence numbers
//!   Go's ordering expects, the statuses a generation needs (of everything
//!   alive where it starts a generation itself), and per-generation string
//!   and stack tables ([`WriterOptions`], [`WriteSummary`]).
//! * [`filter_events`] keeps some events of a trace ([`EventFilter`]:
//!   goroutines, tasks with their goroutines, a time window, event kinds),
//!   writing them with the [`EventWriter`]: a window starts with the status
//!   of every goroutine and proc alive at its start, then holds exactly the
//!   input's events of the window.
//!
//! The wire-level rewrites keep events' bytes, ids and timestamps, so the
//! output's events are the input's and nothing about the scheduler is
//! re-synthesized, but only whole generations can be left out. Keeping part
//! of a generation (a goroutine, a shorter window) needs statuses written
//! again, which is what the event writer does.
//!
//! # Example
//!
//! ```
//! use trace_rewrite::{rewrite, RedactOptions, Redactor};
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let input = std::fs::read(path)?;
//! let mut redactor = Redactor::new(RedactOptions::default().keep_func("main.*"));
//! let mut out = Vec::new();
//! let summary = rewrite(&input, &mut redactor, &mut out)?;
//! assert_eq!(summary.n_written, summary.n_generations);
//! println!("{}", redactor.report().to_json());
//!
//! // The output is a trace with the same events, its strings replaced.
//! let n_events = |t: &[u8]| trace_reader::Reader::new(t).unwrap().count();
//! assert_eq!(n_events(&out), n_events(&input));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cut;
mod error;
mod generation;
mod redact;
mod rewrite;
mod select;
mod writer;

#[doc(hidden)]
pub mod fuzzing;

pub use cut::{Cut, Selection};
pub use error::Error;
pub use generation::{EventEdit, Generation, StackTable, StringTable};
pub use redact::{Category, CategoryCount, RedactOptions, Redactor, Report};
pub use rewrite::{rewrite, Summary, Transform};
pub use select::{filter_events, EventFilter};
pub use writer::{EventWriter, Summary as WriteSummary, WriterOptions};
