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
//! With the `opentelemetry` feature and a `tracing-opentelemetry` layer
//! below this one, a span that becomes a task also logs its W3C trace
//! context on the task, in category `traceparent`
//! (`00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`), so that a
//! request's task can be found from a distributed trace and back.
//!
//! Regions must nest on each goroutine; span exits out of order are ended
//! when the regions entered after them end, as with [`Region`](crate::Region).
//! Spans created while tracing is off are not recorded.
//!
//! # Choosing what is recorded
//!
//! [`TraceLayer::builder`] says which spans become tasks, which make
//! regions, and whether span fields are kept. For a service, a task per
//! request and regions for the work inside it is usually what reads best
//! (`trace-tool stats` then counts one `request` task per request, and one
//! region per step):
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! use trace_annotate::layer::{Category, Regions, Tasks};
//!
//! let layer = trace_annotate::TraceLayer::builder()
//!     .tasks(Tasks::Roots) // a root span is a task; spans inside it are not
//!     .regions(Regions::NonTasks) // a region per enter of the spans inside
//!     .span_fields(true) // `id = 7` and later `record`s become logs
//!     .events(Category::Level) // events' category: "INFO", "WARN", …
//!     .build();
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::with_default(subscriber, || {
//!     let request = tracing::info_span!("request", id = 7);
//!     let _enter = request.enter();
//!     tracing::info_span!("parse").in_scope(|| tracing::warn!("slow"));
//! });
//! ```

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
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
    config: Builder,
    /// The subscriber this layer is part of, to ask the OpenTelemetry
    /// layer for span contexts (the current dispatcher is not reachable
    /// from inside its own callbacks).
    #[cfg(feature = "opentelemetry")]
    dispatch: std::sync::OnceLock<tracing_core::dispatcher::WeakDispatch>,
}

static NEXT_LAYER: AtomicU64 = AtomicU64::new(1);

impl TraceLayer {
    /// A new layer: every span a task, a region per enter, events as logs
    /// in their target's category (the defaults of [`TraceLayer::builder`]).
    pub fn new() -> Self {
        Builder::default().build()
    }

    /// A layer to configure: which spans become tasks, which make regions,
    /// and what becomes a log.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for TraceLayer {
    /// A new layer with the same settings (and an identity of its own).
    fn clone(&self) -> Self {
        self.config.clone().build()
    }
}

/// Which spans become tasks ([`Builder::tasks`]). A span that is not a task
/// belongs to the task of its nearest ancestor that is one (or to the
/// background task): its regions and logs go there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tasks {
    /// Every span (the default).
    #[default]
    All,
    /// Spans without a parent span: a request's root span is its task, and
    /// the spans inside it are not tasks of their own.
    Roots,
    /// Spans with one of these names.
    Named(Vec<String>),
    /// No span: spans are only regions, of the background task.
    None,
}

/// Which spans record a region each time they are entered (for a future
/// instrumented with a span, each poll) ([`Builder::regions`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Regions {
    /// Every span (the default).
    #[default]
    All,
    /// Only the spans that are not tasks: a task's latency is the task's
    /// own, and the regions are the steps inside it.
    NonTasks,
    /// None.
    None,
}

/// The category of the logs an event becomes ([`Builder::events`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Category {
    /// The event's target (its module path unless set), the default.
    #[default]
    Target,
    /// The event's level: `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    Level,
    /// The level and the target: `WARN my_service::db`.
    LevelAndTarget,
    /// This text.
    Fixed(String),
}

/// Settings of a [`TraceLayer`]; [`TraceLayer::builder`] makes one.
#[derive(Debug, Clone, Default)]
#[must_use = "call `build` to get the layer"]
pub struct Builder {
    tasks: Tasks,
    regions: Regions,
    span_fields: Option<String>,
    events: Category,
}

impl Builder {
    /// Which spans become tasks (default: [`Tasks::All`]).
    pub fn tasks(mut self, tasks: Tasks) -> Self {
        self.tasks = tasks;
        self
    }

    /// Which spans record regions (default: [`Regions::All`]).
    pub fn regions(mut self, regions: Regions) -> Self {
        self.regions = regions;
        self
    }

    /// Keeps span fields: a span's fields when it is created, and the
    /// values `Span::record` gives it later, become a log on its task, in
    /// category `span`, with the message `NAME: field=value …` (default:
    /// off).
    pub fn span_fields(self, on: bool) -> Self {
        self.span_fields_in(if on { Some("span") } else { None })
    }

    /// Like [`Builder::span_fields`], with the logs in `category` (`None`
    /// turns them off).
    pub fn span_fields_in(mut self, category: Option<&str>) -> Self {
        self.span_fields = category.map(str::to_string);
        self
    }

    /// The category of the logs events become (default:
    /// [`Category::Target`]). The message is the event's fields, its
    /// `message` first.
    pub fn events(mut self, category: Category) -> Self {
        self.events = category;
        self
    }

    /// The layer.
    pub fn build(self) -> TraceLayer {
        TraceLayer {
            id: NEXT_LAYER.fetch_add(1, Ordering::Relaxed),
            config: self,
            #[cfg(feature = "opentelemetry")]
            dispatch: std::sync::OnceLock::new(),
        }
    }

    /// Whether a span named `name`, with a parent span or not, is a task.
    fn is_task(&self, name: &str, has_parent: bool) -> bool {
        match &self.tasks {
            Tasks::All => true,
            Tasks::Roots => !has_parent,
            Tasks::Named(names) => names.iter().any(|n| n == name),
            Tasks::None => false,
        }
    }

