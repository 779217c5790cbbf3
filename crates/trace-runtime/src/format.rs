//! The trace formats the recorder writes.
//!
//! The two formats share every timed event, batch header and table; they
//! differ only in what frames a generation, which the flusher writes (see
//! `runtime.rs`): a Go 1.26 generation opens with a sync batch (`Sync`,
//! `Frequency`, `ClockSnapshot`) and ends with an `EndOfGeneration` event,
//! a Go 1.23 generation has a lone `Frequency` batch. So the recording
//! threads never look at the format; only generation-level code does.
//!
//! The format is fixed for a tracing *session*: from the moment tracing
//! turns on (the first subscriber joins) until it turns off (the last one
//! leaves). Subscribers join and leave between generations, and a trace
//! is a file header followed by consecutive generations of one format, so
//! every subscriber of a session receives generations of the same format,
//! and learns which from [`Subscriber::on_join`](crate::Subscriber::on_join)
//! before its first bytes.

use std::fmt;

use trace_wire::Version;

/// The trace format the recorder writes, chosen with
/// [`Config::format`](crate::Config::format).
///
/// ```
/// use trace_runtime::Format;
///
/// assert_eq!(Format::default(), Format::Go126);
/// assert_eq!(&Format::Go126.header(), b"go 1.26 trace\0\0\0");
/// assert_eq!(&Format::Go123.header(), b"go 1.23 trace\0\0\0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// What Go 1.26 and Go 1.27 write (header `go 1.26 trace`), the
    /// default: each generation opens with a sync batch holding the tick
    /// frequency and a clock snapshot (trace time, `CLOCK_MONOTONIC`
    /// nanoseconds and the wall clock, read together), so that a trace can
    /// be lined up with logs and other machines, and ends with an
    /// end-of-generation event. Read by Go 1.26 and later.
    #[default]
    Go126,
    /// What Go 1.23 writes (header `go 1.23 trace`): a frequency batch per
    /// generation, no clock snapshot. For older tools: Go 1.23 to 1.27 read
    /// it.
    Go123,
}

impl Format {
    /// The format version of `trace-wire` (the event table) this format
    /// writes.
    ///
    /// ```
    /// assert_eq!(trace_runtime::Format::Go123.version(), trace_wire::Version::Go123);
    /// ```
    pub fn version(self) -> Version {
        match self {
            Format::Go126 => Version::Go126,
            Format::Go123 => Version::Go123,
        }
    }

    /// The 16-byte file header that precedes the generations of a trace
    /// in this format.
    pub fn header(self) -> [u8; 16] {
        self.version().header()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Go 1.{}", self.version().minor())
    }
}
