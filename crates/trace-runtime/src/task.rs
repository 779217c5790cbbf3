//! Async tasks (futures) as goroutines (`05-writer.md` §7.6).
//!
//! An [`AsyncTask`] is a goroutine of its own, named `task <name>`:
//!
//! | moment | events | thread |
//! | --- | --- | --- |
//! | [`AsyncTask::new`] | `GoCreate` | the creating thread (it holds a P) |
//! | [`AsyncTask::poll_begin`] | `GoStart` (after `GoUnblock` if it was polled without a wake) | the polling thread, which first stops running its own thread-G (`GoBlock "executor"`) or the task it is polling (`GoBlock "nested poll"`) |
//! | [`PollGuard::end`] `Pending` | `GoBlock "future pending"`, or `GoStop "woken during poll"` if woken while polled | the polling thread |
//! | [`PollGuard::end`] `Ready` | `GoDestroy` | the polling thread |
//! | [`AsyncTask::wake`] while waiting | `GoUnblock` | the waking thread, whatever it is |
//! | drop before completion | `GoStart`, `GoDestroy` (after `GoUnblock` if waiting) | the dropping thread |
//!
//! A thread that polled a task stays in *scheduler mode* (P held, no
//! goroutine running, §7.1) until it records something that needs a
//! goroutine (an annotation outside a poll, its exit); then its thread-G is
//! unblocked and runs again.
//!
//! Every recorded transition of a task happens under the task's mutex, with
//! the generation read after taking it, so that a transition caused by
//! another thread is never written into an older generation than the
//! previous one. The advancer writes `GoStatus` for every live task silent in
//! a closed generation (waiting and runnable ones in the no-thread batch, a
//! task running through the whole generation in a batch of the thread
//! polling it), so that a subscriber can start at any generation.
//!
//! While tracing is off nothing is tracked and no lock is taken: a poll,
//! a wake or a creation is one relaxed atomic load more than the untraced
//! operation (plus, for a creation, the task's allocation). What happened
//! meanwhile shows in the next trace as the task's state when it was last
//! recorded (a task woken while off is waiting until its next poll, which
//! unblocks it). A task whose creation was not recorded (created while
//! tracing was off, or on a thread being torn down) is *unknown* to the
//! trace: no status ever introduces it (Go only accepts that in a trace's
//! first generation); its first recorded poll creates it (`GoCreate`).
//!
//! ```
//! use trace_runtime::{AsyncTask, PollOutcome};
//!
//! let task = AsyncTask::new("fetch");
//! let poll = task.poll_begin();
//! poll.end(PollOutcome::Pending);
//! task.wake(); // from any thread
//! let poll = task.poll_begin();
//! poll.end(PollOutcome::Ready);
//! ```

use std::marker::PhantomData;

use trace_wire::ty;

use crate::buffer::EventWriter;
use crate::runtime::{runtime, runtime_or_init, Runtime};
use crate::sync::{self, Arc, AtomicBool, AtomicU64, Mutex, Ordering};
use crate::thread::{with_current, ThreadState};

/// `gstatus` values of tasks (Go's wire values).
pub(crate) const T_RUNNABLE: u64 = 1;
pub(crate) const T_RUNNING: u64 = 2;
pub(crate) const T_WAITING: u64 = 4;
/// Not a wire value: the task completed or was dropped.
pub(crate) const T_DEAD: u64 = 0;

/// The file name of synthetic task frames.
const TASK_FILE: &str = "<task>";

/// What is shared between a task, its wakers and the advancer.
#[derive(Debug)]
pub(crate) struct TaskShared {
    pub(crate) g: u64,
    /// The name given to [`AsyncTask::new`], for a creation recorded late.
    name: Box<str>,
    pub(crate) inner: Mutex<TaskInner>,
    /// The generation of the task's last status (written by whoever owns the
    /// task's transitions: the mutex holder, or the thread polling it).
    pub(crate) status_gen: AtomicU64,
    /// The task's sequence number in `status_gen`.
    pub(crate) seq: AtomicU64,
    /// Whether the trace knows the goroutine: its creation was recorded
    /// (set under the mutex, read anywhere: the polling thread states a
    /// known task it polls in its lazy statuses).
    known: AtomicBool,
    /// The [`AsyncTask`] was dropped: wakes are ignored and the sweep
    /// forgets the task.
    dropped: AtomicBool,
}

