//! The one error type of this crate.
//!
//! Every error carries the byte offset in the input where it was found. The
//! message (`Display`) is exactly the text Go's reader uses for the same
//! problem, so that error output can be compared with Go's.

use std::fmt;

use crate::spec::Version;

/// A decoding error, with the byte offset where it happened.
///
/// Small and `Copy`, so returning it from hot loops costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
    offset: u64,
}

impl Error {
    /// Creates an error of `kind` found at byte `offset` of the input.
    pub fn new(kind: ErrorKind, offset: u64) -> Self {
        Self { kind, offset }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the input (counting the file header) where it went
    /// wrong.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// The failure of a low-level read, printed as Go prints the corresponding
/// `io` or `encoding/binary` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoCause {
    /// The input ended before anything was read (`EOF`).
    Eof,
    /// The input ended in the middle of a value (`unexpected EOF`).
    UnexpectedEof,
    /// A varint was longer than ten bytes or did not fit in 64 bits.
    Overflow,
    /// The underlying reader failed.
    Io(std::io::ErrorKind),
}

impl fmt::Display for IoCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoCause::Eof => f.write_str("EOF"),
            IoCause::UnexpectedEof => f.write_str("unexpected EOF"),
            IoCause::Overflow => f.write_str("binary: varint overflows a 64-bit integer"),
            IoCause::Io(kind) => write!(f, "{kind}"),
        }
    }
}

/// A field of a batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchField {
    /// The generation number.
    Gen,
    /// The thread (M) id.
    M,
    /// The base timestamp.
    Time,
    /// The payload size.
    Size,
}

impl fmt::Display for BatchField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BatchField::Gen => "gen",
            BatchField::M => "M ID",
            BatchField::Time => "timestamp",
            BatchField::Size => "size",
        })
    }
}

/// A field of a stack frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameField {
    /// The program counter.
    Pc,
    /// The function name's string id.
    Func,
    /// The file name's string id.
    File,
    /// The line number.
    Line,
}

impl fmt::Display for FrameField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameField::Pc => "PC",
            FrameField::Func => "funcID",
            FrameField::File => "fileID",
            FrameField::Line => "line",
        })
    }
}

/// What went wrong. The `Display` text is Go's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file does not start with a Go trace header.
    #[error("bad file format: not a Go execution trace?")]
    BadHeader,
    /// The header names a version this crate does not know.
    #[error("unknown or unsupported trace version go 1.{0}")]
    UnsupportedVersion(u32),
    /// A plain read failure where Go reports the bare I/O error.
    #[error("{0}")]
    Io(IoCause),
    /// Reading a batch header field failed.
    #[error("error reading batch {field}: {cause}")]
    BatchHeader {
        /// The field being read.
        field: BatchField,
        /// Why it failed.
        cause: IoCause,
    },
    /// A byte that does not start a batch where a batch was expected.
    #[error("expected batch event, got {}", EventName(*version, *ty))]
    ExpectedBatch {
        /// The offending type byte.
        ty: u8,
        /// The trace's version, which decides how the byte is named.
        version: Version,
    },
    /// A batch payload larger than [`crate::MAX_BATCH_SIZE`].
    #[error("invalid batch size {0}, maximum is 65536")]
    BatchTooLarge(u64),
    /// The input ended inside a batch payload.
    #[error("failed to read full batch: read {read} but wanted {wanted}")]
    BatchTruncated {
        /// Payload bytes present.
        read: u64,
        /// Payload bytes announced by the header.
        wanted: u64,
    },
    /// An event type byte that no event has.
    #[error("found invalid event type: {0}")]
    InvalidEventType(u8),
    /// A structural (untimed) event inside an event batch.
    #[error("found event without a timestamp: type={0}")]
    EventWithoutTimestamp(u8),
    /// A bad varint where an event's time delta was expected.
    #[error("found invalid uvarint for timestamp")]
    InvalidTimestamp,
    /// A bad varint where an event argument was expected.
    #[error("found invalid uvarint")]
    InvalidArgument,
    /// A strings batch that does not start with the `Strings` byte.
    #[error("missing strings batch header")]
    MissingStringsHeader,
    /// Something other than a `String` entry in a strings batch.
    #[error("expected string event, got {0}")]
    ExpectedString(u8),
    /// A string longer than [`crate::MAX_STRING_SIZE`].
    #[error("invalid string size {0}, maximum is 1024")]
    StringTooLarge(u64),
    /// The batch ended inside a string's bytes.
    #[error("failed to read full string: read {read} but wanted {wanted}")]
    StringTruncated {
        /// Bytes present.
        read: u64,
        /// Bytes announced.
        wanted: u64,
    },
    /// A stacks batch that does not start with the `Stacks` byte.
    #[error("missing stacks batch header")]
    MissingStacksHeader,
    /// Something other than a `Stack` entry in a stacks batch.
    #[error("expected stack event, got {0}")]
    ExpectedStack(u8),
    /// A stack with more than [`crate::MAX_FRAMES_PER_STACK`] frames.
    #[error("invalid stack size {0}, maximum is 128")]
    StackTooLarge(u64),
    /// A stack frame could not be read.
    #[error("reading frame {index}'s {field} for stack {stack}: {cause}")]
    Frame {
        /// The frame's position, counting from 1.
        index: u64,
        /// The field being read.
        field: FrameField,
        /// The stack's id.
        stack: u64,
        /// Why it failed.
        cause: IoCause,
    },
    /// A CPU samples batch that does not start with the `CPUSamples` byte.
    #[error("missing CPU samples batch header")]
    MissingCpuSamplesHeader,
    /// Something other than a `CPUSample` entry in a samples batch.
    #[error("expected CPU sample event, got {0}")]
    ExpectedCpuSample(u8),
    /// A sync batch (1.25+) that does not start with the `Sync` byte.
    #[error("missing sync batch header")]
    MissingSyncHeader,
    /// Something other than a frequency or clock snapshot in a sync batch.
    #[error("expected frequency or clock snapshot event, got {0}")]
    ExpectedFrequencyOrClock(u8),
    /// Two frequencies in one generation.
    #[error("found multiple frequency events")]
    MultipleFrequencies,
    /// Two clock snapshots in one generation.
    #[error("found multiple clock snapshot events")]
    MultipleClockSnapshots,
    /// A data payload larger than this crate will hold in memory.
    #[error("data of {0} bytes is larger than the input")]
    DataTooLarge(u64),
    /// A type byte that is zero or past the end of the event table, as Go's
    /// raw reader (`go tool trace -d=wire`, the text form) reports it.
    #[error("invalid event type: {0}")]
    RawInvalidEventType(u8),
}

/// Formats an event type byte as Go's `EventString` does for a version.
struct EventName(Version, u8);

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let EventName(version, ty) = *self;
        if version >= Version::Go125 {
            return write!(f, "event {ty}");
        }
        match version.spec(ty) {
            Some(spec) => f.write_str(spec.name),
            None => write!(f, "Invalid({ty})"),
        }
    }
}