    /// Whether entering a span makes a region.
    fn region(&self, own_task: bool) -> bool {
        match self.regions {
            Regions::All => true,
            Regions::NonTasks => !own_task,
            Regions::None => false,
        }
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
    /// The span's task: its own, or its nearest task ancestor's.
    task: TaskId,
    /// Whether the task is the span's own (it ends when the span closes).
    own: bool,
    /// Whether entering the span makes a region.
    region: bool,
    /// Set when the span closes: a cache entry for it is stale, even if the
    /// registry hands out the same id again.
    closed: AtomicBool,
}

impl SpanTask {
    fn new(task: TaskId, own: bool, region: bool) -> Self {
        Self(Arc::new(SpanState {
            task,
            own,
            region,
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
    fn find(&self, layer: u64, span: u64) -> Option<(Arc<SpanState>, &'static str)> {
        self.known
            .iter()
            .flatten()
            .find(|k| k.span == span && k.layer == layer && !k.state.closed.load(Ordering::Relaxed))
            .map(|k| (k.state.clone(), k.name))
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
    /// The state and name of recorded span `id`: from this thread's cache,
    /// else from the span's extensions (then cached).
    #[inline]
    fn lookup<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Option<(Arc<SpanState>, &'static str)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let raw = id.into_u64();
        if let Some(Some(hit)) = with_local(|l| l.find(self.id, raw)) {
            return Some(hit);
        }
        let span = ctx.span(id)?;
        let state = span.extensions().get::<SpanTask>()?.0.clone();
        let name = span.metadata().name();
        with_local(|l| {
            l.remember(Known {
                layer: self.id,
                span: raw,
                state: state.clone(),
                name,
            })
        });
        Some((state, name))
    }

    /// Logs `NAME: field=value …` on `task`, if span fields are kept and
    /// there are any.
    fn log_fields(&self, task: TaskId, name: &str, record: impl FnOnce(&mut Fields<'_>)) {
        let Some(category) = &self.config.span_fields else {
            return;
        };
        with_message(|msg| {
            let _ = write!(msg, "{name}:");
            let bare = msg.len();
            record(&mut Fields(msg));
            if msg.len() > bare {
                trace_runtime::log(task, category, msg);
            }
        });
    }
}

impl<S> Layer<S> for TraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[cfg(feature = "opentelemetry")]
    fn on_register_dispatch(&self, subscriber: &tracing_core::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !crate::is_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent_span = span.parent();
        let parent = parent_span
            .as_ref()
            .and_then(|p| p.extensions().get::<SpanTask>().map(SpanTask::task))
            .unwrap_or(TaskId::BACKGROUND);
        let name = attrs.metadata().name();
        let own = self.config.is_task(name, parent_span.is_some());
        let task = if own {
            let task = trace_runtime::new_task_id();
            trace_runtime::task_begin(task, parent, name);
            task
        } else {
            parent
        };
        let span_task = SpanTask::new(task, own, self.config.region(own));
        let state = span_task.0.clone();
        span.extensions_mut().insert(span_task);
        #[cfg(feature = "opentelemetry")]
        if own {
            if let Some(dispatch) = self.dispatch.get().and_then(|d| d.upgrade()) {
                log_trace_context(&dispatch, task, id);
            }
        }
        self.log_fields(task, name, |f| attrs.record(f));
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
        let Some((state, name)) = self.lookup(id, &ctx) else {
            return;
        };
        if !state.region {
            return;
        }
        let task = state.task;
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
        let task = span.extensions().get::<SpanTask>().and_then(|t| {
            t.0.closed.store(true, Ordering::Relaxed);
            t.0.own.then(|| t.task())
        });
        if let Some(task) = task {
            trace_runtime::task_end(task);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if self.config.span_fields.is_none() || !crate::is_enabled() {
            return;
        }
        if let Some((state, name)) = self.lookup(id, &ctx) {
            self.log_fields(state.task, name, |f| values.record(f));
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
        let level = meta.level().as_str();
        let both;
        let category = match &self.config.events {
            Category::Target if meta.target().is_empty() => level,
            Category::Target => meta.target(),
            Category::Level => level,
            Category::LevelAndTarget => {
                both = format!("{level} {}", meta.target());
                &both
            }
            Category::Fixed(c) => c.as_str(),
        };
        with_message(|msg| {
            event.record(&mut Fields(msg));
            trace_runtime::log(task, category, msg);
        });
    }
}

thread_local! {
    static MESSAGE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` on this thread's (cleared) message buffer, or on a fresh one if
/// it is in use.
/// Logs span `id`'s W3C trace context on `task`, in category
/// `traceparent`: `00-TRACE_ID-SPAN_ID-FLAGS`, as the HTTP header carries
/// it, when a `tracing-opentelemetry` layer below this one gave the span a
/// valid context.
#[cfg(feature = "opentelemetry")]
fn log_trace_context(dispatch: &tracing_core::Dispatch, task: TaskId, id: &Id) {
    use opentelemetry::trace::TraceContextExt;
    // Extensions must not be locked here: the OpenTelemetry layer locks
    // them to build the span's context.
    let Some(cx) = tracing_opentelemetry::get_otel_context(id, dispatch) else {
        return;
    };
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        with_message(|msg| {
            let _ = write!(
                msg,
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            );
            trace_runtime::log(task, "traceparent", msg);
        });
    }
}

fn with_message(f: impl FnOnce(&mut String)) {
    let _ = MESSAGE.try_with(|buf| {
        let mut fresh = String::new();
        let mut guard = buf.try_borrow_mut();
        let msg = match guard.as_deref_mut() {
            Ok(m) => m,
            Err(_) => &mut fresh,
        };
        msg.clear();
        f(msg);
        if msg.capacity() > 4096 {
            *msg = String::new();
        }
    });
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
