//! Threads as Go's M, P and G (`05-writer.md` §7).
//!
//! Each OS thread that emits an event becomes an M with an id from a process
//! counter (never the OS thread id, which the OS reuses), takes a P from a
//! free list of small ids, and runs its own goroutine (the *thread-G*), which
//! Go's UI names after the thread (`thread worker-1`). The thread holds its P
//! and runs its thread-G for as long as it lives; a thread-local destructor
//! records its exit (`GoDestroy`, `ProcStop`) and returns the P to the free
//! list.
//!
//! A thread registers itself on its first event (§7.2 B: `ProcStatus` Idle,
//! `ProcStart`, `GoCreate`, `GoStart`). Its first event in every later
//! generation is preceded by `ProcStatus` Running and `GoStatus` Running
//! (lazy statuses, §7.8). A registered thread that writes nothing in a
//! generation gets the same two statuses from the advancer, in a batch tagged
//! with the thread's M id (never the no-thread id: checklist 15), so that a
//! subscriber whose first generation that was knows the goroutine before the
//! thread's next event.
//!
//! # Async tasks as goroutines
//!
//! [`crate::task`] makes each [`AsyncTask`](crate::AsyncTask) a goroutine
//! (`05-writer.md` §7.6). A thread that polls one enters *scheduler mode*:
//! its thread-G blocks (`GoBlock "executor"`), it keeps its P, and its lazy
//! statuses become `ProcStatus` Running, `GoStatus` Waiting for the
//! thread-G, and `GoStatus` Running for the task it is polling, if any.
//! Events inside a poll belong to the task-G. An event that needs a
//! goroutine outside a poll (an annotation, the thread's exit) first
//! unblocks and starts the thread-G again. The sweep knows each thread's
//! mode at the end of the swept generation, and also states the status of
//! every live task silent in it (in the no-thread batch).

use std::cell::{Cell, OnceCell, RefCell};

use trace_wire::ty;

use crate::buffer::{EventWriter, WriterState};
use crate::sync::{self, Arc, AtomicU64, Mutex, Ordering};
use crate::task::{TaskRegistry, TaskShared, T_RUNNING, T_WAITING};

/// `pstatus` values.
pub(crate) const P_RUNNING: u64 = 1;
pub(crate) const P_IDLE: u64 = 2;
/// `gstatus` values.
pub(crate) const G_RUNNING: u64 = 2;

/// The file name of synthetic thread frames.
const THREAD_FILE: &str = "<thread>";

/// What the advancer needs to know about a registered thread.
#[derive(Debug)]
pub(crate) struct ThreadRecord {
    pub(crate) m: u64,
    pub(crate) p: u64,
    pub(crate) g: u64,
    /// The generation in which the thread last wrote its statuses, per
    /// generation parity.
    status_gen: [AtomicU64; 2],
    /// The generation in which the thread registered.
    created_gen: AtomicU64,
    /// The generation of the thread's exit events (`u64::MAX` while alive,
    /// 0 if it exited while tracing was off).
    exit_gen: AtomicU64,
    /// Scheduler mode (thread-G blocked, §7.1): the generation of the last
    /// change `<< 2`, the mode before that generation `<< 1`, the mode now.
    mode: AtomicU64,
}

impl ThreadRecord {
    /// Whether the thread was in scheduler mode at the end of generation
    /// `gen`, if it wrote nothing in `gen`.
    fn sched_in(&self, gen: u64) -> bool {
        let w = self.mode.load(Ordering::Acquire);
        if w >> 2 > gen {
            w & 2 != 0
        } else {
            w & 1 != 0
        }
    }

    fn set_sched(&self, gen: u64, sched: bool) {
        let w = self.mode.load(Ordering::Relaxed);
        let before = if w >> 2 == gen { w & 2 } else { (w & 1) << 1 };
        self.mode
            .store(gen << 2 | before | u64::from(sched), Ordering::Release);
    }
}

#[derive(Debug, Default)]
struct FreeProcs {
    /// Released P ids with the time of their `ProcStop`.
    free: Vec<(u64, u64)>,
    next: u64,
}

