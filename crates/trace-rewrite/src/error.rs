//! The one error type of this crate.

/// Why a trace could not be rewritten.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well formed at the wire level (Go's message, and the
    /// byte offset where it was found).
    #[error("{source} (at byte {})", source.offset())]
    Wire {
        /// The decoding error.
        #[from]
        source: trace_wire::Error,
    },
    /// A transform set a string longer than the format allows.
    #[error("string {id} of generation {gen} would be {len} bytes long, maximum is 1024")]
    StringTooLong {
        /// The generation.
        gen: u64,
        /// The string id.
        id: u64,
        /// The length it would have.
        len: usize,
    },
    /// A transform set a stack with more frames than the format allows.
    #[error("stack {id} of generation {gen} would have {len} frames, maximum is 128")]
    StackTooLarge {
        /// The generation.
        gen: u64,
        /// The stack id.
        id: u64,
        /// The number of frames it would have.
        len: usize,
    },
    /// A cut selected no generation of the trace.
    #[error("no generation of the trace ({n_generations} in all) is in the selection")]
    EmptySelection {
        /// How many generations the trace has.
        n_generations: usize,
    },
    /// An event cannot be written where it comes: the events before it
    /// leave a state in which Go's reader would reject it (with
    /// [`WriterOptions::repair`](crate::WriterOptions::repair), it is left
    /// out instead).
    #[error("cannot write the {event} event at {time} ns: {why}")]
    Unwritable {
        /// The event's time.
        time: i64,
        /// Go's name of the event type.
        event: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// The event writer writes Go 1.23's and Go 1.26's formats only.
    #[error("the event writer cannot write {0:?}'s format (Go 1.23's and Go 1.26's only)")]
    UnsupportedVersion(trace_wire::Version),
    /// An event filter kept no event of the trace.
    #[error("no event of the trace is in the selection")]
    NothingSelected,
    /// Reading the input failed.
    #[error(transparent)]
    Read(#[from] trace_reader::Error),
    /// Writing the output failed.
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
}
