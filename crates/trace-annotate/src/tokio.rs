//! Tokio integration (feature `tokio`): runtime hooks so that idle workers
//! show as blocked, [`block_on`], which does the same for the thread that
//! waits on the runtime, and [`spawn`], which makes a spawned future a goroutine
//! of its own, named after the span it is spawned in, without per-call
//! glue.
//!
//! ```
//! let mut builder = tokio::runtime::Builder::new_multi_thread();
//! builder.worker_threads(2).enable_all();
//! let rt = trace_annotate::tokio::instrument(&mut builder).build()?;
//! rt.block_on(async {
//!     let span = tracing::info_span!("request", id = 1);
//!     let _enter = span.enter();
//!     // A goroutine named `task request`, the span entered on every poll.
//!     let answer = trace_annotate::tokio::spawn(async { 6 * 7 });
//!     drop(_enter);
//!     assert_eq!(answer.await.unwrap(), 42);
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

use std::future::Future;

use tracing::Instrument;

use crate::TracedExt;

/// Adds the recorder's hooks to a runtime `builder`: a worker about to park
/// ([`on_thread_park`](tokio::runtime::Builder::on_thread_park)) marks its
/// goroutine blocked (`GoBlock "idle"`), so that idle workers do not show as
/// running for the whole trace. While tracing is off the hook costs one
/// relaxed load.
pub fn instrument(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    builder.on_thread_park(trace_runtime::thread_idle)
}

/// Spawns `future` on the current Tokio runtime as a goroutine of its own
/// (see [`TracedExt::traced`]) named after the current span (`task
/// request`), with that span entered on every poll (as
/// `future.instrument(span)`), so that its regions and logs belong to the
/// span's task.
///
/// Outside any span, the goroutine is named `task spawned`.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let span = tracing::Span::current();
    let name = span.metadata().map_or("spawned", |m| m.name());
    tokio::spawn(future.instrument(span).traced(name))
}

/// Like [`spawn`], with the goroutine named `task <name>`.
pub fn spawn_named<F>(name: &str, future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.instrument(tracing::Span::current()).traced(name))
}

/// Runs `future` to completion on `rt` from the calling thread, as
/// [`Runtime::block_on`](tokio::runtime::Runtime::block_on) does, marking
/// the thread idle whenever the future waits (returns `Pending`), so that a
/// thread parked in `block_on` does not show as running for the whole
/// trace. The thread runs again at its next annotation.
pub fn block_on<F: Future>(rt: &tokio::runtime::Runtime, future: F) -> F::Output {
    rt.block_on(IdleWhenPending(Box::pin(future)))
}

/// A future that marks its thread idle each time it waits.
struct IdleWhenPending<F>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for IdleWhenPending<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let poll = self.0.as_mut().poll(cx);
        if poll.is_pending() {
            trace_runtime::thread_idle();
        }
        poll
    }
}
