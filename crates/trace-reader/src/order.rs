//! The ordering: Go's model of scheduler state (goroutines, procs, threads,
//! GC, tasks, regions, ranges) that decides whether a thread's next event can
//! happen now, must wait for another thread ("not yet"), or is an error.
//!
//! Accepted events, plus the events some of them imply (a coroutine switch is
//! three events, a syscall exit of a cgo callback steals a proc), go to a FIFO
//! queue from which the reader returns them. The rules and error messages are
//! those of Go 1.23's `internal/trace/order.go` (spec part 2 §4–§6).

use std::fmt::Write;
use std::sync::Arc;

use hashbrown::HashMap;
use smallvec::SmallVec;
use trace_wire::{ty, Version};

use crate::cursor::CurEvent;
use crate::error::{go_status_name, proc_status_name, ContextViolation, Error, ErrorKind};
use crate::event::Ctx;
use crate::idmap::IdMap;
use crate::tables::GenTables;
use crate::types::{GoState, ProcState};

/// Wire goroutine statuses.
mod gs {
    pub(super) const RUNNABLE: u8 = 1;
    pub(super) const RUNNING: u8 = 2;
    pub(super) const SYSCALL: u8 = 3;
    pub(super) const WAITING: u8 = 4;
}

/// Wire proc statuses.
mod ps {
    pub(super) const RUNNING: u8 = 1;
    pub(super) const IDLE: u8 = 2;
    pub(super) const SYSCALL: u8 = 3;
    pub(super) const SYSCALL_ABANDONED: u8 = 4;
}

const NONE: i64 = -1;

/// An event accepted by the ordering, waiting to be returned.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) ty: u8,
    pub(crate) time: i64,
    pub(crate) ctx: Ctx,
    pub(crate) args: [u64; 5],
    pub(crate) offset: u64,
}

/// The events accepted by one advance, returned first in first out.
///
/// The ordering only advances an event once the previous events are all
/// returned, so a vector popped from the back (reversed after the rare
/// advances that accept several events) is the queue.
#[derive(Debug, Default)]
pub(crate) struct Queue(Vec<Queued>);

impl Queue {
    fn push(&mut self, q: Queued) {
        self.0.push(q);
    }

    /// Makes the events of one advance ready to be popped in order.
    fn seal(&mut self) {
        if self.0.len() > 1 {
            self.0.reverse();
        }
    }

    /// The next event to return.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Queued> {
        self.0.pop()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A per-resource sequence number: (generation, counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seq {
    gen: u64,
    n: u64,
}

impl Seq {
    fn new(gen: u64, n: u64) -> Self {
        Seq { gen, n }
    }

    /// Whether `self` immediately follows `prev`.
    fn succeeds(self, prev: Seq) -> bool {
        self.gen == prev.gen && self.n == prev.n.wrapping_add(1)
    }
}

/// A kind of range: its begin event type and optional description string id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RangeType {
    ty: u8,
    desc: u64,
}

/// The begin event of a range event type (Go's `StartEv`).
fn range_start(t: u8) -> u8 {
    match t {
        ty::STW_END => ty::STW_BEGIN,
        ty::GC_ACTIVE | ty::GC_END => ty::GC_BEGIN,
        ty::GC_SWEEP_ACTIVE | ty::GC_SWEEP_END => ty::GC_SWEEP_BEGIN,
        ty::GC_MARK_ASSIST_ACTIVE | ty::GC_MARK_ASSIST_END => ty::GC_MARK_ASSIST_BEGIN,
        t => t,
    }
}

fn name(t: u8) -> &'static str {
    Version::Go123.spec(t).map_or("", |s| s.name)
}

/// Ranges in flight on a resource.
#[derive(Debug, Clone, Default)]
struct Ranges(SmallVec<[RangeType; 2]>);

impl Ranges {
    fn has(&self, r: RangeType) -> bool {
        self.0.contains(&r)
    }

    #[inline(always)]
    fn begin(&mut self, r: RangeType) -> Result<(), Fail> {
        if self.has(r) {
            return fail(ErrorKind::RangeAlreadyInFlight { begin: name(r.ty) });
        }
        self.0.push(r);
        Ok(())
    }

    fn active(&mut self, r: RangeType, initial_gen: bool) -> Result<(), Fail> {
        if initial_gen {
            if self.has(r) {
                return fail(ErrorKind::ActiveRangeRepeated {
                    ty: r.ty,
                    desc: r.desc,
                });
            }
            self.0.push(r);
        } else if !self.has(r) {
            return fail(ErrorKind::MissingActiveRange {
                begin: name(r.ty),
                in_flight: self.0.iter().map(|r| (r.ty, r.desc)).collect(),
            });
        }
        Ok(())
    }

    /// Ends the first in-flight range begun by the start event of `t`,
    /// returning its description.
    #[inline(always)]
    fn end(&mut self, t: u8) -> Result<u64, Fail> {
        let start = range_start(t);
        let Some(i) = self.0.iter().position(|r| r.ty == start) else {
            return fail(ErrorKind::RangeNotInFlight { begin: name(start) });
        };
        Ok(self.0.swap_remove(i).desc)
    }
}

