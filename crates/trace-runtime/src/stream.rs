//! Streaming a trace to a writer, like Go's `trace.Start` and `trace.Stop`,
//! or with a guard that stops it when dropped ([`stream`], [`stream_file`]).
//!
//! The stream is a [`Subscriber`] that copies each delivery into a queue; a
//! dedicated thread writes the queue to the user's writer, so a slow writer
//! never holds up the flusher or other subscribers. The queue is bounded
//! ([`Config::stream_backlog`](crate::Config::stream_backlog)); a writer that
//! falls further behind, or fails, ends the stream at the next generation
//! boundary with an error that [`stop`] returns. Recording threads are never
//! blocked and memory stays bounded.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::{self, JoinHandle};

use crate::error::Error;
use crate::runtime::{runtime, runtime_or_init};
use crate::subscriber::Subscriber;
use std::sync::Arc;

use crate::sync::lock_std;
use crate::{Format, Generation};

/// The state of streaming, as [`stream_state`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamState {
    /// No stream was started (or the last one was stopped).
    Off,
    /// A stream is writing.
    Active,
    /// A stream was started but its writer failed; [`stop`] returns the
    /// error.
    Failed,
}

struct Session {
    id: u64,
    shared: Arc<Shared>,
    thread: JoinHandle<Result<(), Error>>,
}

static STREAM: Mutex<Option<Session>> = Mutex::new(None);

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Vec<u8>>,
    bytes: usize,
    flush: bool,
    closed: bool,
    error: Option<Error>,
    /// Whether the stream ever failed (the error itself goes to `stop`).
    failed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    backlog: usize,
    id: AtomicU64,
}

impl Shared {
    /// Records the stream's failure and asks to leave at the next boundary.
    fn fail(&self, q: &mut Queue, error: Error) {
        if !q.failed {
            q.failed = true;
            q.error = Some(error);
            q.chunks.clear();
            q.bytes = 0;
            if let Some(rt) = runtime() {
                let _ = rt.unsubscribe(self.id.load(Ordering::Acquire), false);
            }
        }
    }
}

struct StreamSubscriber(Arc<Shared>);

impl Subscriber for StreamSubscriber {
    fn on_join(&self, _first: Generation, format: Format) {
        // The file header goes first: the format is the session's.
        self.on_batches_dyn(&format.header());
    }

    fn on_batches(&self, _gen: Generation, batches: &[u8]) {
        self.on_batches_dyn(batches);
    }

    fn on_generation_end(&self, _gen: Generation) {
        lock_std(&self.0.queue).flush = true;
        self.0.ready.notify_one();
    }

    fn on_close(&self) {
        lock_std(&self.0.queue).closed = true;
        self.0.ready.notify_one();
    }
}

impl StreamSubscriber {
    /// Queues `batches` for the writer thread.
    fn on_batches_dyn(&self, batches: &[u8]) {
        let shared = &self.0;
        let mut q = lock_std(&shared.queue);
        if q.failed {
            return;
        }
        if q.bytes + batches.len() > shared.backlog {
            let backlog = shared.backlog;
            shared.fail(&mut q, Error::WriterTooSlow { backlog });
        } else {
            q.bytes += batches.len();
            q.chunks.push_back(batches.to_vec());
        }
        drop(q);
        shared.ready.notify_one();
    }
}

/// The writer thread: every queued chunk (the file header first).
fn write_loop(shared: &Shared, mut writer: impl Write) -> Result<(), Error> {
    let mut pending: Option<Vec<u8>> = None;
    loop {
        if let Some(chunk) = pending.take() {
            if let Err(e) = writer.write_all(&chunk) {
                let mut q = lock_std(&shared.queue);
                shared.fail(&mut q, Error::Writer(e));
            }
        }
        let mut q = lock_std(&shared.queue);
        q = shared
            .ready
            .wait_while(q, |q| q.chunks.is_empty() && !q.flush && !q.closed)
            .unwrap_or_else(|e| e.into_inner());
        if let Some(chunk) = q.chunks.pop_front() {
            q.bytes -= chunk.len();
            pending = Some(chunk);
            continue;
        }
        let (flush, closed) = (q.flush, q.closed);
        q.flush = false;
        let failed = q.failed;
        drop(q);
        if (flush || closed) && !failed {
            if let Err(e) = writer.flush() {
                let mut q = lock_std(&shared.queue);
                shared.fail(&mut q, Error::Writer(e));
            }
        }
        if closed {
            let mut q = lock_std(&shared.queue);
            return match q.error.take() {
                Some(e) => Err(e),
                None => Ok(()),
            };
        }
    }
}

/// Starts streaming a trace to `writer`, like Go's `trace.Start`: the file
/// header of the session's [`Format`] (see
/// [`Config::format`](crate::Config::format)), then every generation from
/// now until [`stop`].
///
/// Tracing turns on with the first subscriber (this stream or a flight
/// recorder); events recorded after `start` returns are in the stream.
/// `writer` is used from a dedicated thread; wrap files in a `BufWriter`.
///
/// # Errors
///
/// [`Error::AlreadyStreaming`] if a stream is active (also one whose writer
/// failed and that was not stopped yet), [`Error::Spawn`] if the writer
/// thread cannot start, [`Error::WouldDeadlock`] from a subscriber callback.
///
/// ```
/// let file = std::io::BufWriter::new(Vec::new());
/// trace_runtime::start(file)?;
/// assert!(trace_runtime::start(Vec::new()).is_err());
/// trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "", "hello");
/// trace_runtime::stop()?;
/// # Ok::<(), trace_runtime::Error>(())
/// ```
pub fn start(writer: impl Write + Send + 'static) -> Result<(), Error> {
    start_session(writer).map(drop)
}

