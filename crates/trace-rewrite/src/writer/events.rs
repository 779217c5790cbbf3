//! One event: checked against the writer's state as Go's ordering would
//! check it, written (with the statuses it needs first), and applied to the
//! state.

use std::io::Write;

use trace_reader::{Event, RangeName, NO_TASK};
use trace_wire::ty;

use super::state::{gs, ps, Gc, OwnedFrame, G, P};
use super::{EventWriter, Why, REDUNDANT};

/// What an event needs of its thread: a proc, a goroutine.
const USER_GO: (bool, bool) = (true, true);

impl<W: Write> EventWriter<W> {
    /// Checks, writes and applies one event (not a sync) at time `t`.
    pub(super) fn apply(&mut self, ev: &Event, t: u64) -> Result<(), Why> {
        let w = ev.wire();
        let a = w.args;
        let m = ev.thread().0;
        let cur = self.st.m(m);
        let gen = self.gen_number;
        let held = self.held_time.take();
        match w.ty {
            ty::CPU_SAMPLE => {
                let stack = self.stack(ev.stack());
                let g = ev.goroutine().0;
                let g = if g == -1 { 0 } else { g as u64 };
                if let (Some(buf), true) = (self.gen.as_mut(), self.emitting) {
                    buf.sample(t, m as u64, ev.proc().0 as u64, g, stack);
                }
            }
            ty::PROC_STATUS => {
                let p = a[0] as i64;
                if !(1..=4).contains(&a[1]) {
                    return Err("its status is invalid");
                }
                let status = match self.st.ps.get(&p) {
                    Some(s) if s.status == ps::ABANDONED && a[1] == ps::SYSCALL => ps::SYSCALL,
                    Some(s) => s.status,
                    None => a[1],
                };
                self.emit(m, t, ty::PROC_STATUS, &[p as u64, status]);
                let bound = matches!(status, ps::RUNNING | ps::SYSCALL);
                let holder = if bound {
                    m
                } else {
                    self.st.ps.get(&p).map_or(-1, |s| s.m)
                };
                let old = self.st.ps.insert(
                    p,
                    P {
                        status,
                        m: if bound { m } else { -1 },
                        seq: 0,
                        seq_gen: gen,
                        sweep: false,
                    },
                );
                self.st.ps.get_mut(&p).expect("inserted").sweep = old.is_some_and(|o| o.sweep);
                if bound && m != -1 {
                    self.st.m_mut(m).p = p;
                } else if !bound && holder != -1 && self.st.m(holder).p == p {
                    self.st.m_mut(holder).p = -1;
                }
            }
            ty::GO_STATUS | ty::GO_STATUS_STACK => {
                let g = a[0] as i64;
                if !(1..=4).contains(&a[2]) {
                    return Err("its status is invalid");
                }
                let status = match self.st.gs.get(&g) {
                    Some(s) => s.status,
                    None if gen <= 1 => a[2],
                    None => return Err("a goroutine unknown after the first generation"),
                };
                let tr = ev.state_transition();
                let stack = tr.and_then(|tr| tr.stack).filter(|s| !s.is_empty());
                let owned: Option<Box<[OwnedFrame]>> = stack.map(|s| {
                    s.frames()
                        .map(|f| OwnedFrame {
                            pc: f.pc,
                            func: f.func.as_bytes().into(),
                            file: f.file.as_bytes().into(),
                            line: f.line,
                        })
                        .collect()
                });
                let on = if matches!(status, gs::RUNNING | gs::SYSCALL) {
                    if m == -1 {
                        return Err("a running goroutine's status needs a thread");
                    }
                    m
                } else {
                    m
                };
                self.write_go_status(on, t, g, status, owned.as_deref());
                let entry = self
                    .st
                    .gs
                    .entry(g)
                    .or_insert_with(|| G::new(status, -1, gen));
                entry.seq = 0;
                entry.seq_gen = gen;
                if owned.is_some() {
                    entry.stack = owned;
                }
                if matches!(status, gs::RUNNING | gs::SYSCALL) {
                    entry.m = on;
                    self.st.m_mut(on).g = g;
                }
            }
            ty::PROC_START => {
                let p = a[0] as i64;
                match self.st.ps.get(&p) {
                    Some(s) if s.status == ps::IDLE => {}
                    Some(_) => return Err("its proc is not idle"),
                    None => return Err("its proc is unknown"),
                }
                if m == -1 {
                    return Err("it needs a thread");
                }
                if cur.p != -1 {
                    return Err("its thread already has a proc");
                }
                let seq = self.proc_seq(p, m, t);
                self.emit(m, t, ty::PROC_START, &[p as u64, seq]);
                let s = self.st.ps.get_mut(&p).expect("checked");
                s.status = ps::RUNNING;
                s.m = m;
                self.st.m_mut(m).p = p;
            }
            ty::PROC_STOP => {
                need(cur, (true, false))?;
                let s = self.st.ps.get_mut(&cur.p).ok_or("its proc is unknown")?;
                if !matches!(s.status, ps::RUNNING | ps::SYSCALL) {
                    return Err("its proc is not running");
                }
                s.status = ps::IDLE;
                s.m = -1;
                self.emit(m, t, ty::PROC_STOP, &[]);
                self.st.m_mut(m).p = -1;
            }
            ty::PROC_STEAL => {
                if a[1] == 0 {
                    // The reader's own steal before a GoDestroySyscall,
                    // which the GoDestroySyscall stands for.
                    self.held_time = Some(t);
                    return Ok(());
                }
                let p = a[0] as i64;
                let s = self.st.ps.get(&p).ok_or("its proc is unknown")?;
                let (status, victim) = (s.status, s.m);
                if m == -1 {
                    return Err("a steal needs a thread");
                }
                match status {
                    ps::SYSCALL | ps::ABANDONED => {}
                    ps::RUNNING if self.opts.repair && victim != -1 => {
                        // The syscall was left out: the victim stops.
                        self.emit(victim, t, ty::PROC_STOP, &[]);
                        let s = self.st.ps.get_mut(&p).expect("checked");
                        s.status = ps::IDLE;
                        s.m = -1;
                        self.st.m_mut(victim).p = -1;
                        return Ok(());
                    }
                    _ => return Err("its proc is not in a syscall"),
                }
                if victim == m && cur.p != p {
                    return Err("a self-steal of another proc");
                }
                let seq = self.proc_seq(p, m, t);
                let victim_arg = if victim == -1 {
                    m as u64
                } else {
                    victim as u64
                };
                self.emit(m, t, ty::PROC_STEAL, &[p as u64, seq, victim_arg]);
                let s = self.st.ps.get_mut(&p).expect("checked");
                s.status = ps::IDLE;
                s.m = -1;
                if status == ps::SYSCALL && victim != -1 && self.st.m(victim).p == p {
                    self.st.m_mut(victim).p = -1;
                }
            }
            ty::GO_CREATE | ty::GO_CREATE_BLOCKED => {
                need(cur, (true, false))?;
                let g = a[0] as i64;
                if self.st.gs.contains_key(&g) {
                    return Err("its goroutine exists already");
                }
                let tr = ev.state_transition();
                let new_stack = self.stack(tr.and_then(|tr| tr.stack));
                let stack = self.stack(ev.stack());
                self.emit(m, t, w.ty, &[g as u64, new_stack, stack]);
                let status = if w.ty == ty::GO_CREATE {
                    gs::RUNNABLE
                } else {
                    gs::WAITING
                };
                self.st.gs.insert(g, G::new(status, -1, gen));
            }
            ty::GO_CREATE_SYSCALL => {
                if m == -1 || cur.g != -1 {
                    return Err("it needs a thread without a goroutine");
                }
                let g = a[0] as i64;
                if self.st.gs.contains_key(&g) {
                    return Err("its goroutine exists already");
                }
                self.emit(m, t, ty::GO_CREATE_SYSCALL, &[g as u64]);
                self.st.gs.insert(g, G::new(gs::SYSCALL, m, gen));
                self.st.m_mut(m).g = g;
            }
            ty::GO_START => {
                let g = a[0] as i64;
                match self.st.gs.get(&g) {
                    Some(s) if s.status == gs::RUNNABLE => {}
                    _ => return Err("its goroutine is not runnable"),
                }
                need(cur, (true, false))?;
                if cur.g != -1 {
                    return Err("its thread runs a goroutine already");
                }
                let seq = self.go_seq(g, m, t);
                self.emit(m, t, ty::GO_START, &[g as u64, seq]);
                let s = self.st.gs.get_mut(&g).expect("checked");
                s.status = gs::RUNNING;
                s.m = m;
                self.st.m_mut(m).g = g;
            }
            ty::GO_DESTROY | ty::GO_STOP | ty::GO_BLOCK => {
                need(cur, USER_GO)?;
                self.current(cur.g, gs::RUNNING)?;
                match w.ty {
                    ty::GO_DESTROY => {
                        self.emit(m, t, ty::GO_DESTROY, &[]);
                        if let Some(g) = self.st.gs.remove(&cur.g) {
                            self.st.stw = self.st.stw.saturating_sub(g.stw);
                        }
                    }
                    _ => {
                        let tr = ev.state_transition();
                        let reason = tr.map_or(&b""[..], |tr| tr.reason.as_bytes());
                        let reason = self.string(reason);
                        let stack = self.stack(ev.stack());
                        self.emit(m, t, w.ty, &[reason, stack]);
                        let s = self.st.gs.get_mut(&cur.g).expect("checked");
                        s.status = if w.ty == ty::GO_STOP {
                            gs::RUNNABLE
                        } else {
                            gs::WAITING
                        };
                        s.m = -1;
                    }
                }
                self.st.m_mut(m).g = -1;
            }
            ty::GO_UNBLOCK | ty::GO_SWITCH | ty::GO_SWITCH_DESTROY => {
                // A coroutine switch comes as its three parts (an unblock,
                // the block or exit of the switching goroutine, the start
                // of the other), written as such.
                let g = a[0] as i64;
                match self.st.gs.get(&g) {
                    Some(s) if s.status == gs::WAITING => {}
                    _ => return Err("its goroutine is not waiting"),
                }
                let seq = self.go_seq(g, m, t);
                let stack = self.stack(ev.stack());
                self.emit(m, t, ty::GO_UNBLOCK, &[g as u64, seq, stack]);
                self.st.gs.get_mut(&g).expect("checked").status = gs::RUNNABLE;
            }
            ty::GO_SYSCALL_BEGIN => {
                need(cur, USER_GO)?;
                self.current(cur.g, gs::RUNNING)?;
                if !self.st.ps.contains_key(&cur.p) {
                    return Err("its proc is unknown");
                }
                let seq = self.proc_seq(cur.p, m, t);
                let stack = self.stack(ev.stack());
                self.emit(m, t, ty::GO_SYSCALL_BEGIN, &[seq, stack]);
                let s = self.st.gs.get_mut(&cur.g).expect("checked");
                s.status = gs::SYSCALL;
                self.st.ps.get_mut(&cur.p).expect("checked").status = ps::SYSCALL;
            }
            ty::GO_SYSCALL_END => {
                need(cur, USER_GO)?;
                self.current(cur.g, gs::SYSCALL)?;
                match self.st.ps.get(&cur.p) {
                    Some(s) if s.status == ps::SYSCALL => {}
                    _ => return Err("its proc is not in a syscall"),
                }
                self.emit(m, t, ty::GO_SYSCALL_END, &[]);
                self.st.gs.get_mut(&cur.g).expect("checked").status = gs::RUNNING;
                self.st.ps.get_mut(&cur.p).expect("checked").status = ps::RUNNING;
            }
            ty::GO_SYSCALL_END_BLOCKED => {
                if cur.p != -1
                    && self
                        .st
                        .ps
                        .get(&cur.p)
                        .is_some_and(|s| s.status == ps::SYSCALL)
                {
                    return Err("its proc is still in the syscall");
                }
                if m == -1 || cur.g == -1 {
                    return Err("it needs a thread and a goroutine");
                }
                self.current(cur.g, gs::SYSCALL)?;
                self.emit(m, t, ty::GO_SYSCALL_END_BLOCKED, &[]);
                let s = self.st.gs.get_mut(&cur.g).expect("checked");
                s.status = gs::RUNNABLE;
                s.m = -1;
                self.st.m_mut(m).g = -1;
            }
            ty::GO_DESTROY_SYSCALL => {
                if m == -1 || cur.g == -1 {
                    return Err("it needs a thread and a goroutine");
                }
                self.current(cur.g, gs::SYSCALL)?;
                if cur.p != -1
                    && self
                        .st
                        .ps
                        .get(&cur.p)
                        .is_none_or(|s| s.status != ps::SYSCALL)
                {
                    return Err("its proc is not in a syscall");
                }
                self.emit(m, held.unwrap_or(t), ty::GO_DESTROY_SYSCALL, &[]);
                if let Some(g) = self.st.gs.remove(&cur.g) {
                    self.st.stw = self.st.stw.saturating_sub(g.stw);
                }
                let mm = self.st.m_mut(m);
                mm.g = -1;
                if cur.p != -1 {
                    mm.p = -1;
                    let s = self.st.ps.get_mut(&cur.p).expect("checked");
                    s.status = ps::ABANDONED;
                    s.m = -1;
                }
            }
            ty::STW_BEGIN | ty::STW_END => {
                need(cur, USER_GO)?;
                let g = self.st.gs.get(&cur.g).ok_or("its goroutine is unknown")?;
                if w.ty == ty::STW_BEGIN {
                    let kind = match ev.range().map(|r| r.name) {
                        Some(RangeName::StopTheWorld(k)) => k.as_bytes(),
                        _ => b"",
                    };
                    let kind = self.string(kind);
                    let stack = self.stack(ev.stack());
                    self.emit(m, t, ty::STW_BEGIN, &[kind, stack]);
                    self.st.gs.get_mut(&cur.g).expect("checked").stw += 1;
                    self.st.stw += 1;
                } else {
                    if g.stw == 0 {
                        return Err("no stop-the-world is in progress");
                    }
                    self.emit(m, t, ty::STW_END, &[]);
                    self.st.gs.get_mut(&cur.g).expect("checked").stw -= 1;
                    self.st.stw = self.st.stw.saturating_sub(1);
                }
            }
            ty::GC_ACTIVE | ty::GC_BEGIN | ty::GC_END => {
                let first = !self.st.gc_written;
                if w.ty == ty::GC_ACTIVE && gen <= 1 && !first && self.st.gc == Gc::Running {
                    // Announced already in the first generation.
                    return Err(REDUNDANT);
                }
                let ok = match w.ty {
                    ty::GC_ACTIVE if first => gen <= 1,
                    ty::GC_ACTIVE => self.st.gc == Gc::Running,
                    ty::GC_BEGIN => first || self.st.gc != Gc::Running,
                    _ => self.st.gc == Gc::Running && !first,
                };
                if self.emitting {
                    if !ok {
                        return Err("the GC is not in the state it needs");
                    }
                    if !first {
                        need(cur, USER_GO)?;
                    }
                }
                self.st.gc_seq += 1;
                let seq = self.st.gc_seq;
                if w.ty == ty::GC_BEGIN {
                    let stack = self.stack(ev.stack());
                    self.emit(m, t, ty::GC_BEGIN, &[seq, stack]);
                } else {
                    self.emit(m, t, w.ty, &[seq]);
                }
                self.st.gc = if w.ty == ty::GC_END {
                    Gc::NotRunning
                } else {
                    Gc::Running
                };
                if self.emitting {
                    self.st.gc_written = true;
                }
            }
            ty::GC_SWEEP_ACTIVE => {
                let p = a[0] as i64;
                let s = self.st.ps.get(&p).ok_or("its proc is unknown")?;
                if gen <= 1 && s.sweep {
                    // Announced already in the first generation (by the
                    // writer's statuses).
                    return Err(REDUNDANT);
                }
                if gen > 1 && !s.sweep {
                    return Err("no sweep is in progress on its proc");
                }
                self.emit(m, t, ty::GC_SWEEP_ACTIVE, &[p as u64]);
                self.st.ps.get_mut(&p).expect("checked").sweep = true;
            }
            ty::GC_SWEEP_BEGIN | ty::GC_SWEEP_END => {
                need(cur, (true, false))?;
                let s = self.st.ps.get(&cur.p).ok_or("its proc is unknown")?;
                if w.ty == ty::GC_SWEEP_BEGIN {
                    if s.sweep {
                        return Err("a sweep is in progress already");
                    }
                    let stack = self.stack(ev.stack());
                    self.emit(m, t, ty::GC_SWEEP_BEGIN, &[stack]);
                    self.st.ps.get_mut(&cur.p).expect("checked").sweep = true;
                } else {
                    if !s.sweep {
                        return Err("no sweep is in progress");
                    }
                    self.emit(m, t, ty::GC_SWEEP_END, &[a[0], a[1]]);
                    self.st.ps.get_mut(&cur.p).expect("checked").sweep = false;
                }
            }
            ty::GC_MARK_ASSIST_ACTIVE => {
                let g = a[0] as i64;
                let s = self.st.gs.get(&g).ok_or("its goroutine is unknown")?;
                if gen <= 1 && s.assist {
                    return Err(REDUNDANT);
                }
                if gen > 1 && !s.assist {
                    return Err("no mark assist is in progress");
                }
                self.emit(m, t, ty::GC_MARK_ASSIST_ACTIVE, &[g as u64]);
                self.st.gs.get_mut(&g).expect("checked").assist = true;
            }
            ty::GC_MARK_ASSIST_BEGIN | ty::GC_MARK_ASSIST_END => {
                need(cur, USER_GO)?;
                let s = self.st.gs.get(&cur.g).ok_or("its goroutine is unknown")?;
                let begin = w.ty == ty::GC_MARK_ASSIST_BEGIN;
                if s.assist == begin {
                    return Err("the mark assist is not in the state it needs");
                }
                let args: &[u64] = if begin {
                    &[self.stack(ev.stack())]
                } else {
                    &[]
                };
                self.emit(m, t, w.ty, args);
                self.st.gs.get_mut(&cur.g).expect("checked").assist = begin;
            }
            ty::HEAP_ALLOC | ty::HEAP_GOAL => {
                need(cur, (true, false))?;
                self.emit(m, t, w.ty, &[a[0]]);
            }
            ty::PROCS_CHANGE => {
                need(cur, USER_GO)?;
                let stack = self.stack(ev.stack());
                self.emit(m, t, ty::PROCS_CHANGE, &[a[0], stack]);
            }
            ty::GO_LABEL => {
                need(cur, USER_GO)?;
                let label = ev.label().map_or(&b""[..], |l| l.label.as_bytes());
                let label = self.string(label);
                self.emit(m, t, ty::GO_LABEL, &[label]);
            }
            ty::USER_TASK_BEGIN | ty::USER_TASK_END => {
                need(cur, USER_GO)?;
                let task = ev.task().ok_or("it is not a task event")?;
                let stack = self.stack(ev.stack());
                if w.ty == ty::USER_TASK_BEGIN {
                    let parent = if task.parent == NO_TASK {
                        0
                    } else {
                        task.parent.0
                    };
                    let name = self.string(task.ty.as_bytes());
                    self.emit(m, t, w.ty, &[task.id.0, parent, name, stack]);
                } else {
                    self.emit(m, t, w.ty, &[task.id.0, stack]);
                }
            }
            ty::USER_REGION_BEGIN | ty::USER_REGION_END => {
                need(cur, USER_GO)?;
                let r = ev.region().ok_or("it is not a region event")?;
                let name = self.string(r.ty.as_bytes());
                let stack = self.stack(ev.stack());
                self.emit(m, t, w.ty, &[r.task.0, name, stack]);
            }
            ty::USER_LOG => {
                need(cur, USER_GO)?;
                let l = ev.log().ok_or("it is not a log event")?;
                let key = self.string(l.category.as_bytes());
                let value = self.string(l.message.as_bytes());
                let stack = self.stack(ev.stack());
                self.emit(m, t, ty::USER_LOG, &[l.task.0, key, value, stack]);
            }
            ty::SPAN..=ty::GOROUTINE_STACK_FREE => {
                if m == -1 {
                    return Err("an experimental event needs a thread");
                }
                let e = ev.experimental().ok_or("it is not an experimental event")?;
                let args: Vec<u64> = e.args.to_vec();
                self.emit(m, t, w.ty, &args);
            }
            _ => return Err("its type cannot be written"),
        }
        Ok(())
    }

    /// Checks that goroutine `g` exists in `status`.
    fn current(&self, g: i64, status: u64) -> Result<(), Why> {
        match self.st.gs.get(&g) {
            Some(s) if s.status == status => Ok(()),
            Some(_) => Err("its goroutine is not in the state it needs"),
            None => Err("its goroutine is unknown"),
        }
    }
}

/// Checks that a thread has what an event needs: (a proc, a goroutine).
fn need(cur: super::state::M, (p, g): (bool, bool)) -> Result<(), Why> {
    if p && cur.p == -1 {
        return Err("its thread has no proc");
    }
    if g && cur.g == -1 {
        return Err("its thread runs no goroutine");
    }
    Ok(())
}
