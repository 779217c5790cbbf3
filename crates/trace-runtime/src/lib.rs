//! Records a Rust program as a Go execution trace (format v2), so that
//! `go tool trace` and our own tools can open it: in the format Go 1.26 and
//! 1.27 write by default, with a clock snapshot (wall time) per generation,
//! or in Go 1.23's for older tools ([`Format`]).
//!
//! This is the recording engine; most programs use it through
//! `trace-annotate`. It provides:
//!
//! - **Events**: the annotations of Go's `runtime/trace` ([`task_begin`],
//!   [`task_end`], [`region_begin`], [`region_end`], [`log`]), each a single
//!   relaxed atomic load while tracing is off ([`is_enabled`]).
//! - **Threads as goroutines**: each thread that emits becomes an M with its
//!   own P and goroutine, named after the thread, with its exit recorded.
//! - **Async tasks as goroutines**: an [`AsyncTask`] is a goroutine of its
//!   own, running while polled, waiting while pending, runnable once woken.
//! - **Streaming** like Go's `trace.Start`/`trace.Stop`: [`start`], [`stop`];
//!   or [`stream`]/[`stream_file`], whose [`Stream`] guard stops the trace
//!   when dropped (also on an early return or a panic).
//! - **Subscribers**: [`subscribe`] any [`Subscriber`] (a flight recorder) to
//!   receive whole generations; [`advance`] completes the current one.
//!   [`limit_generations`] makes generations shorter or smaller for as long
//!   as a subscriber needs it; [`request_advance`] asks for an advance
//!   without waiting.
//! - **Settings**: [`configure`] with a [`Config`] (format, generation
//!   period, stacks, clock).
//!
//! # Design
//!
//! Events go to per-CPU buffers: memory for open buffers is O(CPUs), not
//! O(threads), and the hot path writes no shared cache line. A thread that
//! migrates closes its batch in the old CPU's slot before writing elsewhere,
//! so its batches stay in order. Timestamps come from the TSC where it is
//! invariant (its frequency is calibrated and written in every generation),
//! else `CLOCK_MONOTONIC`. A background flusher advances generations
//! (every second by default, or on demand), writes their string and stack
//! tables and the statuses Go's reader needs, and hands finished generations
//! to subscribers. See `docs/architecture.md` for the invariants.
//!
//! # Example
//!
//! ```
//! use std::fs::File;
//! use std::io::BufWriter;
//! use trace_runtime::{log, region_begin, region_end, TaskId};
//!
//! let path = std::env::temp_dir().join("trace-runtime-example.trace");
//! trace_runtime::start(BufWriter::new(File::create(&path)?))?;
//! region_begin(TaskId::BACKGROUND, "load");
//! log(TaskId::BACKGROUND, "config", "loaded 3 files");
//! region_end(TaskId::BACKGROUND, "load");
//! trace_runtime::stop()?;
//! // `go tool trace` opens the file.
//! assert!(std::fs::read(&path)?.starts_with(b"go 1.26 trace\0\0\0"));
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! MSRV: the workspace's `rust-version`. Linux is the primary platform
//! (`sched_getcpu`, the TSC, `pthread_getattr_np`); elsewhere the recorder
//! falls back to one slot and `CLOCK_MONOTONIC`-like clocks.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod buffer;
mod clock;
mod config;
mod cpu;
mod error;
mod event;
mod format;
mod limits;
mod raw;
mod runtime;
mod stack;
mod stream;
mod subscriber;
mod sync;
mod tables;
mod task;
mod thread;

pub use clock::ClockSource;
pub use config::Config;
pub use error::Error;
pub use event::{
    is_enabled, log, new_task_id, region_begin, region_end, task_begin, task_end, timestamp, TaskId,
};
pub use format::Format;
pub use limits::{limit_generations, request_advance, GenerationLimits, LimitGuard};
pub use stack::StackMode;
pub use stream::{start, stop, stream, stream_file, stream_state, Stream, StreamState};
pub use subscriber::{Generation, Subscriber};
pub use task::{thread_idle, AsyncTask, PollGuard, PollOutcome, TaskWaker};

use std::sync::Arc;

#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api;

/// The format of the current tracing session, `None` while tracing is off.
/// It is fixed from the moment tracing turns on (the first subscriber
/// joins) until it turns off (see [`Config::format`]).
///
/// ```
/// assert_eq!(trace_runtime::format_in_use(), None);
/// ```
pub fn format_in_use() -> Option<Format> {
    runtime::runtime().and_then(|rt| rt.session_format())
}