/// [`start`]; returns the session's id.
fn start_session(writer: impl Write + Send + 'static) -> Result<u64, Error> {
    let mut stream = lock_std(&STREAM);
    if stream.is_some() {
        return Err(Error::AlreadyStreaming);
    }
    let rt = runtime_or_init();
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        ready: Condvar::new(),
        backlog: rt.config().stream_backlog,
        id: AtomicU64::new(0),
    });
    let thread = {
        let shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("trace-writer".into())
            .spawn(move || write_loop(&shared, writer))
            .map_err(Error::Spawn)?
    };
    let sub = Arc::new(StreamSubscriber(Arc::clone(&shared)));
    match rt.subscribe_with(sub, |id| shared.id.store(id, Ordering::Release)) {
        Ok((id, _, _)) => {
            *stream = Some(Session { id, shared, thread });
            Ok(id)
        }
        Err(e) => {
            lock_std(&shared.queue).closed = true;
            shared.ready.notify_one();
            let _ = thread.join();
            Err(e)
        }
    }
}

/// Stops the stream, like Go's `trace.Stop`: completes the current
/// generation, writes it, flushes the writer, and returns once every byte
/// was written. What was written is a complete, valid trace. Tracing turns
/// off if no other subscriber remains.
///
/// # Errors
///
/// [`Error::NotStreaming`] without a stream; [`Error::Writer`] or
/// [`Error::WriterTooSlow`] if the writer failed (the trace then ends at the
/// last generation written in full, if any); [`Error::WouldDeadlock`] from a
/// subscriber callback.
pub fn stop() -> Result<(), Error> {
    stop_session(None)
}

/// [`stop`]s the stream if it is session `id` (any session if `None`).
fn stop_session(id: Option<u64>) -> Result<(), Error> {
    let mut stream = lock_std(&STREAM);
    let Some(session) = stream.take_if(|s| id.is_none_or(|id| s.id == id)) else {
        return Err(Error::NotStreaming);
    };
    if let Some(rt) = runtime() {
        if let Err(e) = rt.unsubscribe(session.id, true) {
            *stream = Some(session);
            return Err(e);
        }
    }
    drop(stream);
    // The subscription is closed, so the writer thread finishes.
    session
        .thread
        .join()
        .unwrap_or_else(|_| Err(Error::Writer(io::Error::other("the trace writer panicked"))))
}

/// Whether a stream is active, failed, or off.
///
/// ```
/// assert_eq!(trace_runtime::stream_state(), trace_runtime::StreamState::Off);
/// ```
pub fn stream_state() -> StreamState {
    let stream = lock_std(&STREAM);
    match &*stream {
        None => StreamState::Off,
        Some(s) if lock_std(&s.shared.queue).failed => StreamState::Failed,
        Some(_) => StreamState::Active,
    }
}

/// A trace being streamed, from [`stream`] or [`stream_file`]: a guard
/// that stops the stream when it goes out of scope, as Go's
/// `defer trace.Stop()` does, also on an early return (`?`) and while a
/// panic unwinds, so that what was written is a complete, valid trace.
///
/// Dropping it discards [`stop`]'s errors; call [`Stream::stop`] to see
/// them. If the stream was already stopped (by [`stop`]), dropping the
/// guard does nothing, even if another stream runs by then. Nothing stops
/// the stream if the process exits without unwinding
/// (`std::process::exit`, `panic = "abort"`).
#[derive(Debug)]
#[must_use = "the stream stops when the guard is dropped"]
pub struct Stream {
    id: u64,
    stopped: bool,
}

impl Stream {
    /// Stops the stream, like [`stop`], and returns its errors.
    ///
    /// # Errors
    ///
    /// As [`stop`]; [`Error::NotStreaming`] if the stream was already
    /// stopped by [`stop`].
    pub fn stop(mut self) -> Result<(), Error> {
        self.stopped = true;
        stop_session(Some(self.id))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = stop_session(Some(self.id));
        }
    }
}

/// Starts streaming a trace to `writer`, like [`start`], and returns a
/// guard that [`stop`]s the stream when dropped.
///
/// # Errors
///
/// As [`start`].
///
/// ```
/// fn traced() -> Result<(), Box<dyn std::error::Error>> {
///     let _trace = trace_runtime::stream(std::io::sink())?;
///     trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "step", "one");
///     Err("something failed")?; // the trace stops here all the same
///     Ok(())
/// }
/// assert!(traced().is_err());
/// assert_eq!(trace_runtime::stream_state(), trace_runtime::StreamState::Off);
/// ```
pub fn stream(writer: impl Write + Send + 'static) -> Result<Stream, Error> {
    let id = start_session(writer)?;
    Ok(Stream { id, stopped: false })
}

/// Creates (or truncates) the file at `path` and streams a trace to it
/// through a buffer, like [`stream`].
///
/// # Errors
///
/// [`Error::CreateFile`] if the file cannot be created; otherwise as
/// [`start`].
///
/// ```
/// let path = std::env::temp_dir().join("trace-runtime-stream-file.trace");
/// {
///     let _trace = trace_runtime::stream_file(&path)?;
///     trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "file", "hello");
/// } // stopped and flushed here
/// assert!(std::fs::read(&path)?.starts_with(b"go 1.26 trace"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn stream_file(path: impl AsRef<Path>) -> Result<Stream, Error> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|source| Error::CreateFile {
        path: path.to_path_buf(),
        source,
    })?;
    stream(BufWriter::new(file))
}
