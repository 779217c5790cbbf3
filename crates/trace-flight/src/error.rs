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
    /// The recorder holds no complete generation to snapshot: every
    /// generation since it started outgrew `max_bytes` and was dropped
    /// (after retries; see [`Stats::generations_dropped`]), or, for a dump
    /// that cannot advance the runtime, none has ended yet. Nothing was
    /// written.
    ///
    /// [`Stats::generations_dropped`]: crate::Stats::generations_dropped
    #[error("the flight recorder holds no complete generation (all were larger than max_bytes, or none ended yet)")]
    NothingRetained,
    /// Writing the snapshot failed.
    #[error("writing the snapshot failed: {0}")]
    Io(#[from] io::Error),
    /// A dump's path names something a dump must not replace or follow: a
    /// symbolic link, a directory, a device, a FIFO or a socket. Nothing was
    /// written.
    #[error("refusing to dump to {}: it is {what}; a dump only creates or replaces a regular file", path.display())]
    UnsafeDumpPath {
        /// The dump's path.
        path: std::path::PathBuf,
        /// What is there (`a symbolic link`, `a directory`, …).
        what: &'static str,
    },
    /// A dump is larger than the dump directory's `max_dir_bytes` (with
    /// room for the manifest) or `max_dumps` is 0; it was not written.
    #[error("a dump of {size} bytes does not fit in the dump directory's cap of {cap} bytes")]
    DumpTooLarge {
        /// The dump's size.
        size: u64,
        /// The directory's cap.
        cap: u64,
    },
    /// [`trigger`](crate::FlightRecorder::trigger) on a recorder made
    /// without a [`TriggerConfig`](crate::TriggerConfig): there is no dump
    /// directory.
    #[error("the flight recorder has no triggers (make it with FlightRecorder::with_triggers)")]
    NoTriggers,
    /// The recorder could not subscribe to, or advance, the trace runtime.
    #[error(transparent)]
    Runtime(#[from] trace_runtime::Error),
}