/// The 16-byte file header of the format the recorder writes now: the
/// current session's, or while tracing is off the configured one.
/// A subscriber uses the format given to
/// [`Subscriber::on_join`] instead, which cannot change under it.
///
/// ```
/// assert_eq!(&trace_runtime::file_header(), b"go 1.26 trace\0\0\0");
/// ```
pub fn file_header() -> [u8; 16] {
    format_in_use()
        .unwrap_or_else(|| config().get_format())
        .header()
}

/// Applies recorder settings; they take effect at once (the generation
/// period at the next generation).
///
/// # Errors
///
/// [`Error::ClockFixed`] if `config` asks for a different clock than the one
/// chosen when tracing first started; [`Error::FormatFixed`] if tracing is
/// on in another format than `config`'s, which then applies from the next
/// session. In both cases the rest of `config` is applied.
///
/// ```
/// use std::time::Duration;
/// trace_runtime::configure(
///     trace_runtime::Config::default().generation_period(Duration::from_millis(100)),
/// )?;
/// # Ok::<(), trace_runtime::Error>(())
/// ```
pub fn configure(config: Config) -> Result<(), Error> {
    runtime::runtime_or_init().configure(config)
}

/// The settings in effect.
pub fn config() -> Config {
    runtime::runtime_or_init().config()
}

/// A registered [`Subscriber`]. Dropping it removes the subscriber at the
/// next generation boundary without waiting; [`unsubscribe`] waits until its
/// last generation was delivered.
///
/// [`unsubscribe`]: Subscription::unsubscribe
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    first: Option<Generation>,
    format: Format,
    active: bool,
}

impl Subscription {
    /// The first generation the subscriber receives.
    pub fn first_generation(&self) -> Option<Generation> {
        self.first
    }

    /// The format of the generations the subscriber receives (also given
    /// to [`Subscriber::on_join`]).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Removes the subscriber: completes the current generation, delivers
    /// it, calls [`Subscriber::on_close`], and returns. Tracing turns off if
    /// this was the last subscriber.
    ///
    /// # Errors
    ///
    /// [`Error::WouldDeadlock`] from a subscriber callback.
    pub fn unsubscribe(mut self) -> Result<(), Error> {
        self.active = false;
        runtime::runtime_or_init().unsubscribe(self.id, true)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.active {
            let _ = runtime::runtime_or_init().unsubscribe(self.id, false);
        }
    }
}

/// Registers `subscriber`; it receives every generation from the next one
/// on (starting one at once). Tracing turns on with the first subscriber.
///
/// # Errors
///
/// [`Error::Spawn`] if the flusher thread cannot start;
/// [`Error::WouldDeadlock`] from a subscriber callback.
///
/// See [`Subscriber`] for an example.
pub fn subscribe(subscriber: Arc<dyn Subscriber>) -> Result<Subscription, Error> {
    let (id, first, format) = runtime::runtime_or_init().subscribe_with(subscriber, |_| {})?;
    Ok(Subscription {
        id,
        first: Generation::new(first),
        format,
        active: true,
    })
}

/// Completes the current generation and waits until every subscriber has
/// received it (a flight recorder calls this before a snapshot). Returns the
/// latest complete generation, `None` if there is none yet.
///
/// # Errors
///
/// [`Error::WouldDeadlock`] from a subscriber callback.
///
/// ```
/// // Without subscribers there is nothing to complete.
/// assert_eq!(trace_runtime::advance()?, None);
/// # Ok::<(), trace_runtime::Error>(())
/// ```
pub fn advance() -> Result<Option<Generation>, Error> {
    runtime::runtime_or_init().advance()
}

/// Whether the current thread is running subscriber callbacks: the
/// recorder's flusher thread, or a thread inside [`advance`] that switches
/// the generation itself. Code that may run there (a panic hook, a
/// subscriber) must not wait for an advance or a flush.
///
/// ```
/// assert!(!trace_runtime::in_callback());
/// ```
pub fn in_callback() -> bool {
    runtime::in_callback()
}

/// How many subscribers receive the current generation.
pub fn subscriber_count() -> usize {
    runtime::runtime().map_or(0, |rt| rt.n_subscribers())
}

/// CPU profile samples dropped so far because the recorder's buffers were
/// full (see [`Config::cpu_profile`]); 0 while they keep up.
pub fn cpu_samples_lost() -> u64 {
    cpu::lost()
}
