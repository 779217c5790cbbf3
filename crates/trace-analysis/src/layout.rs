//! Where goroutines execute: which thread (M) and proc (P) each goroutine
//! occupies over time, as a timeline draws them.
//!
//! [`Layout`] follows goroutine state transitions and says, for each, which
//! slots a goroutine leaves and which it takes ([`Move`]): a thread while it
//! runs or sits in a system call, a proc while it runs, and a system call
//! nested in its thread slot. Viewers turn moves into slices on proc and
//! thread tracks ([`crate::chrome`] and the `trace-view` timeline both do),
//! so they agree on the rules:
//!
//! * `Running` takes the event's thread and proc (either may be unknown);
//!   `Syscall` keeps the thread (the event's, or the one it ran on) and
//!   gives up the proc; any other state leaves both.
//! * A transition that does not change the slots (a status event at a
//!   generation start, `from == to`) moves nothing, so slices are not split
//!   at generation boundaries.
//! * A slot holds one goroutine: a goroutine placed on a taken thread or
//!   proc displaces the one there (which only happens in inconsistent
//!   traces), so slices on one track never overlap.
//! * Moves come in nesting order: every [`Move::Leave`] before any
//!   [`Move::Take`], leaves innermost first (system call, proc, thread),
//!   takes outermost first.
//!
//! ```
//! use trace_analysis::layout::{Layout, Move, Slot};
//! use trace_reader::{GoId, GoState, ProcId, ThreadId};
//!
//! let mut layout = Layout::default();
//! let (g, m, p) = (GoId(7), ThreadId(1), ProcId(0));
//! let moves: Vec<_> = layout
//!     .transition(g, GoState::Runnable, GoState::Running, m, p)
//!     .collect();
//! assert_eq!(moves, [Move::Take(g, Slot::Thread(m)), Move::Take(g, Slot::Proc(p))]);
//! let moves: Vec<_> = layout
//!     .transition(g, GoState::Running, GoState::Syscall, m, p)
//!     .collect();
//! assert_eq!(moves, [Move::Leave(g, Slot::Proc(p)), Move::Take(g, Slot::Syscall(m))]);
//! ```

use hashbrown::HashMap;
use smallvec::SmallVec;
use trace_reader::{GoId, GoState, ProcId, ThreadId};

/// A place a goroutine occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Executing on a thread (running or in a system call).
    Thread(ThreadId),
    /// Running on a proc.
    Proc(ProcId),
    /// In a system call, nested in its [`Slot::Thread`] on the same thread.
    Syscall(ThreadId),
}

/// A goroutine leaving or taking a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// The goroutine leaves the slot.
    Leave(GoId, Slot),
    /// The goroutine takes the slot.
    Take(GoId, Slot),
}

/// The moves of one transition, in nesting order.
pub type Moves = smallvec::IntoIter<[Move; 8]>;

/// Where a goroutine is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Place {
    thread: Option<ThreadId>,
    proc: Option<ProcId>,
    syscall: bool,
}

impl Place {
    /// Its slots, outermost first.
    fn slots(self) -> impl DoubleEndedIterator<Item = Slot> {
        let thread = self.thread.map(Slot::Thread);
        let proc = self.proc.map(Slot::Proc);
        let syscall = self.thread.filter(|_| self.syscall).map(Slot::Syscall);
        [thread, proc, syscall].into_iter().flatten()
    }

    fn is_empty(self) -> bool {
        self.thread.is_none() && self.proc.is_none()
    }
}

/// Goroutines' places on threads and procs; see the [module docs](self).
#[derive(Debug, Default)]
pub struct Layout {
    goroutines: HashMap<GoId, Place>,
    threads: HashMap<ThreadId, GoId>,
    procs: HashMap<ProcId, GoId>,
}

impl Layout {
    /// Applies goroutine `g`'s transition from `from` to `to`, observed on
    /// thread `thread` and proc `proc` (the event's; either may be none),
    /// and returns the moves it makes.
    pub fn transition(
        &mut self,
        g: GoId,
        from: GoState,
        to: GoState,
        thread: ThreadId,
        proc: ProcId,
    ) -> Moves {
        let old = self.goroutines.get(&g).copied().unwrap_or_default();
        let new = match to {
            GoState::Running => Place {
                thread: thread.is_some().then_some(thread),
                proc: proc.is_some().then_some(proc),
                syscall: false,
            },
            GoState::Syscall => Place {
                thread: if thread.is_some() {
                    Some(thread)
                } else {
                    old.thread
                },
                proc: None,
                syscall: true,
            },
            _ => Place::default(),
        };
        let mut moves = SmallVec::new();
        if new == old && from == to {
            return moves.into_iter();
        }
        // A goroutine seen anew keeps nothing of an earlier life.
        let reborn = matches!(from, GoState::NotExist | GoState::Undetermined) && from != to;
        if new == old && !reborn {
            return moves.into_iter();
        }

        // Others displaced from the thread or proc `g` takes.
        let mut displaced: SmallVec<[GoId; 2]> = SmallVec::new();
        if let Some(m) = new.thread {
            if let Some(&other) = self.threads.get(&m) {
                if other != g {
                    displaced.push(other);
                }
            }
        }
        if let Some(p) = new.proc {
            if let Some(&other) = self.procs.get(&p) {
                if other != g && !displaced.contains(&other) {
                    displaced.push(other);
                }
            }
        }
        for other in displaced {
            let before = self.goroutines.get(&other).copied().unwrap_or_default();
            let mut after = before;
            if after.thread.is_some() && after.thread == new.thread {
                after.thread = None;
                after.syscall = false;
            }
            if after.proc.is_some() && after.proc == new.proc {
                after.proc = None;
            }
            self.replace(other, before, after, false, &mut moves);
        }
        self.replace(g, old, new, reborn, &mut moves);
        // Leaves first: a displaced goroutine's takes (none) never come
        // before `g`'s leaves, but keep the order stable anyway.
        moves.sort_by_key(|m| matches!(m, Move::Take(..)));
        moves.into_iter()
    }

