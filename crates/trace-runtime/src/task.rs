//! Async tasks (futures) as goroutines (`05-writer.md` §7.6).
//!
//! An [`AsyncTask`] is a goroutine of its own, named `task <name>`:
//!
//! | moment | events | thread |
//! | --- | --- | --- |
//! | [`AsyncTask::new`] | `GoCreate` (if tracing is on, else at its first recorded poll) | the creating thread (it holds a P) |
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
    /// Per generation parity, the generation of the task's last status in
    /// it (written by whoever owns the task's transitions: the mutex
    /// holder, or the thread polling it; and by the sweep, for the closed
    /// generation).
    stated: [AtomicU64; 2],
    /// The task's sequence number in the latest generation with a status.
    seq: AtomicU64,
    /// The generation whose events record the goroutine's creation; 0 while
    /// the trace does not know the goroutine (set under the mutex, read
    /// anywhere: the polling thread states a known task it polls in its
    /// lazy statuses).
    created: AtomicU64,
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
    /// The generation of the last transition ([`when`]), and the state and
    /// M before it: the state at the end of the generation before, which the
    /// sweep of that generation may need after the switch.
    changed: u64,
    before: (u64, u64),
}

impl TaskInner {
    /// A transition in generation `gen` to `state` (polled on `m`).
    fn set(&mut self, gen: u64, state: u64, m: u64) {
        if self.changed != gen {
            self.before = (self.state, self.m);
            self.changed = gen;
        }
        self.state = state;
        self.m = m;
    }

    /// The state and M at the end of generation `gen`, the current one or
    /// the one just before it.
    fn at_end_of(&self, gen: u64) -> (u64, u64) {
        if self.changed > gen {
            self.before
        } else {
            (self.state, self.m)
        }
    }
}

/// The generation in which a transition happens now: the current one, or
/// while tracing is off, the one after the last (the next trace cannot
/// begin before it).
fn when(rt: &Runtime) -> u64 {
    let last = crate::runtime::last_generation();
    match rt.buffers.generation() {
        0 => last + 1,
        gen => gen,
    }
}

impl TaskShared {
    /// The next sequence number in `w`'s generation, after writing the
    /// task's status (`status`, on thread `m`) if this is its first event in
    /// the generation.
    fn next_seq(&self, w: &mut EventWriter<'_>, status: u64, m: u64) -> u64 {
        self.status(w, status, m);
        let seq = self.seq.load(Ordering::Relaxed) + 1;
        self.seq.store(seq, Ordering::Relaxed);
        seq
    }

    /// Whether the trace knows the goroutine (its creation was recorded).
    pub(crate) fn known(&self) -> bool {
        self.created.load(Ordering::Acquire) != 0
    }

    /// Records the creation of the goroutine (`GoCreate`: runnable) on the
    /// calling thread, which holds a P; under the task's mutex, after
    /// [`register`](Self::register).
    fn create(&self, rt: &Runtime, w: &mut EventWriter<'_>) {
        let frame = format!("task {}", self.name);
        let pc = rt.symbols.synthetic(&frame, TASK_FILE);
        let stack = w.stack(&[pc]);
        w.event(ty::GO_CREATE, &[self.g, stack, 0]);
        let gen = w.gen();
        self.stated[(gen % 2) as usize].store(gen, Ordering::Relaxed);
        self.seq.store(0, Ordering::Relaxed);
        self.created.store(gen, Ordering::Release);
    }

    /// Puts the task in the registry of live tasks before its creation is
    /// recorded, so that the sweep of the generation after it covers the
    /// task. Under the task's mutex (`inner`), never inside a write.
    /// (Not a method: loom's `Arc` cannot be a receiver.)
    fn register(task: &Arc<Self>, rt: &Runtime, inner: &mut TaskInner) {
        if !inner.registered {
            inner.registered = true;
            rt.threads.register_task(Arc::clone(task), when(rt));
        }
    }

