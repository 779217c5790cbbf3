//! The wire format of Go execution traces, version 2 (Go 1.22 and later).
//!
//! This crate is the shared vocabulary of the workspace: the event table of
//! each format version, unsigned varints, batch framing, the payloads of the
//! structural batches (strings, stacks, CPU samples, frequency, sync), the
//! tick-to-nanosecond conversion, the line-oriented text form that Go's
//! `go tool trace -d=wire` prints (`-d=2` before Go 1.25), the per-type
//! event counts and sizes behind `-d=footprint` (`footprint`), and Go's
//! unstable sort, whose order of ties shows in Go's output (`gosort`).
//!
//! It knows nothing about threads, clocks, ordering or subscribers. Decoding
//! borrows from the input and allocates nothing per event; every error is a
//! small `Copy` value carrying the byte offset where it was found, with Go's
//! message as its text.
//!
//! # Example
//!
//! ```
//! use trace_wire::{BatchKind, Batches, EventCursor};
//!
//! # let trace = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace"))?;
//! let mut batches = Batches::new(&trace)?;
//! let version = batches.version();
//! let mut n_events = 0;
//! while let Some(batch) = batches.next_batch()? {
//!     if batch.kind(version) == BatchKind::Events {
//!         let mut events = EventCursor::new(batch.payload, version, batch.payload_offset);
//!         while let Some(_event) = events.next_event()? {
//!             n_events += 1;
//!         }
//!     }
//! }
//! assert!(n_events > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod error;
mod event;
pub mod footprint;
pub mod gosort;
mod spec;
mod tables;
pub mod text;
mod time;
pub mod varint;
mod write;

pub use batch::{
    parse_batch_header, read_header, Batch, BatchHeader, BatchKind, BatchReader, Batches, Framed,
    SizeEncoding, MAX_BATCH_SIZE, NO_THREAD,
};
pub use error::{BatchField, Error, ErrorKind, FrameField, IoCause};
pub use event::{EventCursor, RawEvent, MAX_ARGS};
pub use spec::{ty, EventSpec, Experiment, Version, HEADER_LEN};
pub use tables::{
    parse_frequency, parse_sync, CpuSamples, RawClockSnapshot, RawCpuSample, RawFrame, StackEntry,
    Stacks, Strings, SyncBatch, MAX_FRAMES_PER_STACK, MAX_STRING_SIZE,
};
pub use time::Frequency;
pub use write::{encode_stack, encode_string, TableWriter};

#[doc(hidden)]
pub mod fuzzing;
