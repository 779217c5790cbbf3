//! Tasks, regions and logs for Rust programs, after Go's `runtime/trace`,
//! recorded as a Go execution trace by `trace-runtime`.
//!
//! | Go | here |
//! | --- | --- |
//! | `trace.NewTask(ctx, name)` | [`new_task`], [`Task::new_child`] |
//! | `task.End()` | [`Task::end`], or drop the task |
//! | `trace.StartRegion(ctx, name)` / `region.End()` | [`start_region`], [`Task::start_region`]; the [`Region`] ends on drop |
//! | `trace.WithRegion(ctx, name, f)` | [`with_region`], [`Task::with_region`] |
//! | `trace.Log(ctx, category, message)` | [`log`], [`Task::log`] |
//! | `trace.Logf(ctx, category, format, ...)` | [`logf!`] |
//! | `trace.IsEnabled()` | [`is_enabled`] |
//! | `trace.Start(w)` / `defer trace.Stop()` | [`start`], [`start_file`]: the [`Stream`] guard stops the trace when dropped |
//!
//! [`TracedExt::traced`] runs a future as a goroutine of its own (async
//! tasks as goroutines). With the `tracing` feature (on by default), [`TraceLayer`] records
//! `tracing` spans as tasks and regions and events as logs.
//!
//! Go passes the current task in a `context.Context`; here the task is
//! explicit: the free functions annotate the background task, and the
//! methods of [`Task`] annotate that task.
//!
//! While tracing is off, every call costs about one relaxed atomic load and
//! records nothing (the `tracing off` benchmark shows it); a task or region
//! begun while tracing was off stays unrecorded.
//!
//! A region must end on the thread that began it (Go's reader rejects
//! anything else), so [`Region`] is not `Send`; regions that end out of order
//! are ended when the regions nested in them end, since the format requires
//! strict nesting. A [`Task`] may end on any thread.
//!
//! Recording needs nothing else: [`start_file`] or [`start`] stream a trace
//! (in the Go 1.26 format Go 1.26 and 1.27 write, or Go 1.23's with
//! [`configure`] and [`Format::Go123`]) until the returned guard is
//! dropped.
//!
//! # Example
//!
//! ```
//! use trace_annotate::{logf, new_task, with_region};
//!
//! let path = std::env::temp_dir().join("trace-annotate-example.trace");
//! let trace = trace_annotate::start_file(&path)?;
//! let task = new_task("request");
//! {
//!     let _parse = task.start_region("parse");
//!     logf!("bytes", "{} bytes", 512);
//! }
//! let worker = std::thread::spawn(move || {
//!     with_region("work", || task.log("status", "done"));
//!     task.end(); // on another thread
//! });
//! worker.join().unwrap();
//! trace.stop()?; // or let it drop
//! assert!(std::fs::read(&path)?.starts_with(b"go 1.26 trace"));
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod future;
#[cfg(feature = "tracing")]
pub mod layer;
#[cfg(feature = "tokio")]
pub mod tokio;
pub use future::{Traced, TracedExt};
#[cfg(feature = "tracing")]
pub use layer::TraceLayer;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;

use trace_runtime::TaskId;
pub use trace_runtime::{configure, cpu_samples_lost, Config, Error, Format, Stream};

/// Starts streaming a trace to `writer` (wrap files in a `BufWriter`), like
/// Go's `trace.Start`; the returned guard stops the stream and flushes the
/// writer when dropped, like `defer trace.Stop()`, also when the function
/// returns early or a panic unwinds. Call [`Stream::stop`] to see the
/// errors of stopping. See [`trace_runtime::stream`].
///
/// # Errors
///
/// [`Error::AlreadyStreaming`] if a stream is active; see
/// [`trace_runtime::start`].
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Clone, Default)]
/// struct Shared(Arc<Mutex<Vec<u8>>>);
/// impl std::io::Write for Shared {
///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
///         self.0.lock().unwrap().write(buf)
///     }
///     fn flush(&mut self) -> std::io::Result<()> {
///         Ok(())
///     }
/// }
///
/// let out = Shared::default();
/// let result = std::panic::catch_unwind({
///     let out = out.clone();
///     move || {
///         let _trace = trace_annotate::start(out).unwrap();
///         trace_annotate::log("step", "before the panic");
///         panic!("boom");
///     }
/// });
/// assert!(result.is_err());
/// // The guard stopped the trace while the panic unwound: it is complete.
/// let trace = out.0.lock().unwrap().clone();
/// assert!(trace.starts_with(b"go 1.26 trace"));
/// assert!(!trace_annotate::is_enabled());
/// ```
pub fn start(writer: impl std::io::Write + Send + 'static) -> Result<Stream, Error> {
    trace_runtime::stream(writer)
}

