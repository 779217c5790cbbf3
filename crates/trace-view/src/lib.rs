//! A timeline of a Go execution trace, for the browser.
//!
//! [`Timeline::from_reader`] reads a trace (with `trace-reader`) and lays it
//! out as lanes: the GC, user tasks, each proc, each thread and each
//! goroutine, with rows of [`Slice`]s (goroutine states, regions, ranges,
//! tasks) and [`Mark`]s (logs), plus [`Chart`]s (heap, goroutines,
//! GOMAXPROCS). Every slice remembers the stacks where it began and ended.
//!
//! The page asks for a time window at a resolution; [`query`] answers with
//! what overlaps the window, merging slices shorter than the resolution, so
//! the size of an answer depends on the screen, not on the trace
//! ([`json`] encodes it). [`Server`] serves the page (the built TypeScript
//! in `web/`, embedded in this crate) and that JSON API on a loopback
//! address; [`standalone_html`] writes one offline file with the data
//! embedded instead. [`flame`] computes flame graphs of a selection (CPU
//! samples, or blocked and system-call time by stack) and the chain of
//! goroutines that woke each other.
//!
//! The rows live in a temporary file as compact blocks (see [`Row`]), so a
//! timeline holds in memory a directory of them, not its slices (under a
//! byte per slice).
//!
//! ```
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-annotations.trace");
//! let tl = trace_view::Timeline::from_reader(std::fs::File::open(path)?, "annotations")?;
//! assert!(tl.lanes().iter().any(|l| l.kind == trace_view::LaneKind::Tasks));
//! let (html, _) = trace_view::standalone_html(&tl, trace_view::DEFAULT_EMBED_BUDGET)?;
//! assert!(html.contains("trace-data"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod build;
pub mod flame;
#[doc(hidden)]
pub mod fuzzing;
mod intern;
pub mod json;
mod model;
mod page;
pub mod query;
mod server;
mod store;

pub use model::{
    Chart, CpuSample, FrameInfo, Lane, LaneKind, Mark, MarkKind, MmuCurve, Series, Slice,
    SliceKind, Stats, TaskDetail, TaskInfo, Timeline, MAX_TASK_ITEMS, NO_LANE,
};
pub use page::{server_page, standalone_html, write_standalone_html, DEFAULT_EMBED_BUDGET};
pub use server::{Handle, Server, MAX_BUCKETS, MAX_WINDOW_BLOCKS};
pub use store::{Cursor, Points, Row};

impl Timeline {
    /// Reads a whole trace and lays it out; `title` is what the page shows.
    /// A trace that breaks off is an error (see [`Options::partial`]).
    pub fn from_reader<R: std::io::Read>(input: R, title: &str) -> Result<Self, Error> {
        build::build(input, title, Options::default())
    }

    /// [`from_reader`](Self::from_reader) with `options`.
    ///
    /// ```no_run
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// let laid_out = AtomicU64::new(0);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| { /* show laid_out.load(Ordering::Relaxed) now and then */ });
    ///     let file = std::fs::File::open("trace.out")?;
    ///     let options = trace_view::Options::default()
    ///         .partial(true)
    ///         .count_into(&laid_out);
    ///     let tl = trace_view::Timeline::build(file, "trace.out", options)?;
    ///     assert_eq!(laid_out.load(Ordering::Relaxed), tl.stats().events);
    ///     if let Some(e) = tl.stopped() {
    ///         eprintln!("the trace breaks off ({e}); showing what came before");
    ///     }
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn build<R: std::io::Read>(
        input: R,
        title: &str,
        options: Options<'_>,
    ) -> Result<Self, Error> {
        build::build(input, title, options)
    }
}

/// How [`Timeline::build`] reads a trace: by default as
/// [`Timeline::from_reader`] does.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options<'a> {
    partial: bool,
    laid_out: Option<&'a std::sync::atomic::AtomicU64>,
}

impl<'a> Options<'a> {
    /// Whether to lay out what the reader yielded before the trace broke
    /// off (cut short, or malformed further on), if that is more than the
    /// first generation's sync event, instead of failing: the error is kept
    /// ([`Timeline::stopped`]) and the trace doctor reports it.
    pub fn partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// Adds to `laid_out` the number of events laid out as it goes (every
    /// few thousand), for a progress display on another thread.
    pub fn count_into(mut self, laid_out: &'a std::sync::atomic::AtomicU64) -> Self {
        self.laid_out = Some(laid_out);
        self
    }
}

/// Why a timeline could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The trace is malformed (or could not be read).
    #[error(transparent)]
    Trace(#[from] trace_reader::Error),
    /// The temporary file holding the timeline's rows failed.
    #[error("the timeline's temporary file: {0}")]
    Store(#[from] std::io::Error),
    /// The thread that lays out the events could not be started.
    #[error("cannot start the thread that lays out the trace: {0}")]
    Spawn(std::io::Error),
}
