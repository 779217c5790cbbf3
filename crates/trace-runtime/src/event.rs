//! The annotation events of Go's `runtime/trace` (tasks, regions, logs), as
//! low-level calls. `trace-annotate` builds the user API on top of these.
//!
//! Every call first checks [`is_enabled`] (one relaxed atomic load) and
//! returns at once while tracing is off.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use trace_wire::ty;

use crate::buffer::EventWriter;
use crate::runtime::{active, runtime, Runtime};
use crate::stack;
use crate::thread::with_current;

/// A task id (`runtime/trace`'s `Task`): unique in the process, never 0
/// except for [`TaskId::BACKGROUND`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u64);

impl TaskId {
    /// The background task (id 0): regions and logs outside any task.
    pub const BACKGROUND: TaskId = TaskId(0);

    /// The id as written in the trace.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Task ids are handed out to threads in blocks, so that creating a task
/// writes no shared cache line.
const TASK_ID_BLOCK: u64 = 1024;
static NEXT_TASK_BLOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static TASK_IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// A new, unique task id.
///
/// ```
/// let a = trace_runtime::new_task_id();
/// let b = trace_runtime::new_task_id();
/// assert_ne!(a, b);
/// assert_ne!(a, trace_runtime::TaskId::BACKGROUND);
/// ```
pub fn new_task_id() -> TaskId {
    TASK_IDS.with(|ids| {
        let (next, end) = ids.get();
        if next < end {
            ids.set((next + 1, end));
            return TaskId(next);
        }
        let start = NEXT_TASK_BLOCK.fetch_add(TASK_ID_BLOCK, Ordering::Relaxed);
        ids.set((start + 1, start + TASK_ID_BLOCK));
        TaskId(start)
    })
}

/// Whether tracing is on (some subscriber is recording). One relaxed atomic
/// load.
///
/// ```
/// // Nothing subscribed in this example.
/// assert!(!trace_runtime::is_enabled());
/// ```
#[inline(always)]
pub fn is_enabled() -> bool {
    active()
}

/// The recorder's clock, in ticks (one clock read; the frequency is written
/// in every generation). Exposed so that benchmarks can show the floor.
///
/// ```
/// let a = trace_runtime::timestamp();
/// assert!(trace_runtime::timestamp() >= a);
/// ```
#[inline]
pub fn timestamp() -> u64 {
    crate::clock::now()
}

/// Emits the events `f` writes, after the thread's registration or lazy
/// statuses; `f` gets the writer and the event's stack id (0 unless stacks
/// are on).
#[inline(always)]
fn emit(f: impl FnOnce(&mut EventWriter<'_>, u64)) {
    let Some(rt) = runtime() else { return };
    if stack::enabled() {
        return emit_with_stack(rt, f);
    }
    let ts = crate::clock::now();
    with_current(rt, |st| {
        rt.buffers.write(&st.writer, ts, |w| {
            st.prepare(&rt.threads, &rt.symbols, w);
            f(w, 0);
        })
    });
}

#[inline(never)]
fn emit_with_stack(rt: &Runtime, f: impl FnOnce(&mut EventWriter<'_>, u64)) {
    with_current(rt, |st| {
        st.with_stack_buffer(|pcs| {
            let n = stack::capture(st.stack_high(), pcs);
            let ts = crate::clock::now();
            rt.buffers.write(&st.writer, ts, |w| {
                st.prepare(&rt.threads, &rt.symbols, w);
                let id = w.stack(&pcs[..n]);
                f(w, id);
            })
        })
    });
}

/// Records the start of task `id` (`UserTaskBegin`) with parent `parent`
/// ([`TaskId::BACKGROUND`] for none) and type `name`.
#[inline(always)]
pub fn task_begin(id: TaskId, parent: TaskId, name: &str) {
    if is_enabled() {
        task_begin_recorded(id, parent, name);
    }
}

#[inline(never)]
fn task_begin_recorded(id: TaskId, parent: TaskId, name: &str) {
    emit(|w, stack| {
        let name = w.string(name.as_bytes());
        w.event(ty::USER_TASK_BEGIN, &[id.0, parent.0, name, stack]);
    });
}

/// Records the end of task `id` (`UserTaskEnd`), on any thread.
#[inline(always)]
pub fn task_end(id: TaskId) {
    if is_enabled() {
        task_end_recorded(id);
    }
}

#[inline(never)]
fn task_end_recorded(id: TaskId) {
    emit(|w, stack| {
        w.event(ty::USER_TASK_END, &[id.0, stack]);
    });
}

/// Records the start of a region named `name` in task `task`
/// (`UserRegionBegin`). Regions must end on the same thread, innermost
/// first (the reader rejects anything else).
#[inline(always)]
pub fn region_begin(task: TaskId, name: &str) {
    if is_enabled() {
        region_begin_recorded(task, name);
    }
}

#[inline(never)]
fn region_begin_recorded(task: TaskId, name: &str) {
    emit(|w, stack| {
        let name = w.string(name.as_bytes());
        w.event(ty::USER_REGION_BEGIN, &[task.0, name, stack]);
    });
}

/// Records the end of the region named `name` in task `task`
/// (`UserRegionEnd`).
#[inline(always)]
pub fn region_end(task: TaskId, name: &str) {
    if is_enabled() {
        region_end_recorded(task, name);
    }
}

#[inline(never)]
fn region_end_recorded(task: TaskId, name: &str) {
    emit(|w, stack| {
        let name = w.string(name.as_bytes());
        w.event(ty::USER_REGION_END, &[task.0, name, stack]);
    });
}

/// Records a log message (`UserLog`) with a category (may be empty) in
/// task `task`. Strings longer than 1024 bytes are cut to their first 1024
/// bytes, as Go does.
///
/// ```
/// use trace_runtime::{log, TaskId};
/// log(TaskId::BACKGROUND, "startup", "config loaded");
/// ```
#[inline(always)]
pub fn log(task: TaskId, category: &str, message: &str) {
    if is_enabled() {
        log_recorded(task, category, message);
    }
}

#[inline(never)]
fn log_recorded(task: TaskId, category: &str, message: &str) {
    emit(|w, stack| {
        let key = w.string(category.as_bytes());
        let value = w.string(message.as_bytes());
        w.event(ty::USER_LOG, &[task.0, key, value, stack]);
    });
}
