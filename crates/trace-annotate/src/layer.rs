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

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use trace_runtime::TaskId;

/// Records `tracing` spans as tasks and regions and events as logs. See the
/// [module documentation](self).
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceLayer {
    _private: (),
}

impl TraceLayer {
    /// A new layer.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A span entered on this thread: (span id, region depth, task, name).
type Entered = (u64, u32, TaskId, &'static str);

/// The task of a recorded span, kept in the span's extensions.
#[derive(Debug, Clone, Copy)]
struct SpanTask(TaskId);

thread_local! {
    /// Spans entered on this thread and recorded as regions: (span id,
    /// region depth, task, name), so that exiting needs no span lookup.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
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
            .and_then(|p| p.extensions().get::<SpanTask>().map(|t| t.0))
            .unwrap_or(TaskId::BACKGROUND);
        let task = trace_runtime::new_task_id();
        trace_runtime::task_begin(task, parent, attrs.metadata().name());
        span.extensions_mut().insert(SpanTask(task));
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !crate::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let Some(task) = span.extensions().get::<SpanTask>().map(|t| t.0) else {
            return;
        };
        let name = span.metadata().name();
        let depth = crate::begin_recorded(task, name);
        let _ = ENTERED.try_with(|e| e.borrow_mut().push((id.into_u64(), depth, task, name)));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let raw = id.into_u64();
        let entered = ENTERED.try_with(|e| {
            let mut e = e.borrow_mut();
            let at = e.iter().rposition(|&(s, ..)| s == raw)?;
            Some(e.remove(at))
        });
        if let Ok(Some((_, depth, task, name))) = entered {
            crate::end_region(depth, task, name);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let task = span.extensions().get::<SpanTask>().copied();
        if let Some(SpanTask(task)) = task {
            trace_runtime::task_end(task);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !crate::is_enabled() {
            return;
        }
        let task = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<SpanTask>().map(|t| t.0))
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
