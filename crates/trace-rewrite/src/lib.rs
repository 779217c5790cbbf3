//! Rewrites Go execution traces (format v2, Go 1.22 to 1.26's format) at the
//! wire level, one generation at a time: redact user strings, cut a trace
//! down to some generations, re-encode it.
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
//!
//! A key design decision is to stay at the wire level: events keep their
//! bytes, ids and timestamps, so the output's events are the input's, and
//! nothing about the scheduler has to be re-synthesized. The price is that
//! only whole generations can be left out; keeping part of a generation (a
//! goroutine, a shorter window) needs statuses written again at the cut,
//! which an event-level writer would do.
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