/// Ids, the P free list and the registry of threads.
#[derive(Debug)]
pub(crate) struct Threads {
    next_m: AtomicU64,
    next_g: AtomicU64,
    procs: Mutex<FreeProcs>,
    registry: Mutex<Vec<Arc<ThreadRecord>>>,
    tasks: TaskRegistry,
}

impl Default for Threads {
    fn default() -> Self {
        Self {
            next_m: AtomicU64::new(1),
            next_g: AtomicU64::new(1),
            procs: Mutex::new(FreeProcs::default()),
            registry: Mutex::new(Vec::new()),
            tasks: TaskRegistry::default(),
        }
    }
}

impl Threads {
    pub(crate) fn new_m(&self) -> u64 {
        self.next_m.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh goroutine id (never reused).
    pub(crate) fn new_g(&self) -> u64 {
        self.next_g.fetch_add(1, Ordering::Relaxed)
    }

    /// Takes a P id and the time of its previous holder's `ProcStop`.
    pub(crate) fn take_p(&self) -> (u64, u64) {
        let mut procs = sync::lock(&self.procs);
        if let Some(p) = procs.free.pop() {
            return p;
        }
        let p = procs.next;
        procs.next += 1;
        (p, 0)
    }

    /// Returns a P id to the free list; `stopped` is the time of its
    /// `ProcStop` (a later `ProcStatus` for it must be later).
    pub(crate) fn put_p(&self, p: u64, stopped: u64) {
        let mut procs = sync::lock(&self.procs);
        procs.free.push((p, stopped));
        // Smallest ids first, so that Go's UI shows few, dense procs.
        procs
            .free
            .sort_unstable_by_key(|&(p, _)| std::cmp::Reverse(p));
    }

    /// Writes, in generation `gen` (already drained), `ProcStatus` and
    /// `GoStatus` for every registered thread that lived through `gen`
    /// without writing its own, and forgets threads that exited by `gen`.
    /// `emit_batch(m, payload)` receives one encoded batch per thread.
    pub(crate) fn sweep(&self, gen: u64, mut emit_batch: impl FnMut(u64, &[u8])) {
        let mut registry = sync::lock(&self.registry);
        let mut payload = Vec::with_capacity(32);
        registry.retain(|rec| {
            let exit = rec.exit_gen.load(Ordering::Acquire);
            let created = rec.created_gen.load(Ordering::Acquire);
            let written = rec.status_gen[(gen % 2) as usize].load(Ordering::Acquire) == gen;
            if created <= gen && gen < exit && !written {
                payload.clear();
                encode(&mut payload, ty::PROC_STATUS, &[rec.p, P_RUNNING]);
                if rec.sched_in(gen) {
                    encode(&mut payload, ty::GO_STATUS, &[rec.g, u64::MAX, T_WAITING]);
                } else {
                    encode(&mut payload, ty::GO_STATUS, &[rec.g, rec.m, G_RUNNING]);
                }
                emit_batch(rec.m, &payload);
            }
            exit > gen
        });
        drop(registry);
        payload.clear();
        self.tasks.sweep(gen, &mut payload, &mut emit_batch);
        if !payload.is_empty() {
            emit_batch(trace_wire::NO_THREAD, &payload);
        }
    }

    /// Registers a task for the sweep.
    pub(crate) fn register_task(&self, task: Arc<TaskShared>, now: u64) {
        self.tasks.register(task, now);
    }

    fn register(&self, record: Arc<ThreadRecord>) {
        sync::lock(&self.registry).push(record);
    }
}

/// Encodes one timed event with `dt` 0.
pub(crate) fn encode(out: &mut Vec<u8>, ty: u8, args: &[u64]) {
    out.push(ty);
    out.push(0);
    for &a in args {
        trace_wire::varint::encode(a, out);
    }
}

/// The calling thread's recorder state.
#[derive(Debug)]
pub(crate) struct ThreadState {
    pub(crate) writer: WriterState,
    record: OnceCell<Arc<ThreadRecord>>,
    /// The generation whose statuses this thread wrote last.
    status_gen: Cell<u64>,
    /// The top of the thread's stack, for frame-pointer walks (0: unknown).
    stack_high: Cell<usize>,
    /// Room for one captured stack, allocated on first use (so that
    /// capturing does not clear a kilobyte of stack every time).
    stack_buffer: RefCell<Vec<u64>>,
    /// The thread's P and the time of its previous holder's `ProcStop`.
    ///
    /// The P is taken when the state is created, before the thread first
    /// reads the generation number: taking it synchronizes with the
    /// previous holder's release, so this thread cannot then read a
    /// generation older than the one that holds the previous holder's
    /// `ProcStop`.
    p: (u64, u64),
    /// Scheduler mode: the thread-G is blocked (§7.1).
    sched: Cell<bool>,
    /// The thread-G's sequence number in the current generation.
    g_seq: Cell<u64>,
    /// The task being polled on this thread.
    current: RefCell<Option<Arc<TaskShared>>>,
}

impl ThreadState {
    fn new(threads: &Threads) -> Self {
        let m = threads.new_m();
        Self {
            p: threads.take_p(),
            writer: WriterState::new(m),
            record: OnceCell::new(),
            status_gen: Cell::new(0),
            stack_high: Cell::new(usize::MAX),
            stack_buffer: RefCell::new(Vec::new()),
            sched: Cell::new(false),
            g_seq: Cell::new(0),
            current: RefCell::new(None),
        }
    }