/// A goroutine's state. Kept small: the ordering touches one for most
/// events, and a trace may have many goroutines.
#[derive(Debug, Clone)]
struct GState {
    status: u8,
    seq: Seq,
    /// Regions and ranges, for the few goroutines that have any.
    extra: Option<Box<GExtra>>,
}

#[derive(Debug, Clone, Default)]
struct GExtra {
    /// Active user regions, innermost last: (task, name).
    regions: Vec<(u64, Box<[u8]>)>,
    ranges: Ranges,
}

impl GState {
    fn new(status: u8, seq: Seq) -> Self {
        GState {
            status,
            seq,
            extra: None,
        }
    }

    fn extra(&mut self) -> &mut GExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

#[derive(Debug, Clone)]
struct PState {
    status: u8,
    seq: Seq,
    ranges: Ranges,
}

/// What a thread is bound to.
#[derive(Debug, Clone, Copy)]
struct MState {
    m: i64,
    g: i64,
    p: i64,
}

/// The threads seen so far, in slots that never move.
#[derive(Debug, Default)]
struct Threads {
    slots: Vec<MState>,
    index: HashMap<u64, u32>,
}

impl Threads {
    fn get(&self, m: i64) -> Option<u32> {
        self.index.get(&(m as u64)).copied()
    }

    fn create(&mut self, m: i64, g: i64, p: i64) -> u32 {
        let slot = self.slots.len() as u32;
        self.slots.push(MState { m, g, p });
        self.index.insert(m as u64, slot);
        slot
    }
}

#[derive(Debug, Clone)]
struct TaskState {
    name: Arc<[u8]>,
    parent: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GcState {
    Undetermined,
    NotRunning,
    Running,
}

/// Scheduling-context requirement for one of thread, proc, goroutine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Req {
    Must,
    May,
    MustNot,
}

use Req::{May, Must, MustNot};

const USER_GO: (Req, Req, Req) = (Must, Must, Must);

#[inline(always)]
fn validate(ctx: Ctx, (m, p, g): (Req, Req, Req)) -> Result<(), ContextViolation> {
    use ContextViolation as V;
    let check = |req, have: bool, missing, unexpected| match req {
        Must if !have => Err(missing),
        MustNot if have => Err(unexpected),
        _ => Ok(()),
    };
    check(m, ctx.m != NONE, V::MissingThread, V::UnexpectedThread)?;
    check(p, ctx.p != NONE, V::MissingProc, V::UnexpectedProc)?;
    check(
        g,
        ctx.g != NONE,
        V::MissingGoroutine,
        V::UnexpectedGoroutine,
    )
}

/// An ordering failure (boxed, so that results stay small on the hot path).
type Fail = Box<ErrorKind>;

/// The result of trying to advance an event: accepted (the new context is
/// in [`Step::new`]) or not yet.
type Advance = Result<bool, Fail>;

/// Fails with `kind`.
#[cold]
fn fail<T>(kind: ErrorKind) -> Result<T, Fail> {
    Err(Box::new(kind))
}

impl From<ContextViolation> for Box<ErrorKind> {
    #[cold]
    fn from(v: ContextViolation) -> Self {
        Box::new(ErrorKind::Context(v))
    }
}

/// Go's `ordering`.
#[derive(Debug)]
pub(crate) struct Ordering {
    gs: IdMap<GState>,
    ps: IdMap<PState>,
    threads: Threads,
    tasks: HashMap<u64, TaskState>,
    gc_seq: u64,
    gc_state: GcState,
    initial_gen: u64,
    pub(crate) queue: Queue,
    /// Whether the event last accepted was queued (with the events it
    /// implies).
    pub(crate) accepted_queued: bool,
    /// The task name a `TaskEnd` just accepted carries, from its
    /// `TaskBegin`.
    pub(crate) name: Option<Arc<[u8]>>,
}

impl Default for Ordering {
    fn default() -> Self {
        Self {
            gs: IdMap::default(),
            ps: IdMap::default(),
            threads: Threads::default(),
            tasks: HashMap::new(),
            gc_seq: 0,
            gc_state: GcState::Undetermined,
            initial_gen: 0,
            queue: Queue::default(),
            accepted_queued: false,
            name: None,
        }
    }
}

/// One call of `advance`: the event and its surroundings, and what the
/// handler decides about the event's report.
///
/// Every function that takes a `Step` is `#[inline(always)]`, so that the
/// step lives in registers: in memory, reading its contexts back right after
/// the handler wrote them stalled on store-forwarding failures (a quarter of
/// the reader's time on a large trace).
struct Step<'a> {
    ev: &'a mut CurEvent,
    tables: &'a GenTables,
    gen: u64,
    cur: Ctx,
    /// The context the event is reported in.
    report: Ctx,
    /// The thread's context after the event.
    new: Ctx,
    /// Whether the handler queued its events (it synthesized some).
    queued: bool,
}

impl Step<'_> {
    /// Accepts the event; `new` is the thread's context after it.
    #[inline(always)]
    fn accept(&mut self, new: Ctx) -> Advance {
        self.new = new;
        Ok(true)
    }
}