#[derive(Debug)]
pub(crate) struct TaskInner {
    pub(crate) state: u64,
    /// Woken while running (or while suspended by a nested poll).
    notified: bool,
    /// The M of the thread polling the task (while `T_RUNNING`).
    m: u64,
    /// In the registry of live tasks (from its first recorded touch).
    registered: bool,
}

impl TaskShared {
    /// The next sequence number in `w`'s generation, after writing the
    /// task's status (`status`, on thread `m`) if this is its first event in
    /// the generation.
    fn next_seq(&self, w: &mut EventWriter<'_>, status: u64, m: u64) -> u64 {
        let gen = w.gen();
        if self.status_gen.load(Ordering::Relaxed) != gen {
            w.event(ty::GO_STATUS, &[self.g, m, status]);
            self.status_gen.store(gen, Ordering::Relaxed);
            self.seq.store(0, Ordering::Relaxed);
        }
        let seq = self.seq.load(Ordering::Relaxed) + 1;
        self.seq.store(seq, Ordering::Relaxed);
        seq
    }

    /// Whether the trace knows the goroutine (its creation was recorded).
    pub(crate) fn known(&self) -> bool {
        self.known.load(Ordering::Acquire)
    }

    /// Records the creation of the goroutine (`GoCreate`: runnable) on the
    /// calling thread, which holds a P; under the task's mutex, after
    /// [`register`](Self::register).
    fn create(&self, rt: &Runtime, w: &mut EventWriter<'_>) {
        let frame = format!("task {}", self.name);
        let pc = rt.symbols.synthetic(&frame, TASK_FILE);
        let stack = w.stack(&[pc]);
        w.event(ty::GO_CREATE, &[self.g, stack, 0]);
        self.status_gen.store(w.gen(), Ordering::Relaxed);
        self.seq.store(0, Ordering::Relaxed);
        self.known.store(true, Ordering::Release);
    }

    /// Puts the task in the registry of live tasks before its creation is
    /// recorded, so that the sweep of the generation after it covers the
    /// task. Under the task's mutex (`inner`), never inside a write.
    fn register(self: &Arc<Self>, rt: &Runtime, inner: &mut TaskInner) {
        if !inner.registered {
            inner.registered = true;
            rt.threads.register_task(Arc::clone(self));
        }
    }

    /// Writes the task's status if this is its first event in `w`'s
    /// generation, without a transition.
    pub(crate) fn status(&self, w: &mut EventWriter<'_>, status: u64, m: u64) {
        if self.status_gen.load(Ordering::Relaxed) != w.gen() {
            w.event(ty::GO_STATUS, &[self.g, m, status]);
            self.status_gen.store(w.gen(), Ordering::Relaxed);
            self.seq.store(0, Ordering::Relaxed);
        }
    }
}

/// What happened to a write.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    Yes,
    /// Tracing is off: the transition happens unrecorded (the advancer
    /// states the task's status when tracing comes back).
    Off,
    /// The thread is being torn down: nothing can be recorded.
    NoThread,
}

/// Writes on the calling thread (after its registration or statuses, with
/// its thread-G running if `need_g`).
fn write(
    rt: &Runtime,
    need_g: bool,
    f: impl FnOnce(&ThreadState, &mut EventWriter<'_>),
) -> Written {
    let ts = crate::clock::now();
    let r = with_current(rt, |st| {
        rt.buffers.write(&st.writer, ts, |w| {
            st.prepare_with(&rt.threads, &rt.symbols, w, need_g);
            f(st, w);
        })
    });
    match r {
        Some(Some(())) => Written::Yes,
        Some(None) => Written::Off,
        None => Written::NoThread,
    }
}

/// An async task recorded as a goroutine of its own. Dropping it before it
/// completed records its end on the dropping thread.
#[derive(Debug)]
pub struct AsyncTask {
    shared: Arc<TaskShared>,
}

/// Whether a poll finished the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// The future returned `Pending`: the task waits for a wake.
    Pending,
    /// The future completed: the goroutine ends.
    Ready,
}