    /// The task being polled on this thread.
    pub(crate) fn current(&self) -> Option<Arc<TaskShared>> {
        self.current.borrow().clone()
    }

    pub(crate) fn set_current(&self, task: Option<Arc<TaskShared>>) {
        *self.current.borrow_mut() = task;
        self.publish_g();
    }

    /// Tells the CPU profiler which goroutine this thread runs now: the
    /// task it polls, else none in scheduler mode, else its thread-G.
    fn publish_g(&self) {
        let Some(rec) = self.record.get() else { return };
        let g = match &*self.current.borrow() {
            Some(task) => task.g,
            None if self.sched.get() => 0,
            None => rec.g,
        };
        crate::cpu::set_goroutine(g);
    }

    /// Blocks the thread-G if it runs (`GoBlock "executor"`), so that the
    /// thread can run tasks; after [`prepare_with`](Self::prepare_with).
    pub(crate) fn enter_scheduler(&self, w: &mut EventWriter<'_>) {
        self.enter_scheduler_because(w, b"executor");
    }

    /// [`enter_scheduler`](Self::enter_scheduler) with the block reason
    /// `reason`.
    pub(crate) fn enter_scheduler_because(&self, w: &mut EventWriter<'_>, reason: &[u8]) {
        if self.sched.get() {
            return;
        }
        let reason = w.string(reason);
        w.event(ty::GO_BLOCK, &[reason, 0]);
        self.sched.set(true);
        if let Some(rec) = self.record.get() {
            rec.set_sched(w.gen(), true);
        }
        self.publish_g();
    }

    /// Enters scheduler mode without recording it (tracing is off, so the
    /// thread's statuses in the next trace state it); `gen` is the
    /// generation the change belongs to (after the last one while off).
    pub(crate) fn enter_scheduler_unrecorded(&self, gen: u64) {
        if self.sched.get() {
            return;
        }
        self.sched.set(true);
        if let Some(rec) = self.record.get() {
            rec.set_sched(gen, true);
        }
        self.publish_g();
    }

    /// Unblocks and runs the thread-G again (scheduler mode ends).
    fn leave_scheduler(&self, w: &mut EventWriter<'_>) {
        let Some(rec) = self.record.get() else { return };
        let seq = self.g_seq.get();
        w.event(ty::GO_UNBLOCK, &[rec.g, seq + 1, 0]);
        w.event(ty::GO_START, &[rec.g, seq + 2]);
        self.g_seq.set(seq + 2);
        self.sched.set(false);
        rec.set_sched(w.gen(), false);
        self.publish_g();
    }