/// Creates (or truncates) the file at `path` and streams a trace to it,
/// like [`start`]; the guard stops the trace and flushes the file when
/// dropped.
///
/// # Errors
///
/// [`Error::CreateFile`] if the file cannot be created; otherwise as
/// [`start`].
///
/// ```
/// fn run(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
///     let _trace = trace_annotate::start_file(path)?;
///     let task = trace_annotate::new_task("job");
///     task.log("input", "missing");
///     Err("no input")?; // returns early: the trace is stopped all the same
///     Ok(())
/// }
///
/// let path = std::env::temp_dir().join("trace-annotate-start-file.trace");
/// assert!(run(&path).is_err());
/// let trace = std::fs::read(&path)?;
/// assert!(trace.starts_with(b"go 1.26 trace")); // `go tool trace` opens it
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn start_file(path: impl AsRef<std::path::Path>) -> Result<Stream, Error> {
    trace_runtime::stream_file(path)
}

/// Whether tracing is on (some subscriber is recording): one relaxed atomic
/// load.
///
/// ```
/// assert!(!trace_annotate::is_enabled());
/// ```
#[inline(always)]
pub fn is_enabled() -> bool {
    trace_runtime::is_enabled()
}

/// A task: a logical operation (a request, a job) that may span threads,
/// with a type name, an optional parent, and regions and logs attributed to
/// it. Ends on [`end`](Task::end) or when dropped, on any thread.
#[derive(Debug)]
pub struct Task {
    /// The recorded id; `BACKGROUND` if tracing was off at creation.
    id: TaskId,
    ended: bool,
}

/// Starts a top-level task of type `name`.
///
/// ```
/// let task = trace_annotate::new_task("job");
/// task.log("step", "one");
/// task.end();
/// ```
#[inline(always)]
pub fn new_task(name: &str) -> Task {
    Task::begin(TaskId::BACKGROUND, name)
}

impl Task {
    /// A task that is not recorded.
    const OFF: Task = Task {
        id: TaskId::BACKGROUND,
        ended: true,
    };

    #[inline(always)]
    fn begin(parent: TaskId, name: &str) -> Task {
        if !is_enabled() {
            return Task::OFF;
        }
        Task::begin_recorded(parent, name)
    }

    #[inline(never)]
    fn begin_recorded(parent: TaskId, name: &str) -> Task {
        let id = trace_runtime::new_task_id();
        trace_runtime::task_begin(id, parent, name);
        Task { id, ended: false }
    }

    /// Starts a subtask of this task.
    ///
    /// ```
    /// let parent = trace_annotate::new_task("request");
    /// let child = parent.new_child("db.query");
    /// child.end();
    /// parent.end();
    /// ```
    #[inline(always)]
    pub fn new_child(&self, name: &str) -> Task {
        Task::begin(self.id, name)
    }

    /// The task's id in the trace (0 if it is not recorded).
    pub fn id(&self) -> u64 {
        self.id.get()
    }

    /// Ends the task (`UserTaskEnd`).
    #[inline(always)]
    pub fn end(mut self) {
        self.finish();
    }

    #[inline(always)]
    fn finish(&mut self) {
        if !self.ended {
            self.finish_recorded();
        }
    }

    #[inline(never)]
    fn finish_recorded(&mut self) {
        self.ended = true;
        trace_runtime::task_end(self.id);
    }

    /// Starts a region of this task on the current thread.
    #[inline]
    pub fn start_region<'a>(&self, name: &'a str) -> Region<'a> {
        Region::begin(self.id, name)
    }

    /// Runs `f` inside a region of this task.
    #[inline]
    pub fn with_region<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        let _region = self.start_region(name);
        f()
    }

    /// Logs `message` under `category` in this task.
    #[inline]
    pub fn log(&self, category: &str, message: &str) {
        trace_runtime::log(self.id, category, message);
    }

    /// Logs a formatted message in this task; formats only while tracing is
    /// on. [`logf!`] with `task = …` calls this.
    #[inline]
    pub fn log_fmt(&self, category: &str, args: fmt::Arguments<'_>) {
        if is_enabled() {
            log_args(self.id, category, args);
        }
    }
}

impl Drop for Task {
    #[inline(always)]
    fn drop(&mut self) {
        self.finish();
    }
}

thread_local! {
    /// How many recorded regions are open on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Regions dropped before regions nested in them: (depth, task, name),
    /// by increasing depth.
    static PENDING: RefCell<Vec<(u32, TaskId, String)>> = const { RefCell::new(Vec::new()) };
}

