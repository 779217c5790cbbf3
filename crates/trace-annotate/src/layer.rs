//! `tracing` integration (feature `tracing`): a [`tracing_subscriber::Layer`]
//! that records spans and events in the trace.
//!
//! | `tracing` | trace |
//! | --- | --- |
//! | a span is created | a task (`UserTaskBegin`), type = the span's name, parent = the parent span's task |
//! | the span is entered / exited | a region of that task on the entering thread (or polled future) |
//! | the span is closed (on any thread) | the task ends (`UserTaskEnd`) |
//! | an event | a log (`UserLog`) in the current span's task: category = the target, message = the formatted fields |
//!
//! The layer is an ordinary [`Layer`], so per-layer filtering applies: record
//! `DEBUG` in the trace while the console prints `INFO`:
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! use tracing_subscriber::filter::LevelFilter;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(trace_annotate::TraceLayer::new().with_filter(LevelFilter::DEBUG));
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("request", id = 7);
//!     let _enter = span.enter();
//!     tracing::debug!(bytes = 512, "parsed");
//! });
//! ```
//!
//! Regions must nest on each goroutine; span exits out of order are ended
//! when the regions entered after them end, as with [`Region`](crate::Region).
//! Spans created while tracing is off are not recorded.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use trace_runtime::TaskId;

/// Records `tracing` spans as tasks and regions and events as logs. See the
/// [module documentation](self).
///
/// Each layer (and each clone) has an identity of its own, which keys the
/// per-thread cache of recorded spans: span ids are only unique within one
/// subscriber.
#[derive(Debug)]
pub struct TraceLayer {
    id: u64,
}

static NEXT_LAYER: AtomicU64 = AtomicU64::new(1);