    /// The top of this thread's stack, looked up once.
    pub(crate) fn stack_high(&self) -> usize {
        if self.stack_high.get() == usize::MAX {
            let high = crate::raw::stack_bounds().map_or(0, |(_, high)| high);
            self.stack_high.set(high);
        }
        self.stack_high.get()
    }

    /// Runs `f` with a buffer of [`MAX_DEPTH`](crate::stack::MAX_DEPTH)
    /// program counters.
    pub(crate) fn with_stack_buffer<R>(&self, f: impl FnOnce(&mut [u64]) -> R) -> R {
        match self.stack_buffer.try_borrow_mut() {
            Ok(mut buf) => {
                if buf.is_empty() {
                    buf.resize(crate::stack::MAX_DEPTH, 0);
                }
                f(&mut buf)
            }
            // Only if `f` itself records an event with a stack.
            Err(_) => f(&mut [0; crate::stack::MAX_DEPTH]),
        }
    }

    /// Writes whatever must precede this thread's next event in `w`'s
    /// generation: its registration, or its lazy statuses.
    /// Annotations need a goroutine: a thread in scheduler mode outside a
    /// poll runs its thread-G again first.
    #[inline(always)]
    pub(crate) fn prepare(
        &self,
        threads: &Threads,
        symbols: &crate::stack::Symbols,
        w: &mut EventWriter<'_>,
    ) {
        self.prepare_with(threads, symbols, w, true);
    }

    /// [`prepare`](Self::prepare), where `need_g` says whether the next
    /// event needs a running goroutine.
    #[inline(always)]
    pub(crate) fn prepare_with(
        &self,
        threads: &Threads,
        symbols: &crate::stack::Symbols,
        w: &mut EventWriter<'_>,
        need_g: bool,
    ) {
        if self.status_gen.get() != w.gen() || (need_g && self.sched.get()) {
            self.prepare_slow(threads, symbols, w, need_g);
        }
    }

    #[cold]
    fn prepare_slow(
        &self,
        threads: &Threads,
        symbols: &crate::stack::Symbols,
        w: &mut EventWriter<'_>,
        need_g: bool,
    ) {
        if self.status_gen.get() != w.gen() {
            self.write_statuses(threads, symbols, w);
        }
        if need_g && self.sched.get() && self.current.borrow().is_none() {
            self.leave_scheduler(w);
        }
    }

    /// States the task this thread polls as running on it (`m`), if the
    /// trace knows the task and it has no status in `w`'s generation yet.
    fn current_status(&self, w: &mut EventWriter<'_>, m: u64) {
        if let Some(task) = &*self.current.borrow() {
            if task.known() {
                task.status(w, T_RUNNING, m);
            }
        }
    }