impl AsyncTask {
    /// A new task whose goroutine Go's UI names `task <name>`; records its
    /// creation (`GoCreate`) on the calling thread if tracing is on.
    pub fn new(name: &str) -> AsyncTask {
        let rt = runtime_or_init();
        let shared = Arc::new(TaskShared {
            g: rt.threads.new_g(),
            name: name.into(),
            inner: Mutex::new(TaskInner {
                state: T_RUNNABLE,
                notified: false,
                m: 0,
                registered: false,
            }),
            status_gen: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            known: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
        });
        if crate::is_enabled() {
            let mut inner = sync::lock(&shared.inner);
            shared.register(rt, &mut inner);
            // Not written on a thread being torn down: the task stays
            // unknown until its first recorded poll.
            write(rt, false, |_, w| shared.create(rt, w));
        }
        AsyncTask { shared }
    }

    /// The task's goroutine id.
    pub fn goroutine(&self) -> u64 {
        self.shared.g
    }

    /// A handle that wakes this task from any thread.
    pub fn waker(&self) -> TaskWaker {
        TaskWaker {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Records a wake-up (see [`TaskWaker::wake`]).
    pub fn wake(&self) {
        wake(&self.shared);
    }

    /// Records the start of a poll on the calling thread: the task runs
    /// until [`PollGuard::end`] (or the guard's drop, which counts as
    /// `Ready`). Polls may nest (a traced future polled inside another).
    ///
    /// A poll begun while tracing is off is not recorded, even if tracing
    /// starts before it ends, and costs one relaxed atomic load.
    #[inline]
    pub fn poll_begin(&self) -> PollGuard<'_> {
        let mut guard = PollGuard {
            task: self,
            outer: None,
            active: false,
            _not_send: PhantomData,
        };
        if crate::is_enabled() {
            self.poll_begin_recorded(&mut guard);
        }
        guard
    }

    #[inline(never)]
    fn poll_begin_recorded(&self, guard: &mut PollGuard<'_>) {
        let Some(rt) = runtime() else { return };
        guard.outer = suspend_current(rt);
        guard.active = start(rt, &self.shared);
    }
}

impl Drop for AsyncTask {
    fn drop(&mut self) {
        if crate::is_enabled() {
            let inner = sync::lock(&self.shared.inner);
            let live = inner.state != T_DEAD && self.shared.known();
            drop(inner);
            if live {
                self.poll_begin().end(PollOutcome::Ready);
            }
        }
        self.shared.dropped.store(true, Ordering::Relaxed);
    }
}

/// Wakes an [`AsyncTask`] from any thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct TaskWaker {
    shared: Arc<TaskShared>,
}

impl TaskWaker {
    /// Records a wake-up: a waiting task becomes runnable (`GoUnblock` on
    /// the calling thread, whatever it is); a task being polled will end its
    /// poll runnable (`GoStop`); otherwise nothing.
    pub fn wake(&self) {
        wake(&self.shared);
    }
}

/// Records a wake; nothing while tracing is off.
#[inline]
fn wake(shared: &TaskShared) {
    if crate::is_enabled() && !shared.dropped.load(Ordering::Relaxed) {
        wake_recorded(shared);
    }
}