/// An accepted event: how to report it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Accepted {
    /// The context to report the event in.
    pub(crate) ctx: Ctx,
    /// The event and the ones synthesized with it are in the queue (the
    /// event itself is not to be reported from the cursor).
    pub(crate) queued: bool,
}

impl Ordering {
    /// Tries to advance `ev`, the next event of thread `m` (cached thread
    /// slot `slot`). `Ok(Some)`: accepted, to be reported as it says (also
    /// kept in [`Ordering::accepted_queued`]); `Ok(None)`: not yet.
    #[inline(always)]
    pub(crate) fn advance(
        &mut self,
        ev: &mut CurEvent,
        tables: &GenTables,
        m: u64,
        slot: &mut Option<u32>,
        gen: u64,
    ) -> Result<Option<Accepted>, Error> {
        if self.initial_gen == 0 {
            self.initial_gen = gen;
        }
        let mut cur = Ctx::NONE;
        let mut thread = None;
        if m != u64::MAX {
            let s = match *slot {
                Some(s) => s,
                None => {
                    let s = match self.threads.get(m as i64) {
                        Some(s) => s,
                        None => self.threads.create(m as i64, NONE, NONE),
                    };
                    *slot = Some(s);
                    s
                }
            };
            let ms = self.threads.slots[s as usize];
            cur = Ctx {
                g: ms.g,
                p: ms.p,
                m: m as i64,
            };
            thread = Some(s);
        }
        let offset = ev.offset;
        let mut step = Step {
            ev,
            tables,
            gen,
            cur,
            report: cur,
            new: cur,
            queued: false,
        };
        match self.dispatch(&mut step) {
            Ok(true) => {
                if step.queued {
                    self.queue.seal();
                }
                if let Some(s) = thread {
                    let ms = &mut self.threads.slots[s as usize];
                    ms.p = step.new.p;
                    ms.g = step.new.g;
                }
                self.accepted_queued = step.queued;
                Ok(Some(Accepted {
                    ctx: step.report,
                    queued: step.queued,
                }))
            }
            Ok(false) => Ok(None),
            Err(kind) => Err(Error::new(*kind).at(offset).in_generation(gen)),
        }
    }

    /// Accepts the event, to be reported in context `ctx`.
    #[inline(always)]
    fn push(&mut self, s: &mut Step<'_>, ctx: Ctx) {
        s.report = ctx;
    }

    /// Accepts the event into the queue, for handlers that synthesize events
    /// around it.
    #[inline(always)]
    fn push_queued(&mut self, s: &mut Step<'_>, ctx: Ctx) {
        s.queued = true;
        self.queue.push(Queued {
            ty: s.ev.ty,
            time: s.ev.time,
            ctx,
            args: s.ev.args,
            offset: s.ev.offset,
        });
    }

    /// Queues an event the reader synthesizes.
    #[inline(always)]
    fn push_made(&mut self, s: &mut Step<'_>, t: u8, ctx: Ctx, args: [u64; 5]) {
        s.queued = true;
        self.queue.push(Queued {
            ty: t,
            time: s.ev.time,
            ctx,
            args,
            offset: s.ev.offset,
        });
    }

    #[inline(always)]
    fn dispatch(&mut self, s: &mut Step<'_>) -> Advance {
        match s.ev.ty {
            ty::PROCS_CHANGE | ty::GO_LABEL | ty::USER_LOG => self.annotation(s),
            ty::PROC_START => self.proc_start(s),
            ty::PROC_STOP => self.proc_stop(s),
            ty::PROC_STEAL => self.proc_steal(s),
            ty::PROC_STATUS => self.proc_status(s),
            ty::GO_CREATE | ty::GO_CREATE_BLOCKED => self.go_create(s),
            ty::GO_CREATE_SYSCALL => self.go_create_syscall(s),
            ty::GO_START => self.go_start(s),
            ty::GO_DESTROY | ty::GO_STOP | ty::GO_BLOCK => self.go_stop_exec(s),
            ty::GO_DESTROY_SYSCALL => self.go_destroy_syscall(s),
            ty::GO_UNBLOCK => self.go_unblock(s),
            ty::GO_SYSCALL_BEGIN => self.go_syscall_begin(s),
            ty::GO_SYSCALL_END => self.go_syscall_end(s),
            ty::GO_SYSCALL_END_BLOCKED => self.go_syscall_end_blocked(s),
            ty::GO_STATUS | ty::GO_STATUS_STACK => self.go_status(s),
            ty::STW_BEGIN | ty::GC_MARK_ASSIST_BEGIN => self.go_range_begin(s),
            ty::STW_END | ty::GC_MARK_ASSIST_END => self.go_range_end(s),
            ty::GC_MARK_ASSIST_ACTIVE => self.go_range_active(s),
            ty::GC_ACTIVE => self.gc_active(s),
            ty::GC_BEGIN => self.gc_begin(s),
            ty::GC_END => self.gc_end(s),
            ty::GC_SWEEP_ACTIVE => self.gc_sweep_active(s),
            ty::GC_SWEEP_BEGIN => self.gc_sweep_begin(s),
            ty::GC_SWEEP_END => self.gc_sweep_end(s),
            ty::HEAP_ALLOC | ty::HEAP_GOAL => self.heap_metric(s),
            ty::USER_TASK_BEGIN => self.user_task_begin(s),
            ty::USER_TASK_END => self.user_task_end(s),
            ty::USER_REGION_BEGIN | ty::USER_REGION_END => self.user_region(s),
            ty::GO_SWITCH | ty::GO_SWITCH_DESTROY => self.go_switch(s),
            ty::SPAN..=ty::GOROUTINE_STACK_FREE => self.alloc_free(s),
            t => fail(ErrorKind::BadEventType(t)),
        }
    }

