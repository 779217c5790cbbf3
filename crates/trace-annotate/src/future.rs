//! Async tasks as goroutines: [`TracedExt::traced`] gives a future a
//! goroutine of its own (`05-writer.md` §7.6), so that Go's goroutine
//! analysis shows, per task, the time it ran (polled), was runnable (woken
//! but not yet polled: scheduler latency) and waited (pending).
//!
//! - created when wrapped, on the wrapping thread;
//! - running while polled, on whichever thread polls it (tasks migrate
//!   between executor workers freely);
//! - waiting when it returns `Pending`; runnable when its waker fires,
//!   recorded on the waking thread (any thread, inside the runtime or not);
//!   a wake during its own poll ends the poll runnable;
//! - destroyed when it completes, or when it is dropped before completing.
//!
//! Regions and logs recorded during a poll belong to the task's goroutine.
//!
//! While tracing is off, a poll costs one relaxed atomic load more than the
//! future's own poll and takes no lock; it is not recorded even if tracing
//! starts before it returns (wakes and polls while off are not tracked: a
//! task woken meanwhile shows as waiting until its next recorded poll).
//!
//! ```
//! use std::future::Future;
//! use std::pin::pin;
//! use std::sync::Arc;
//! use std::task::{Context, Poll, Wake};
//! use trace_annotate::TracedExt;
//!
//! struct Noop;
//! impl Wake for Noop {
//!     fn wake(self: Arc<Self>) {}
//! }
//! let waker = Arc::new(Noop).into();
//! let mut cx = Context::from_waker(&waker);
//! let mut fut = pin!(async { 6 * 7 }.traced("compute"));
//! assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(42));
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use trace_runtime::{AsyncTask, PollOutcome, TaskWaker};

/// Adds [`traced`](TracedExt::traced) to every future.
pub trait TracedExt: Future + Sized {
    /// Wraps the future so that it runs as a goroutine of its own, which
    /// Go's UI names `task <name>`.
    fn traced(self, name: &str) -> Traced<Self> {
        Traced {
            task: AsyncTask::new(name),
            fut: Some(Box::pin(self)),
            waker: None,
            done: false,
        }
    }
}

impl<F: Future> TracedExt for F {}

/// A future with a goroutine of its own; see [`TracedExt::traced`].
#[must_use = "futures do nothing unless polled"]
pub struct Traced<F> {
    task: AsyncTask,
    /// Dropped inside the last poll (or the drop), so that what its drop
    /// records (a span closing) belongs to the task.
    fut: Option<Pin<Box<F>>>,
    /// The executor's waker and ours wrapping it, reused while the
    /// executor's waker stays the same.
    waker: Option<(Waker, Waker)>,
    done: bool,
}

impl<F> fmt::Debug for Traced<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traced")
            .field("goroutine", &self.task.goroutine())
            .field("done", &self.done)
            .finish()
    }
}

impl<F> Traced<F> {
    /// The goroutine id of the task in the trace.
    pub fn goroutine(&self) -> u64 {
        self.task.goroutine()
    }
}

impl<F> Drop for Traced<F> {
    fn drop(&mut self) {
        if let Some(fut) = self.fut.take() {
            // Dropped before completion: the task runs its drop, then ends.
            let guard = self.task.poll_begin();
            drop(fut);
            guard.end(PollOutcome::Ready);
        }
    }
}

/// Records the wake on the waking thread, then wakes the executor.
struct WakeTask {
    task: TaskWaker,
    inner: Waker,
}

impl Wake for WakeTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.task.wake();
        self.inner.wake_by_ref();
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            panic!("`Traced` polled after completion");
        };
        if !crate::is_enabled() {
            // Not recorded (even if tracing starts during the poll): the
            // executor's own waker will do.
            let result = fut.as_mut().poll(cx);
            if result.is_ready() {
                this.fut = None;
                this.done = true;
            }
            return result;
        }
        let inner = cx.waker();
        let waker = match &mut this.waker {
            Some((cached, ours)) if cached.will_wake(inner) => &*ours,
            slot => {
                let ours = Waker::from(Arc::new(WakeTask {
                    task: this.task.waker(),
                    inner: inner.clone(),
                }));
                &slot.insert((inner.clone(), ours)).1
            }
        };
        let guard = this.task.poll_begin();
        let result = fut.as_mut().poll(&mut Context::from_waker(waker));
        if result.is_ready() {
            this.fut = None;
            this.done = true;
            guard.end(PollOutcome::Ready);
        } else {
            guard.end(PollOutcome::Pending);
        }
        result
    }
}