#[inline(never)]
fn wake_recorded(shared: &TaskShared) {
    let Some(rt) = runtime() else { return };
    let mut inner = sync::lock(&shared.inner);
    match inner.state {
        T_WAITING => {
            // An unknown task is created by its next poll.
            let written = if crate::is_enabled() && shared.known() {
                write(rt, false, |_, w| {
                    let seq = shared.next_seq(w, T_WAITING, u64::MAX);
                    w.event(ty::GO_UNBLOCK, &[shared.g, seq, 0]);
                })
            } else {
                Written::Off
            };
            // From a thread being torn down, leave the task waiting: its
            // next poll unblocks it.
            if written != Written::NoThread {
                inner.state = T_RUNNABLE;
            }
            inner.notified = true;
        }
        T_RUNNING => inner.notified = true,
        _ => {}
    }
}

/// A poll in progress; ends on [`end`](PollGuard::end) or on drop (as
/// `Ready`). Not `Send`: a poll ends on the thread that began it.
#[derive(Debug)]
#[must_use = "a poll ends when the guard is dropped"]
pub struct PollGuard<'a> {
    task: &'a AsyncTask,
    /// The task this thread was polling when this poll began.
    outer: Option<Arc<TaskShared>>,
    active: bool,
    _not_send: PhantomData<*const ()>,
}

impl PollGuard<'_> {
    /// Ends the poll with `outcome`.
    #[inline]
    pub fn end(mut self, outcome: PollOutcome) {
        self.finish(outcome);
    }

    #[inline]
    fn finish(&mut self, outcome: PollOutcome) {
        if std::mem::take(&mut self.active) {
            self.finish_recorded(outcome);
        }
    }

    #[inline(never)]
    fn finish_recorded(&mut self, outcome: PollOutcome) {
        let Some(rt) = runtime() else { return };
        stop(rt, &self.task.shared, outcome);
        if let Some(outer) = self.outer.take() {
            start(rt, &outer);
        }
    }
}

impl Drop for PollGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.finish(PollOutcome::Ready);
    }
}

/// Stops whatever goroutine the calling thread runs: the task it polls
/// (returned, to be resumed) or its thread-G (scheduler mode).
fn suspend_current(rt: &Runtime) -> Option<Arc<TaskShared>> {
    let outer = with_current(rt, ThreadState::current).flatten();
    match outer {
        Some(outer) => {
            let mut inner = sync::lock(&outer.inner);
            if crate::is_enabled() && outer.known() {
                // The outer task is still current for `prepare`.
                write(rt, false, |_, w| {
                    let reason = w.string(b"nested poll");
                    w.event(ty::GO_BLOCK, &[reason, 0]);
                });
            }
            inner.state = T_WAITING;
            drop(inner);
            with_current(rt, |st| st.set_current(None));
            Some(outer)
        }
        None => {
            if crate::is_enabled() {
                write(rt, false, |st, w| st.enter_scheduler(w));
            }
            None
        }
    }
}

/// Makes `task` the running goroutine of the calling thread; false (and
/// nothing changes) on a thread being torn down.
fn start(rt: &Runtime, task: &Arc<TaskShared>) -> bool {
    let Some(m) = with_current(rt, |st| st.writer.m) else {
        return false;
    };
    let mut inner = sync::lock(&task.inner);
    let state = inner.state;
    if crate::is_enabled() {
        if !task.known() {
            task.register(rt, &mut inner);
        }
        let written = write(rt, false, |st, w| {
            st.enter_scheduler(w);
            if !task.known() {
                // Its first recorded event: created, then started.
                task.create(rt, w);
                let seq = task.next_seq(w, T_RUNNABLE, u64::MAX);
                w.event(ty::GO_START, &[task.g, seq]);
            } else if state == T_WAITING {
                // Polled without a wake (a combinator polling its parts).
                let seq = task.next_seq(w, T_WAITING, u64::MAX);
                w.event(ty::GO_UNBLOCK, &[task.g, seq, 0]);
                let seq = task.next_seq(w, T_RUNNABLE, u64::MAX);
                w.event(ty::GO_START, &[task.g, seq]);
            } else {
                let seq = task.next_seq(w, T_RUNNABLE, u64::MAX);
                w.event(ty::GO_START, &[task.g, seq]);
            }
        });
        if written == Written::NoThread {
            return false;
        }
    }
    inner.state = T_RUNNING;
    inner.notified = false;
    inner.m = m;
    drop(inner);
    with_current(rt, |st| {
        // Tracing went off: the thread still polls in scheduler mode, which
        // its statuses in the next trace say.
        st.enter_scheduler_unrecorded(rt.buffers.generation());
        st.set_current(Some(Arc::clone(task)));
    });
    true
}