    fn write_statuses(
        &self,
        threads: &Threads,
        symbols: &crate::stack::Symbols,
        w: &mut EventWriter<'_>,
    ) {
        let gen = w.gen();
        match self.record.get() {
            Some(rec) => {
                w.event(ty::PROC_STATUS, &[rec.p, P_RUNNING]);
                if self.sched.get() {
                    w.event(ty::GO_STATUS, &[rec.g, u64::MAX, T_WAITING]);
                    self.current_status(w, rec.m);
                } else {
                    w.event(ty::GO_STATUS, &[rec.g, rec.m, G_RUNNING]);
                }
                self.g_seq.set(0);
                rec.status_gen[(gen % 2) as usize].store(gen, Ordering::Release);
            }
            None => {
                let m = self.writer.m;
                let (p, stopped) = self.p;
                let g = threads.new_g();
                // Unnamed threads share one name (their goroutine ids tell
                // them apart), so that thread churn does not grow the table
                // of names.
                let name = match std::thread::current().name() {
                    Some(name) => format!("thread {name}"),
                    None => "thread (unnamed)".to_owned(),
                };
                let pc = symbols.synthetic(&name, THREAD_FILE);
                // A reused P's new status must come after its old ProcStop.
                let ts = w.ts().max(stopped.saturating_add(1));
                w.event_at(ts, ty::PROC_STATUS, &[p, P_IDLE]);
                w.event_at(ts, ty::PROC_START, &[p, 1]);
                let stack = w.stack(&[pc]);
                // A thread already polling (since before tracing started)
                // registers in scheduler mode: its thread-G blocked, the
                // task it polls (if the trace knows it) running.
                let sched = self.sched.get();
                if sched {
                    w.event_at(ts, ty::GO_CREATE_BLOCKED, &[g, stack, 0]);
                    self.current_status(w, m);
                } else {
                    w.event_at(ts, ty::GO_CREATE, &[g, stack, 0]);
                    w.event_at(ts, ty::GO_START, &[g, 1]);
                }
                let status_gen = [AtomicU64::new(0), AtomicU64::new(0)];
                status_gen[(gen % 2) as usize].store(gen, Ordering::Relaxed);
                let rec = Arc::new(ThreadRecord {
                    m,
                    p,
                    g,
                    status_gen,
                    created_gen: AtomicU64::new(gen),
                    exit_gen: AtomicU64::new(u64::MAX),
                    mode: AtomicU64::new(0),
                });
                rec.set_sched(gen, sched);
                self.g_seq.set(if sched { 0 } else { 1 });
                threads.register(Arc::clone(&rec));
                let _ = self.record.set(rec);
                crate::cpu::set_thread(m, p, crate::raw::stack_bounds());
                self.publish_g();
            }
        }
        self.status_gen.set(gen);
    }
}

pub(crate) use local::with_current;

mod local {
    use super::*;
    use crate::runtime::{runtime, Runtime};

    /// The thread-local handle whose destructor records the thread's exit.
    struct Local {
        state: OnceCell<ThreadState>,
    }

    impl Drop for Local {
        fn drop(&mut self) {
            if let (Some(state), Some(rt)) = (self.state.get(), runtime()) {
                exit(rt, state);
            }
        }
    }

    thread_local! {
        static LOCAL: Local = const { Local { state: OnceCell::new() } };
    }

    /// Runs `f` with the calling thread's state (created on first use).
    /// `None` while the thread is being torn down.
    #[inline(always)]
    pub(crate) fn with_current<R>(rt: &Runtime, f: impl FnOnce(&ThreadState) -> R) -> Option<R> {
        LOCAL
            .try_with(|l| f(l.state.get_or_init(|| ThreadState::new(&rt.threads))))
            .ok()
    }

    fn exit(rt: &Runtime, state: &ThreadState) {
        // Samples from here on belong to no M of the trace.
        crate::cpu::set_thread(0, crate::cpu::NO_P, None);
        crate::cpu::set_goroutine(0);
        let Some(rec) = state.record.get() else {
            rt.threads.put_p(state.p.0, state.p.1);
            return;
        };
        if rec.exit_gen.load(Ordering::Acquire) != u64::MAX {
            return;
        }
        loop {
            let ts = crate::clock::now();
            let stopped = rt.buffers.write(&state.writer, ts, |w| {
                state.prepare(&rt.threads, &rt.symbols, w);
                w.event(ty::GO_DESTROY, &[]);
                let stopped = w.event(ty::PROC_STOP, &[]);
                rec.exit_gen.store(w.gen(), Ordering::Release);
                stopped
            });
            if let Some(stopped) = stopped {
                rt.threads.put_p(rec.p, stopped);
                return;
            }
            // Tracing is off. Leave the registry while holding its lock, so
            // that no sweep can count this thread in a generation it will
            // never write its exit into; retry if tracing came back on.
            let mut registry = sync::lock(&rt.threads.registry);
            if rt.buffers.generation() == 0 {
                rec.exit_gen.store(0, Ordering::Release);
                registry.retain(|r| !Arc::ptr_eq(r, rec));
                drop(registry);
                rt.threads.put_p(rec.p, ts);
                return;
            }
        }
    }
}
