//! The crate's error type.

use std::io;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`start`](crate::FlightRecorder::start) was called on a recorder that
    /// is already started.
    #[error("the flight recorder is already started")]
    AlreadyStarted,
    /// A snapshot was asked of a recorder that is not started (never
    /// started, or stopped).
    #[error("cannot snapshot a flight recorder that is not started")]
    NotStarted,
    /// Another snapshot of this recorder is in progress; nothing was
    /// written. Callers use the other snapshot.
    #[error("a snapshot of this flight recorder is already in progress")]
    SnapshotActive,
    /// Writing the snapshot failed.
    #[error("writing the snapshot failed: {0}")]
    Io(#[from] io::Error),
    /// The recorder could not subscribe to, or advance, the trace runtime.
    #[error(transparent)]
    Runtime(#[from] trace_runtime::Error),
}