/// Ends the poll of `task`, the running goroutine of the calling thread.
fn stop(rt: &Runtime, task: &Arc<TaskShared>, outcome: PollOutcome) {
    let mut inner = sync::lock(&task.inner);
    let notified = inner.notified;
    let next = match outcome {
        PollOutcome::Ready => T_DEAD,
        PollOutcome::Pending if notified => T_RUNNABLE,
        PollOutcome::Pending => T_WAITING,
    };
    // An unknown task's poll is not in the trace (its start was not
    // recorded): it is created by its next recorded poll.
    if crate::is_enabled() && task.known() {
        write(rt, false, |_, w| match next {
            T_DEAD => {
                w.event(ty::GO_DESTROY, &[]);
            }
            T_RUNNABLE => {
                let reason = w.string(b"woken during poll");
                w.event(ty::GO_STOP, &[reason, 0]);
            }
            _ => {
                let reason = w.string(b"future pending");
                w.event(ty::GO_BLOCK, &[reason, 0]);
            }
        });
    }
    inner.state = next;
    drop(inner);
    with_current(rt, |st| st.set_current(None));
}

/// The live tasks, for the advancer's sweep.
#[derive(Debug, Default)]
pub(crate) struct TaskRegistry {
    tasks: Mutex<Vec<Arc<TaskShared>>>,
    /// The length at which [`register`](Self::register) forgets dead tasks
    /// (so that the list stays bounded while no sweep runs).
    prune_at: AtomicU64,
}

impl TaskRegistry {
    pub(crate) fn register(&self, task: Arc<TaskShared>) {
        let mut tasks = sync::lock(&self.tasks);
        if tasks.len() as u64 >= self.prune_at.load(Ordering::Relaxed) {
            tasks.retain(|t| {
                sync::lock(&t.inner).state != T_DEAD && !t.dropped.load(Ordering::Relaxed)
            });
            self.prune_at
                .store((tasks.len() as u64 * 2).max(64), Ordering::Relaxed);
        }
        tasks.push(task);
    }

    /// Writes, in generation `gen` (already drained), `GoStatus` for every
    /// live known task that has no status in `gen` or later, and forgets
    /// dead and dropped tasks. `payload` receives the statuses of waiting
    /// and runnable tasks (one no-thread batch); `emit_batch(m, payload)`
    /// one batch per task that was running on thread `m` through all of
    /// `gen` (a running status needs its thread: checklist 15).
    pub(crate) fn sweep(
        &self,
        gen: u64,
        payload: &mut Vec<u8>,
        mut emit_batch: impl FnMut(u64, &[u8]),
    ) {
        let mut tasks = sync::lock(&self.tasks);
        let mut running = Vec::new();
        tasks.retain(|t| {
            let inner = sync::lock(&t.inner);
            if inner.state == T_DEAD || t.dropped.load(Ordering::Relaxed) {
                return false;
            }
            if t.known() && t.status_gen.load(Ordering::Relaxed) < gen {
                // Running: it started before `gen` (a start in `gen` or
                // later would have written a status there), so it ran
                // through all of `gen`.
                if inner.state == T_RUNNING {
                    running.clear();
                    crate::thread::encode(&mut running, ty::GO_STATUS, &[t.g, inner.m, T_RUNNING]);
                    emit_batch(inner.m, &running);
                } else {
                    crate::thread::encode(payload, ty::GO_STATUS, &[t.g, u64::MAX, inner.state]);
                }
                t.status_gen.store(gen, Ordering::Relaxed);
                t.seq.store(0, Ordering::Relaxed);
            }
            true
        });
    }
}