    // --- Procs ---

    #[inline(always)]
    fn proc_status(&mut self, s: &mut Step<'_>) -> Advance {
        let pid = s.ev.args[0];
        // Go reads the status as a byte.
        let status = s.ev.args[1] as u8;
        if status >= 5 {
            return fail(ErrorKind::InvalidProcStatus {
                proc: pid as i64,
                status: u64::from(status),
            });
        }
        let mut old = match status {
            ps::RUNNING | ps::SYSCALL => ProcState::Running,
            ps::IDLE | ps::SYSCALL_ABANDONED => ProcState::Idle,
            _ => ProcState::Undetermined,
        };
        if let Some(p) = self.ps.get_mut(pid) {
            if status == ps::SYSCALL_ABANDONED && p.status == ps::SYSCALL {
                // Promotion: the proc is still known to be in a syscall.
                old = ProcState::Running;
                s.ev.args[1] = u64::from(ps::SYSCALL);
            } else if status == ps::SYSCALL_ABANDONED && p.status == ps::SYSCALL_ABANDONED {
                old = ProcState::Idle;
                s.ev.args[1] = u64::from(ps::SYSCALL_ABANDONED);
            } else if p.status != status {
                return fail(ErrorKind::InconsistentProcStatus {
                    proc: pid as i64,
                    old: p.status,
                    new: status,
                });
            }
            p.seq = Seq::new(s.gen, 0);
        } else {
            self.ps.insert(
                pid,
                PState {
                    status,
                    seq: Seq::new(s.gen, 0),
                    ranges: Ranges::default(),
                },
            );
            old = if s.gen == self.initial_gen {
                ProcState::Undetermined
            } else {
                ProcState::NotExist
            };
        }
        s.ev.args[2] = u64::from(old.as_u8());
        let mut new = s.cur;
        if status == ps::RUNNING || status == ps::SYSCALL {
            new.p = pid as i64;
        }
        let mut ctx = s.cur;
        if status == ps::SYSCALL_ABANDONED && old == ProcState::Running {
            // Report the promotion in the context of the thread holding the
            // proc.
            let holder = self
                .threads
                .slots
                .iter()
                .rev()
                .find(|ms| ms.p == pid as i64)
                .copied();
            let Some(ms) = holder else {
                return fail(ErrorKind::NoContextForStolenProc(pid as i64));
            };
            ctx = Ctx {
                m: ms.m,
                p: pid as i64,
                g: ms.g,
            };
        }
        // Go would fail printing a status whose full value is out of range.
        if s.ev.args[1] >= 5 {
            return fail(ErrorKind::InvalidProcStatus {
                proc: pid as i64,
                status: s.ev.args[1],
            });
        }
        self.push(s, ctx);
        s.accept(new)
    }

    #[inline(always)]
    fn proc_start(&mut self, s: &mut Step<'_>) -> Advance {
        let pid = s.ev.args[0];
        let seq = Seq::new(s.gen, s.ev.args[1]);
        let p = match self.ps.get_mut(pid) {
            Some(p) if p.status == ps::IDLE && seq.succeeds(p.seq) && s.cur.p == NONE => p,
            _ => return Ok(false),
        };
        validate(s.cur, (Must, MustNot, May))?;
        p.status = ps::RUNNING;
        p.seq = seq;
        let mut new = s.cur;
        new.p = pid as i64;
        self.push(s, s.cur);
        s.accept(new)
    }

    #[inline(always)]
    fn proc_stop(&mut self, s: &mut Step<'_>) -> Advance {
        let Some(p) = self.ps.get_mut(s.cur.p as u64) else {
            return fail(ErrorKind::UnknownProc {
                event: name(s.ev.ty),
                proc: s.cur.p,
            });
        };
        if p.status != ps::RUNNING && p.status != ps::SYSCALL {
            return fail(ErrorKind::ProcNotRunningOrSyscall {
                event: name(s.ev.ty),
            });
        }
        validate(s.cur, (Must, Must, May))?;
        p.status = ps::IDLE;
        let mut new = s.cur;
        new.p = NONE;
        self.push(s, s.cur);
        s.accept(new)
    }