/// A region of code on one thread, ended when dropped (or by
/// [`end`](Region::end)).
///
/// A region must end on the thread that started it, so `Region` is not
/// `Send`:
///
/// ```compile_fail
/// let region = trace_annotate::start_region("parse");
/// std::thread::spawn(move || drop(region));
/// ```
///
/// Regions nest. If a region is ended while a region started inside it is
/// still open, its end is recorded when the inner region ends.
#[derive(Debug)]
#[must_use = "a region ends when dropped; bind it to a variable"]
pub struct Region<'a> {
    name: &'a str,
    task: TaskId,
    /// Nesting depth on this thread, from 1; 0 if not recorded.
    depth: u32,
    _not_send: PhantomData<*const ()>,
}

/// Starts a region named `name` of the background task on the current
/// thread.
///
/// ```
/// let region = trace_annotate::start_region("load");
/// // ... work ...
/// drop(region);
/// ```
#[inline(always)]
pub fn start_region(name: &str) -> Region<'_> {
    Region::begin(TaskId::BACKGROUND, name)
}

/// Runs `f` inside a region named `name` of the background task.
///
/// ```
/// let n = trace_annotate::with_region("compute", || 6 * 7);
/// assert_eq!(n, 42);
/// ```
#[inline]
pub fn with_region<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let _region = start_region(name);
    f()
}

impl<'a> Region<'a> {
    #[inline(always)]
    fn begin(task: TaskId, name: &'a str) -> Region<'a> {
        let depth = if is_enabled() {
            begin_recorded(task, name)
        } else {
            0
        };
        Region {
            name,
            task,
            depth,
            _not_send: PhantomData,
        }
    }

    /// Ends the region.
    #[inline]
    pub fn end(self) {}
}

/// Records a region's start; returns its depth.
#[inline(never)]
fn begin_recorded(task: TaskId, name: &str) -> u32 {
    let depth = DEPTH.with(|d| {
        let depth = d.get() + 1;
        d.set(depth);
        depth
    });
    trace_runtime::region_begin(task, name);
    depth
}

impl Drop for Region<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.depth != 0 {
            end_region(self.depth, self.task, self.name);
        }
    }
}

#[inline(never)]
fn end_region(depth: u32, task: TaskId, name: &str) {
    let current = DEPTH.with(Cell::get);
    if depth < current {
        // Inner regions are still open: end this one after them.
        let _ = PENDING.try_with(|p| {
            let mut p = p.borrow_mut();
            let at = p.partition_point(|(d, _, _)| *d < depth);
            p.insert(at, (depth, task, name.to_owned()));
        });
        return;
    }
    trace_runtime::region_end(task, name);
    if depth != current {
        return;
    }
    let mut depth = current - 1;
    let _ = PENDING.try_with(|p| {
        let mut p = p.borrow_mut();
        while let Some((d, task, name)) = p.last() {
            if *d != depth {
                break;
            }
            trace_runtime::region_end(*task, name);
            p.pop();
            depth -= 1;
        }
    });
    DEPTH.with(|d| d.set(depth));
}

/// Logs `message` under `category` (may be empty) in the background task.
///
/// ```
/// trace_annotate::log("cache", "miss");
/// ```
#[inline(always)]
pub fn log(category: &str, message: &str) {
    trace_runtime::log(TaskId::BACKGROUND, category, message);
}

/// Logs a formatted message, formatting it only while tracing is on.
///
/// ```
/// use trace_annotate::{logf, new_task};
/// let user = "ada";
/// logf!("login", "user {user} logged in");
/// let task = new_task("request");
/// logf!(task = &task, "status", "{} rows", 3);
/// ```
#[macro_export]
macro_rules! logf {
    (task = $task:expr, $category:expr, $($arg:tt)+) => {
        if $crate::is_enabled() {
            $crate::Task::log_fmt($task, $category, ::core::format_args!($($arg)+));
        }
    };
    ($category:expr, $($arg:tt)+) => {
        if $crate::is_enabled() {
            $crate::__log_fmt($category, ::core::format_args!($($arg)+));
        }
    };
}

#[doc(hidden)]
pub fn __log_fmt(category: &str, args: fmt::Arguments<'_>) {
    log_args(TaskId::BACKGROUND, category, args);
}

thread_local! {
    static FORMAT_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

fn log_args(task: TaskId, category: &str, args: fmt::Arguments<'_>) {
    if let Some(s) = args.as_str() {
        return trace_runtime::log(task, category, s);
    }
    let formatted = FORMAT_BUF.try_with(|buf| {
        let Ok(mut buf) = buf.try_borrow_mut() else {
            return false;
        };
        buf.clear();
        let _ = fmt::write(&mut *buf, args);
        trace_runtime::log(task, category, &buf);
        if buf.capacity() > 4096 {
            *buf = String::new();
        }
        true
    });
    if formatted != Ok(true) {
        trace_runtime::log(task, category, &fmt::format(args));
    }
}