impl TraceLayer {
    /// A new layer.
    pub fn new() -> Self {
        Self {
            id: NEXT_LAYER.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for TraceLayer {
    /// A new layer (with an identity of its own).
    fn clone(&self) -> Self {
        Self::new()
    }
}

/// A span entered on this thread: (span id, region depth, task, name).
type Entered = (u64, u32, TaskId, &'static str);

/// The task of a recorded span, kept in the span's extensions.
#[derive(Debug, Clone)]
struct SpanTask(Arc<SpanState>);

/// What the layer knows of a recorded span, shared by its extensions and
/// the per-thread caches.
#[derive(Debug)]
struct SpanState {
    task: TaskId,
    /// Set when the span closes: a cache entry for it is stale, even if the
    /// registry hands out the same id again.
    closed: AtomicBool,
}

impl SpanTask {
    fn new(task: TaskId) -> Self {
        Self(Arc::new(SpanState {
            task,
            closed: AtomicBool::new(false),
        }))
    }

    fn task(&self) -> TaskId {
        self.0.task
    }
}

/// A recorded span known to this thread, so that entering it needs no
/// lookup in the registry (whose span and extension locks cost four atomic
/// read-modify-writes).
#[derive(Debug, Clone)]
struct Known {
    layer: u64,
    span: u64,
    state: Arc<SpanState>,
    name: &'static str,
}

/// How many recorded spans each thread remembers (the most recently created
/// or entered ones).
const KNOWN: usize = 8;

/// The layer's per-thread state.
struct Local {
    /// Spans entered on this thread and recorded as regions, innermost
    /// last, so that exiting needs no span lookup.
    entered: Vec<Entered>,
    /// Recently created or entered recorded spans, a ring. An entry is
    /// removed when its span closes on this thread; a span closed on
    /// another thread leaves its entry here, marked closed, and a later
    /// span given the same id by the registry (it reuses ids once a slot's
    /// generation counter wraps) is not mistaken for it.
    known: [Option<Known>; KNOWN],
    next: usize,
}

impl Local {
    fn find(&self, layer: u64, span: u64) -> Option<(TaskId, &'static str)> {
        self.known
            .iter()
            .flatten()
            .find(|k| k.span == span && k.layer == layer && !k.state.closed.load(Ordering::Relaxed))
            .map(|k| (k.state.task, k.name))
    }

    fn remember(&mut self, k: Known) {
        self.known[self.next] = Some(k);
        self.next = (self.next + 1) % KNOWN;
    }

    fn forget(&mut self, layer: u64, span: u64) {
        for k in &mut self.known {
            if k.as_ref()
                .is_some_and(|k| k.span == span && k.layer == layer)
            {
                *k = None;
            }
        }
    }
}

thread_local! {
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local {
            entered: Vec::new(),
            known: [const { None }; KNOWN],
            next: 0,
        })
    };
}

/// Runs `f` on this thread's state; nothing during the thread's teardown or
/// if `f` re-enters (a callback inside a callback).
fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    LOCAL
        .try_with(|l| l.try_borrow_mut().ok().map(|mut l| f(&mut l)))
        .ok()
        .flatten()
}

impl TraceLayer {
    /// The task and name of recorded span `id`: from this thread's cache,
    /// else from the span's extensions (then cached).
    #[inline]
    fn lookup<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Option<(TaskId, &'static str)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let raw = id.into_u64();
        if let Some(Some(hit)) = with_local(|l| l.find(self.id, raw)) {
            return Some(hit);
        }
        let span = ctx.span(id)?;
        let state = span.extensions().get::<SpanTask>()?.0.clone();
        let (task, name) = (state.task, span.metadata().name());
        with_local(|l| {
            l.remember(Known {
                layer: self.id,
                span: raw,
                state,
                name,
            })
        });
        Some((task, name))
    }
}

impl<S> Layer<S> for TraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !crate::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<SpanTask>().map(SpanTask::task))
            .unwrap_or(TaskId::BACKGROUND);
        let task = trace_runtime::new_task_id();
        let name = attrs.metadata().name();
        trace_runtime::task_begin(task, parent, name);
        let span_task = SpanTask::new(task);
        let state = span_task.0.clone();
        span.extensions_mut().insert(span_task);
        with_local(|l| {
            l.remember(Known {
                layer: self.id,
                span: id.into_u64(),
                state,
                name,
            })
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !crate::is_enabled() {
            return;
        }
        let Some((task, name)) = self.lookup(id, &ctx) else {
            return;
        };
        let depth = crate::begin_recorded(task, name);
        let pushed = with_local(|l| l.entered.push((id.into_u64(), depth, task, name)));
        if pushed.is_none() {
            // Not remembered: end the region at once rather than never.
            crate::end_region(depth, task, name);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let raw = id.into_u64();
        let entered = with_local(|l| {
            let at = l.entered.iter().rposition(|&(s, ..)| s == raw)?;
            Some(l.entered.remove(at))
        });
        if let Some(Some((_, depth, task, name))) = entered {
            crate::end_region(depth, task, name);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        with_local(|l| l.forget(self.id, id.into_u64()));
        let Some(span) = ctx.span(&id) else { return };
        let task = span.extensions().get::<SpanTask>().map(|t| {
            t.0.closed.store(true, Ordering::Relaxed);
            t.task()
        });
        if let Some(task) = task {
            trace_runtime::task_end(task);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !crate::is_enabled() {
            return;
        }
        let task = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<SpanTask>().map(SpanTask::task))
            .unwrap_or(TaskId::BACKGROUND);
        let meta = event.metadata();
        let category = if meta.target().is_empty() {
            meta.level().as_str()
        } else {
            meta.target()
        };
        let _ = MESSAGE.try_with(|buf| {
            let mut fresh = String::new();
            let mut guard = buf.try_borrow_mut();
            let msg = match guard.as_deref_mut() {
                Ok(m) => m,
                Err(_) => &mut fresh,
            };
            msg.clear();
            event.record(&mut Fields(msg));
            trace_runtime::log(task, category, msg);
            if msg.capacity() > 4096 {
                *msg = String::new();
            }
        });
    }
}

thread_local! {
    static MESSAGE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Formats an event's fields: the `message` first, then `name=value`.
struct Fields<'a>(&'a mut String);

impl Fields<'_> {
    fn sep(&mut self) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.sep();
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, "{}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.sep();
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }
}