    #[inline(always)]
    fn proc_steal(&mut self, s: &mut Step<'_>) -> Advance {
        let pid = s.ev.args[0];
        let seq = Seq::new(s.gen, s.ev.args[1]);
        match self.ps.get(pid) {
            Some(p)
                if (p.status == ps::SYSCALL || p.status == ps::SYSCALL_ABANDONED)
                    && seq.succeeds(p.seq) => {}
            _ => return Ok(false),
        }
        validate(s.cur, (Must, May, May))?;
        let old = match self.ps.get_mut(pid) {
            Some(p) => {
                let old = p.status;
                p.status = ps::IDLE;
                p.seq = seq;
                old
            }
            None => return Ok(false),
        };
        s.ev.args[3] = u64::from(old);
        if old == ps::SYSCALL_ABANDONED {
            // The thread may have moved on; leave it alone.
            self.push(s, s.cur);
            return s.accept(s.cur);
        }
        let victim = s.ev.args[2] as i64;
        let mut new = s.cur;
        if victim == s.cur.m {
            if s.cur.p != pid as i64 {
                return fail(ErrorKind::SelfStealWrongProc {
                    proc: pid as i64,
                    thread: victim,
                    held: s.cur.p,
                });
            }
            new.p = NONE;
            self.push(s, s.cur);
            return s.accept(new);
        }
        let Some(v) = self.threads.get(victim) else {
            return fail(ErrorKind::StealFromUnknownThread(victim));
        };
        let ms = &mut self.threads.slots[v as usize];
        if ms.p != pid as i64 {
            return fail(ErrorKind::StealWrongProc {
                proc: pid as i64,
                thread: victim,
                held: ms.p,
            });
        }
        ms.p = NONE;
        self.push(s, s.cur);
        s.accept(new)
    }

    // --- Goroutines ---

    #[inline(always)]
    fn go_status(&mut self, s: &mut Step<'_>) -> Advance {
        let gid = s.ev.args[0];
        let mid = s.ev.args[1] as i64;
        let status = s.ev.args[2] as u8;
        if status >= 5 {
            return fail(ErrorKind::InvalidGoStatus {
                goroutine: gid as i64,
                status: u64::from(status),
            });
        }
        let mut old = match status {
            gs::RUNNABLE => GoState::Runnable,
            gs::RUNNING => GoState::Running,
            gs::SYSCALL => GoState::Syscall,
            gs::WAITING => GoState::Waiting,
            _ => GoState::Undetermined,
        };
        if let Some(g) = self.gs.get_mut(gid) {
            if g.status != status {
                return fail(ErrorKind::InconsistentGoStatus {
                    goroutine: gid as i64,
                    old: g.status,
                    new: status,
                });
            }
            g.seq = Seq::new(s.gen, 0);
        } else if s.gen == self.initial_gen {
            self.gs.insert(gid, GState::new(status, Seq::new(s.gen, 0)));
            old = GoState::Undetermined;
        } else {
            return fail(ErrorKind::StatusForNewGoroutine {
                goroutine: gid as i64,
                status,
            });
        }
        // The old state goes in the first argument slot after the wire ones.
        let extra = if s.ev.ty == ty::GO_STATUS { 3 } else { 4 };
        s.ev.args[extra] = u64::from(old.as_u8());
        let mut new = s.cur;
        let mut ctx = s.cur;
        match status {
            gs::RUNNING => new.g = gid as i64,
            gs::SYSCALL => {
                if mid == NONE {
                    return fail(ErrorKind::SyscallWithoutThread(gid as i64));
                }
                if mid == s.cur.m {
                    if s.gen != self.initial_gen && s.cur.g != gid as i64 {
                        return fail(ErrorKind::InconsistentSyscallThread {
                            goroutine: gid as i64,
                            held: s.cur.g,
                        });
                    }
                    new.g = gid as i64;
                } else {
                    // A goroutine sitting in a syscall on another thread.
                    match self.threads.get(mid) {
                        Some(slot) => {
                            let ms = self.threads.slots[slot as usize];
                            if ms.g != gid as i64 {
                                return fail(ErrorKind::InconsistentSyscallThread {
                                    goroutine: gid as i64,
                                    held: ms.g,
                                });
                            }
                            ctx.g = ms.g;
                        }
                        None => {
                            self.threads.create(mid, gid as i64, NONE);
                        }
                    }
                    ctx.m = mid;
                }
            }
            _ => {}
        }
        // Go would fail printing a status whose full value is out of range.
        if s.ev.args[2] >= 5 {
            return fail(ErrorKind::InvalidGoStatus {
                goroutine: gid as i64,
                status: s.ev.args[2],
            });
        }
        self.push(s, ctx);
        s.accept(new)
    }