    /// Writes the task's status if this is its first event in `w`'s
    /// generation, without a transition.
    pub(crate) fn status(&self, w: &mut EventWriter<'_>, status: u64, m: u64) {
        let gen = w.gen();
        let stated = &self.stated[(gen % 2) as usize];
        if stated.load(Ordering::Relaxed) != gen {
            w.event(ty::GO_STATUS, &[self.g, m, status]);
            stated.store(gen, Ordering::Relaxed);
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
/// its thread-G running if `need_g`). Also returns the generation the
/// transition belongs to: the one written in, else [`when`].
fn write(
    rt: &Runtime,
    need_g: bool,
    f: impl FnOnce(&ThreadState, &mut EventWriter<'_>),
) -> (Written, u64) {
    let ts = crate::clock::now();
    let r = with_current(rt, |st| {
        rt.buffers.write(&st.writer, ts, |w| {
            st.prepare_with(&rt.threads, &rt.symbols, w, need_g);
            f(st, w);
            w.gen()
        })
    });
    match r {
        Some(Some(gen)) => (Written::Yes, gen),
        Some(None) => (Written::Off, when(rt)),
        None => (Written::NoThread, when(rt)),
    }
}

/// [`write`] if tracing is on and `record`, else nothing.
fn write_if(
    rt: &Runtime,
    record: bool,
    f: impl FnOnce(&ThreadState, &mut EventWriter<'_>),
) -> (Written, u64) {
    if record && crate::is_enabled() {
        write(rt, false, f)
    } else {
        (Written::Off, when(rt))
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
                changed: 0,
                before: (T_RUNNABLE, 0),
            }),
            stated: [AtomicU64::new(0), AtomicU64::new(0)],
            seq: AtomicU64::new(0),
            created: AtomicU64::new(0),
            dropped: AtomicBool::new(false),
        });
        if crate::is_enabled() {
            let mut inner = sync::lock(&shared.inner);
            TaskShared::register(&shared, rt, &mut inner);
            // Not written on a thread being torn down: the task stays
            // unknown until its first recorded poll.
            let (_, gen) = write(rt, false, |_, w| shared.create(rt, w));
            inner.changed = gen;
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
            let (written, gen) = write_if(rt, shared.known(), |_, w| {
                let seq = shared.next_seq(w, T_WAITING, u64::MAX);
                w.event(ty::GO_UNBLOCK, &[shared.g, seq, 0]);
            });
            // From a thread being torn down, leave the task waiting: its
            // next poll unblocks it.
            if written != Written::NoThread {
                inner.set(gen, T_RUNNABLE, 0);
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
            // The outer task is still current for `prepare`.
            let (_, gen) = write_if(rt, outer.known(), |_, w| {
                let reason = w.string(b"nested poll");
                w.event(ty::GO_BLOCK, &[reason, 0]);
            });
            inner.set(gen, T_WAITING, 0);
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

/// Marks the calling thread idle: an executor's worker about to park
/// (`tokio::runtime::Builder::on_thread_park`). Its goroutine blocks
/// (`GoBlock "idle"`) unless it already is (between polls of tasks), so
/// that a parked worker does not show as running; it runs again when it
/// next records an annotation outside a task. Nothing while the thread
/// polls a task.
///
/// While tracing is off it costs one relaxed load and records nothing (the
/// next park after tracing starts records it).
pub fn thread_idle() {
    if !crate::is_enabled() {
        return;
    }
    let Some(rt) = crate::runtime::runtime() else {
        return;
    };
    if with_current(rt, |st| st.current().is_some()).unwrap_or(true) {
        return;
    }
    write(rt, false, |st, w| st.enter_scheduler_because(w, b"idle"));
}

/// Makes `task` the running goroutine of the calling thread; false (and
/// nothing changes) on a thread being torn down.
fn start(rt: &Runtime, task: &Arc<TaskShared>) -> bool {
    let Some(m) = with_current(rt, |st| st.writer.m) else {
        return false;
    };
    let mut inner = sync::lock(&task.inner);
    let state = inner.state;
    let mut gen = when(rt);
    if crate::is_enabled() {
        if !task.known() {
            TaskShared::register(task, rt, &mut inner);
        }
        let written;
        (written, gen) = write(rt, false, |st, w| {
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
    inner.set(gen, T_RUNNING, m);
    inner.notified = false;
    drop(inner);
    with_current(rt, |st| {
        // Tracing went off: the thread still polls in scheduler mode, which
        // its statuses in the next trace say.
        st.enter_scheduler_unrecorded(when(rt));
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
    let (_, gen) = write_if(rt, task.known(), |_, w| match next {
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
    inner.set(gen, next, 0);
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
    /// Adds `task`; `now` is the current generation ([`when`]).
    pub(crate) fn register(&self, task: Arc<TaskShared>, now: u64) {
        let mut tasks = sync::lock(&self.tasks);
        if tasks.len() as u64 >= self.prune_at.load(Ordering::Relaxed) {
            // A task that ended (or was dropped, which records its end) in
            // this generation may still need a status from the sweep of
            // the previous one.
            tasks.retain(|t| {
                let inner = sync::lock(&t.inner);
                let gone = t.dropped.load(Ordering::Relaxed) || inner.state == T_DEAD;
                !(gone && inner.changed < now)
            });
            self.prune_at
                .store((tasks.len() as u64 * 2).max(64), Ordering::Relaxed);
        }
        tasks.push(task);
    }

    /// Writes, in generation `gen` (already drained), `GoStatus` for every
    /// task the trace knew and that was alive at the end of `gen` without a
    /// status in it (whatever happened to it since the switch, its drop
    /// included: the drop records the task's end in a later generation),
    /// and forgets dead and dropped tasks. `payload` receives the statuses of waiting
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
            let created = t.created.load(Ordering::Acquire);
            let (state, m) = inner.at_end_of(gen);
            let stated = &t.stated[(gen % 2) as usize];
            // A dropped task is mentioned after `gen` only if its drop
            // recorded its end after `gen` (the drop may come between the
            // switch and this sweep).
            let dropped = t.dropped.load(Ordering::Relaxed);
            if created != 0
                && created < gen
                && state != T_DEAD
                && (!dropped || inner.changed > gen)
                && stated.load(Ordering::Relaxed) != gen
            {
                if state == T_RUNNING {
                    // It started before `gen` (a start in `gen` would have
                    // stated it there) and ran through all of `gen`.
                    running.clear();
                    crate::thread::encode(&mut running, ty::GO_STATUS, &[t.g, m, T_RUNNING]);
                    emit_batch(m, &running);
                } else {
                    crate::thread::encode(payload, ty::GO_STATUS, &[t.g, u64::MAX, state]);
                }
                // The sequence number is the next generation's by now.
                stated.store(gen, Ordering::Relaxed);
            }
            // A dropped task is never mentioned again after its drop.
            inner.state != T_DEAD && !dropped
        });
    }
}