    /// Moves `g` from `old` to `new` (leaving all of `old` if `all`).
    fn replace(
        &mut self,
        g: GoId,
        old: Place,
        new: Place,
        all: bool,
        moves: &mut SmallVec<[Move; 8]>,
    ) {
        let kept = |s: &Slot| !all && new.slots().any(|n| n == *s);
        for slot in old.slots().rev().filter(|s| !kept(s)) {
            match slot {
                Slot::Thread(m) => {
                    self.threads.remove(&m);
                }
                Slot::Proc(p) => {
                    self.procs.remove(&p);
                }
                Slot::Syscall(_) => {}
            }
            moves.push(Move::Leave(g, slot));
        }
        let had = |s: &Slot| !all && old.slots().any(|o| o == *s);
        for slot in new.slots().filter(|s| !had(s)) {
            match slot {
                Slot::Thread(m) => {
                    self.threads.insert(m, g);
                }
                Slot::Proc(p) => {
                    self.procs.insert(p, g);
                }
                Slot::Syscall(_) => {}
            }
            moves.push(Move::Take(g, slot));
        }
        if new.is_empty() {
            self.goroutines.remove(&g);
        } else {
            self.goroutines.insert(g, new);
        }
    }

    /// The thread `g` executes on, if any.
    pub fn thread_of(&self, g: GoId) -> Option<ThreadId> {
        self.goroutines.get(&g).and_then(|p| p.thread)
    }

    /// Leaves every slot (at the end of a trace): goroutine by goroutine in
    /// id order, innermost first.
    pub fn finish(&mut self) -> Vec<Move> {
        let mut places: Vec<(GoId, Place)> = self.goroutines.drain().collect();
        places.sort_by_key(|&(g, _)| g);
        let mut moves = Vec::new();
        for (g, place) in places {
            moves.extend(place.slots().rev().map(|s| Move::Leave(g, s)));
        }
        self.goroutines.clear();
        self.threads.clear();
        self.procs.clear();
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GoState::*;

    const G1: GoId = GoId(1);
    const G2: GoId = GoId(2);
    const M1: ThreadId = ThreadId(1);
    const P0: ProcId = ProcId(0);
    const NO_M: ThreadId = ThreadId(-1);
    const NO_P: ProcId = ProcId(-1);

    fn moves(
        l: &mut Layout,
        g: GoId,
        from: GoState,
        to: GoState,
        m: ThreadId,
        p: ProcId,
    ) -> Vec<Move> {
        l.transition(g, from, to, m, p).collect()
    }

    #[test]
    fn run_syscall_return_block() {
        let mut l = Layout::default();
        assert_eq!(
            moves(&mut l, G1, Runnable, Running, M1, P0),
            [
                Move::Take(G1, Slot::Thread(M1)),
                Move::Take(G1, Slot::Proc(P0))
            ]
        );
        // A status event at a generation start changes nothing.
        assert_eq!(moves(&mut l, G1, Running, Running, M1, P0), []);
        assert_eq!(
            moves(&mut l, G1, Running, Syscall, M1, P0),
            [
                Move::Leave(G1, Slot::Proc(P0)),
                Move::Take(G1, Slot::Syscall(M1))
            ]
        );
        // The system call's end may be seen without a thread: it keeps its own.
        assert_eq!(moves(&mut l, G1, Syscall, Syscall, NO_M, NO_P), []);
        assert_eq!(
            moves(&mut l, G1, Syscall, Running, M1, P0),
            [
                Move::Leave(G1, Slot::Syscall(M1)),
                Move::Take(G1, Slot::Proc(P0))
            ]
        );
        assert_eq!(
            moves(&mut l, G1, Running, Waiting, M1, P0),
            [
                Move::Leave(G1, Slot::Proc(P0)),
                Move::Leave(G1, Slot::Thread(M1))
            ]
        );
        assert_eq!(l.thread_of(G1), None);
        assert!(l.finish().is_empty());
    }

    #[test]
    fn a_taken_slot_displaces_its_goroutine() {
        let mut l = Layout::default();
        moves(&mut l, G1, Runnable, Running, M1, P0);
        assert_eq!(
            moves(&mut l, G2, Runnable, Running, M1, NO_P),
            [
                Move::Leave(G1, Slot::Thread(M1)),
                Move::Take(G2, Slot::Thread(M1))
            ]
        );
        // G1 keeps its proc, until G2 takes it too.
        assert_eq!(
            moves(&mut l, G2, Running, Running, M1, P0),
            [
                Move::Leave(G1, Slot::Proc(P0)),
                Move::Take(G2, Slot::Proc(P0))
            ]
        );
        assert_eq!(l.finish().len(), 2);
    }

    #[test]
    fn a_new_life_leaves_the_old_one() {
        let mut l = Layout::default();
        moves(&mut l, G1, Runnable, Running, M1, P0);
        // The goroutine's end was lost; it is created again on the same M/P.
        assert_eq!(
            moves(&mut l, G1, NotExist, Running, M1, P0),
            [
                Move::Leave(G1, Slot::Proc(P0)),
                Move::Leave(G1, Slot::Thread(M1)),
                Move::Take(G1, Slot::Thread(M1)),
                Move::Take(G1, Slot::Proc(P0)),
            ]
        );
    }
}