    #[inline(always)]
    fn go_create(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, Must, May))?;
        if let Some(g) = self.gs.get(s.cur.g as u64) {
            if g.status != gs::RUNNING {
                return fail(ErrorKind::GoroutineNotInState {
                    event: name(s.ev.ty),
                    expected: "Running",
                });
            }
        }
        let newg = s.ev.args[0];
        if self.gs.contains(newg) {
            return fail(ErrorKind::GoroutineExists(newg as i64));
        }
        let status = if s.ev.ty == ty::GO_CREATE_BLOCKED {
            gs::WAITING
        } else {
            gs::RUNNABLE
        };
        self.gs
            .insert(newg, GState::new(status, Seq::new(s.gen, 0)));
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    /// The current goroutine's state, which must exist and be `status`.
    #[inline(always)]
    fn current_g(
        &mut self,
        s: &Step<'_>,
        status: u8,
        expected: &'static str,
    ) -> Result<&mut GState, Fail> {
        let Some(g) = self.gs.get_mut(s.cur.g as u64) else {
            return fail(ErrorKind::UnknownGoroutine {
                event: name(s.ev.ty),
                goroutine: s.cur.g,
            });
        };
        if g.status != status {
            return fail(ErrorKind::GoroutineNotInState {
                event: name(s.ev.ty),
                expected,
            });
        }
        Ok(g)
    }

    #[inline(always)]
    fn go_stop_exec(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        let g = self.current_g(s, gs::RUNNING, "Running")?;
        match s.ev.ty {
            ty::GO_STOP => g.status = gs::RUNNABLE,
            ty::GO_BLOCK => g.status = gs::WAITING,
            _ => {
                self.gs.remove(s.cur.g as u64);
            }
        }
        let mut new = s.cur;
        new.g = NONE;
        self.push(s, s.cur);
        s.accept(new)
    }

    #[inline(always)]
    fn go_start(&mut self, s: &mut Step<'_>) -> Advance {
        let gid = s.ev.args[0];
        let seq = Seq::new(s.gen, s.ev.args[1]);
        let g = match self.gs.get_mut(gid) {
            Some(g) if g.status == gs::RUNNABLE && seq.succeeds(g.seq) => g,
            _ => return Ok(false),
        };
        validate(s.cur, (Must, Must, MustNot))?;
        g.status = gs::RUNNING;
        g.seq = seq;
        let mut new = s.cur;
        new.g = gid as i64;
        self.push(s, s.cur);
        s.accept(new)
    }

    #[inline(always)]
    fn go_unblock(&mut self, s: &mut Step<'_>) -> Advance {
        let gid = s.ev.args[0];
        let seq = Seq::new(s.gen, s.ev.args[1]);
        match self.gs.get_mut(gid) {
            Some(g) if g.status == gs::WAITING && seq.succeeds(g.seq) => {
                g.status = gs::RUNNABLE;
                g.seq = seq;
            }
            _ => return Ok(false),
        }
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn go_switch(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        self.current_g(s, gs::RUNNING, "Running")?;
        let next = s.ev.args[0];
        let seq = Seq::new(s.gen, s.ev.args[1]);
        match self.gs.get(next) {
            Some(g) if g.status == gs::WAITING && seq.succeeds(g.seq) => {}
            _ => return Ok(false),
        }
        self.push_queued(s, s.cur);
        if s.ev.ty == ty::GO_SWITCH {
            if let Some(g) = self.gs.get_mut(s.cur.g as u64) {
                g.status = gs::WAITING;
            }
            // A block with no reason and no stack.
            self.push_made(s, ty::GO_BLOCK, s.cur, [0; 5]);
        } else {
            self.gs.remove(s.cur.g as u64);
            self.push_made(s, ty::GO_DESTROY, s.cur, [0; 5]);
        }
        if let Some(g) = self.gs.get_mut(next) {
            g.status = gs::RUNNING;
            g.seq = seq;
        }
        let mut new = s.cur;
        new.g = next as i64;
        let mut start = s.cur;
        start.g = NONE;
        self.push_made(s, ty::GO_START, start, [next, s.ev.args[1], 0, 0, 0]);
        s.accept(new)
    }

    // --- Syscalls ---

    #[inline(always)]
    fn go_syscall_begin(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        self.current_g(s, gs::RUNNING, "Running")?.status = gs::SYSCALL;
        let Some(p) = self.ps.get_mut(s.cur.p as u64) else {
            return fail(ErrorKind::UninitializedProc {
                proc: s.cur.p,
                event: name(s.ev.ty),
            });
        };
        p.status = ps::SYSCALL;
        let seq = Seq::new(s.gen, s.ev.args[0]);
        if !seq.succeeds(p.seq) {
            return fail(ErrorKind::BadSequence {
                event: name(s.ev.ty),
                old_seq: p.seq.n,
                old_gen: p.seq.gen,
                new_seq: seq.n,
                new_gen: seq.gen,
            });
        }
        p.seq = seq;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn go_syscall_end(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        // Go's message names Running although the goroutine must be in a
        // syscall.
        self.current_g(s, gs::SYSCALL, "Running")?.status = gs::RUNNING;
        let Some(p) = self.ps.get_mut(s.cur.p as u64) else {
            return fail(ErrorKind::UninitializedProc {
                proc: s.cur.p,
                event: name(s.ev.ty),
            });
        };
        if p.status != ps::SYSCALL {
            return fail(ErrorKind::ProcNotInSyscall {
                proc: s.cur.p,
                status: p.status,
            });
        }
        p.status = ps::RUNNING;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn go_syscall_end_blocked(&mut self, s: &mut Step<'_>) -> Advance {
        if s.cur.p != NONE {
            let Some(p) = self.ps.get(s.cur.p as u64) else {
                return fail(ErrorKind::UninitializedProc {
                    proc: s.cur.p,
                    event: name(s.ev.ty),
                });
            };
            if p.status == ps::SYSCALL {
                // The proc must be stolen or stopped first.
                return Ok(false);
            }
        }
        validate(s.cur, (Must, May, Must))?;
        self.current_g(s, gs::SYSCALL, "Running")?.status = gs::RUNNABLE;
        let mut new = s.cur;
        new.g = NONE;
        self.push(s, s.cur);
        s.accept(new)
    }

    #[inline(always)]
    fn go_create_syscall(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, May, MustNot))?;
        let newg = s.ev.args[0];
        if self.gs.contains(newg) {
            return fail(ErrorKind::SyscallGoroutineExists(newg as i64));
        }
        self.gs
            .insert(newg, GState::new(gs::SYSCALL, Seq::new(s.gen, 0)));
        let mut new = s.cur;
        new.g = newg as i64;
        self.push(s, s.cur);
        s.accept(new)
    }

    #[inline(always)]
    fn go_destroy_syscall(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, May, Must))?;
        self.current_g(s, gs::SYSCALL, "Syscall")?;
        self.gs.remove(s.cur.g as u64);
        let mut new = s.cur;
        new.g = NONE;
        if s.cur.p != NONE {
            let event = name(s.ev.ty);
            let Some(p) = self.ps.get_mut(s.cur.p as u64) else {
                return fail(ErrorKind::InvalidProc {
                    proc: s.cur.p,
                    event,
                });
            };
            if p.status != ps::SYSCALL {
                return fail(ErrorKind::ProcUnexpectedState {
                    proc: s.cur.p,
                    status: p.status,
                    event,
                });
            }
            // The thread id may be reused: give the proc up, as a self-steal.
            p.status = ps::SYSCALL_ABANDONED;
            new.p = NONE;
            let args = [s.cur.p as u64, 0, 0, u64::from(ps::SYSCALL), 0];
            self.push_made(s, ty::PROC_STEAL, s.cur, args);
            self.push_queued(s, s.cur);
        } else {
            self.push(s, s.cur);
        }
        s.accept(new)
    }

    // --- Tasks and regions ---

    #[inline(always)]
    fn user_task_begin(&mut self, s: &mut Step<'_>) -> Advance {
        let id = s.ev.args[0];
        if self.tasks.contains_key(&id) {
            return fail(ErrorKind::TaskIdConflict(id));
        }
        let mut parent = s.ev.args[1];
        if parent == 0 {
            // 0 means no parent here, not the background task.
            parent = u64::MAX;
            s.ev.args[1] = parent;
        }
        let name_id = s.ev.args[2];
        let Some(name) = s.tables.string(name_id) else {
            return fail(ErrorKind::InvalidNameString {
                id: name_id,
                ty: s.ev.ty,
            });
        };
        self.tasks.insert(
            id,
            TaskState {
                name: Arc::from(name),
                parent,
            },
        );
        validate(s.cur, USER_GO)?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn user_task_end(&mut self, s: &mut Step<'_>) -> Advance {
        let id = s.ev.args[0];
        let task = self.tasks.remove(&id);
        s.ev.args[2] = task.as_ref().map_or(u64::MAX, |t| t.parent);
        validate(s.cur, USER_GO)?;
        self.push(s, s.cur);
        self.name = task.map(|t| t.name);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn user_region(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        let task = s.ev.args[0];
        let name_id = s.ev.args[1];
        let Some(name) = s.tables.string(name_id) else {
            return fail(ErrorKind::InvalidNameString {
                id: name_id,
                ty: s.ev.ty,
            });
        };
        let begin = s.ev.ty == ty::USER_REGION_BEGIN;
        let Some(g) = self.gs.get_mut(s.cur.g as u64) else {
            return fail(ErrorKind::RegionOnUnknownGoroutine {
                event: if begin {
                    "EvUserRegionBegin"
                } else {
                    "EvUserRegionEnd"
                },
                goroutine: s.cur.g,
            });
        };
        if begin {
            g.extra().regions.push((task, name.into()));
        } else if let Some((open_task, open_name)) = g.extra().regions.last() {
            // Regions that began before the trace started are not known.
            if *open_task != task || **open_name != *name {
                return fail(ErrorKind::RegionMisuse {
                    goroutine: s.cur.g,
                    task,
                    name: name.to_vec(),
                    open_task: *open_task,
                    open_name: open_name.to_vec(),
                });
            }
            g.extra().regions.pop();
        }
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    // --- GC ---

    #[inline(always)]
    fn gc_active(&mut self, s: &mut Step<'_>) -> Advance {
        let seq = s.ev.args[0];
        if s.gen == self.initial_gen {
            if self.gc_state != GcState::Undetermined {
                return fail(ErrorKind::GcActiveNotFirst);
            }
            self.gc_seq = seq;
            self.gc_state = GcState::Running;
            self.push(s, s.cur);
            return s.accept(s.cur);
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(false);
        }
        if self.gc_state != GcState::Running {
            return fail(ErrorKind::GcActiveNotRunning);
        }
        self.gc_seq = seq;
        validate(s.cur, USER_GO)?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn gc_begin(&mut self, s: &mut Step<'_>) -> Advance {
        let seq = s.ev.args[0];
        if self.gc_state == GcState::Undetermined {
            self.gc_seq = seq;
            self.gc_state = GcState::Running;
            self.push(s, s.cur);
            return s.accept(s.cur);
        }
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(false);
        }
        if self.gc_state == GcState::Running {
            return fail(ErrorKind::GcBeginWhileRunning);
        }
        self.gc_seq = seq;
        self.gc_state = GcState::Running;
        validate(s.cur, USER_GO)?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn gc_end(&mut self, s: &mut Step<'_>) -> Advance {
        let seq = s.ev.args[0];
        if seq != self.gc_seq.wrapping_add(1) {
            return Ok(false);
        }
        match self.gc_state {
            GcState::NotRunning => return fail(ErrorKind::GcEndNotRunning),
            GcState::Undetermined => return fail(ErrorKind::GcEndUndetermined),
            GcState::Running => {}
        }
        self.gc_seq = seq;
        self.gc_state = GcState::NotRunning;
        validate(s.cur, USER_GO)?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn annotation(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn heap_metric(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, Must, May))?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn alloc_free(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, May, May))?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    // --- Ranges ---

    /// The current proc's state (Go assumes it exists once the context has a
    /// proc; a missing one is reported instead of crashing).
    #[inline(always)]
    fn current_p(&mut self, s: &Step<'_>) -> Result<&mut PState, Fail> {
        match self.ps.get_mut(s.cur.p as u64) {
            Some(p) => Ok(p),
            None => fail(ErrorKind::UninitializedProc {
                proc: s.cur.p,
                event: name(s.ev.ty),
            }),
        }
    }

    #[inline(always)]
    fn gc_sweep_begin(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, Must, May))?;
        self.current_p(s)?.ranges.begin(RangeType {
            ty: ty::GC_SWEEP_BEGIN,
            desc: 0,
        })?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn gc_sweep_active(&mut self, s: &mut Step<'_>) -> Advance {
        let pid = s.ev.args[0];
        let initial = s.gen == self.initial_gen;
        let Some(p) = self.ps.get_mut(pid) else {
            return fail(ErrorKind::SweepOnUnknownProc(pid as i64));
        };
        p.ranges.active(
            RangeType {
                ty: ty::GC_SWEEP_BEGIN,
                desc: 0,
            },
            initial,
        )?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn gc_sweep_end(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, (Must, Must, May))?;
        self.current_p(s)?.ranges.end(s.ev.ty)?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn go_range_begin(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        let desc = if s.ev.ty == ty::STW_BEGIN {
            s.ev.args[0]
        } else {
            0
        };
        let Some(g) = self.gs.get_mut(s.cur.g as u64) else {
            return fail(ErrorKind::RangeOnUnknownGoroutine {
                ty: s.ev.ty,
                goroutine: s.cur.g,
            });
        };
        g.extra().ranges.begin(RangeType { ty: s.ev.ty, desc })?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn go_range_active(&mut self, s: &mut Step<'_>) -> Advance {
        let gid = s.ev.args[0];
        let initial = s.gen == self.initial_gen;
        let Some(g) = self.gs.get_mut(gid) else {
            return fail(ErrorKind::UninitializedGoroutine {
                goroutine: gid as i64,
                event: name(s.ev.ty),
            });
        };
        g.extra().ranges.active(
            RangeType {
                ty: range_start(s.ev.ty),
                desc: 0,
            },
            initial,
        )?;
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    #[inline(always)]
    fn go_range_end(&mut self, s: &mut Step<'_>) -> Advance {
        validate(s.cur, USER_GO)?;
        let Some(g) = self.gs.get_mut(s.cur.g as u64) else {
            return fail(ErrorKind::RangeOnUnknownGoroutine {
                ty: s.ev.ty,
                goroutine: s.cur.g,
            });
        };
        let desc = g.extra().ranges.end(s.ev.ty)?;
        if s.ev.ty == ty::STW_END {
            // The end reports the kind of its begin.
            s.ev.args[0] = desc;
        }
        self.push(s, s.cur);
        s.accept(s.cur)
    }

    /// Go's dump of the ordering state for "broken trace" errors, with
    /// entries sorted by id (Go prints them in map order).
    pub(crate) fn dump(&self) -> String {
        let mut out = String::new();
        for (id, g) in self.gs.sorted() {
            let _ = writeln!(
                out,
                "G {} [status={} seq={} (gen={})]",
                id as i64,
                go_status_name(g.status),
                g.seq.n,
                g.seq.gen
            );
        }
        out.push('\n');
        for (id, p) in self.ps.sorted() {
            let _ = writeln!(
                out,
                "P {} [status={} seq={} (gen={})]",
                id as i64,
                proc_status_name(p.status),
                p.seq.n,
                p.seq.gen
            );
        }
        out.push('\n');
        let mut threads = self.threads.slots.clone();
        threads.sort_by_key(|m| m.m);
        for m in threads {
            let _ = writeln!(out, "M {} [g={} p={}]", m.m, m.g, m.p);
        }
        out.push('\n');
        let state = match self.gc_state {
            GcState::Undetermined => "Undetermined",
            GcState::NotRunning => "NotRunning",
            GcState::Running => "Running",
        };
        let _ = writeln!(out, "GC {} {}", self.gc_seq, state);
        out
    }
}
