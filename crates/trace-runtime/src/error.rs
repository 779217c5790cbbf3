//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`start`](crate::start) was called while a stream is active.
    #[error("tracing is already streaming")]
    AlreadyStreaming,
    /// [`stop`](crate::stop) was called without an active stream.
    #[error("tracing is not streaming")]
    NotStreaming,
    /// The trace file could not be created
    /// ([`stream_file`](crate::stream_file)).
    #[error("creating the trace file {}: {source}", path.display())]
    CreateFile {
        /// The file's path.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The stream's writer failed; the stream ended at the last generation
    /// boundary.
    #[error("writing the trace failed: {0}")]
    Writer(#[source] io::Error),
    /// The stream's writer fell further behind than the configured backlog
    /// allows; the stream ended at the last generation boundary.
    #[error("the trace writer fell more than {backlog} bytes behind")]
    WriterTooSlow {
        /// The configured limit, in bytes.
        backlog: usize,
    },
    /// The operation waits for the recorder's flusher thread, so it cannot be
    /// called from a subscriber callback (which runs on that thread).
    #[error("called from a subscriber callback, where it would deadlock")]
    WouldDeadlock,
    /// The recorder's background thread could not be started.
    #[error("could not start the recorder's thread: {0}")]
    Spawn(#[source] io::Error),
    /// The setting can only be changed before tracing first starts.
    #[error("the clock can only be chosen before tracing first starts")]
    ClockFixed,
    /// The trace format can only change while tracing is off: the
    /// configured format applies from the next tracing session, this one
    /// goes on in `in_use`.
    #[error("tracing is on in the {in_use} format; the new format applies from the next session")]
    FormatFixed {
        /// The format of the current session.
        in_use: crate::Format,
    },
}
