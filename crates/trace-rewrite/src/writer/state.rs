//! What the writer knows of the traced program at each point of its output:
//! Go's reader state machine (goroutine, proc and thread states, sequence
//! numbers, ranges in flight, the GC), run over the events the writer
//! writes, so that the statuses and sequence numbers it writes are the ones
//! Go's reader will expect.

use hashbrown::HashMap;

/// Goroutine statuses, as on the wire.
pub(crate) mod gs {
    pub(crate) const RUNNABLE: u64 = 1;
    pub(crate) const RUNNING: u64 = 2;
    pub(crate) const SYSCALL: u64 = 3;
    pub(crate) const WAITING: u64 = 4;
}

/// Proc statuses, as on the wire.
pub(crate) mod ps {
    pub(crate) const RUNNING: u64 = 1;
    pub(crate) const IDLE: u64 = 2;
    pub(crate) const SYSCALL: u64 = 3;
    pub(crate) const ABANDONED: u64 = 4;
}

/// One frame of a goroutine's status stack, owned (it outlives the input's
/// generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedFrame {
    pub(crate) pc: u64,
    pub(crate) func: Box<[u8]>,
    pub(crate) file: Box<[u8]>,
    pub(crate) line: u64,
}

/// A goroutine.
#[derive(Debug, Clone)]
pub(crate) struct G {
    pub(crate) status: u64,
    /// The thread it runs on or is in a syscall on, else -1.
    pub(crate) m: i64,
    pub(crate) seq: u64,
    /// The output generation of its last status or creation (0: none).
    pub(crate) seq_gen: u64,
    /// Stop-the-world ranges in flight.
    pub(crate) stw: u32,
    /// A GC mark assist in flight.
    pub(crate) assist: bool,
    /// The stack of its last status with a stack.
    pub(crate) stack: Option<Box<[OwnedFrame]>>,
}

impl G {
    pub(crate) fn new(status: u64, m: i64, gen: u64) -> Self {
        G {
            status,
            m,
            seq: 0,
            seq_gen: gen,
            stw: 0,
            assist: false,
            stack: None,
        }
    }
}

/// A proc.
#[derive(Debug, Clone)]
pub(crate) struct P {
    pub(crate) status: u64,
    /// The thread holding it (running, or in a syscall), else -1.
    pub(crate) m: i64,
    pub(crate) seq: u64,
    pub(crate) seq_gen: u64,
    /// A GC sweep in flight.
    pub(crate) sweep: bool,
}

/// A thread's binding: its proc and goroutine, -1 for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct M {
    pub(crate) p: i64,
    pub(crate) g: i64,
}

impl Default for M {
    fn default() -> Self {
        M { p: -1, g: -1 }
    }
}

/// The GC's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gc {
    /// No GC event yet.
    Unknown,
    NotRunning,
    Running,
}

/// The whole state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) gs: HashMap<i64, G>,
    pub(crate) ps: HashMap<i64, P>,
    pub(crate) ms: HashMap<i64, M>,
    pub(crate) gc: Gc,
    pub(crate) gc_seq: u64,
    /// Whether the output has a GC event yet (the first one may be any).
    pub(crate) gc_written: bool,
    /// Stop-the-world ranges in flight, all goroutines together.
    pub(crate) stw: u32,
}

impl Default for State {
    fn default() -> Self {
        State {
            gs: HashMap::new(),
            ps: HashMap::new(),
            ms: HashMap::new(),
            gc: Gc::Unknown,
            gc_seq: 0,
            gc_written: false,
            stw: 0,
        }
    }
}

impl State {
    /// Thread `m`'s binding (none for the no-thread id).
    pub(crate) fn m(&self, m: i64) -> M {
        self.ms.get(&m).copied().unwrap_or_default()
    }

    pub(crate) fn m_mut(&mut self, m: i64) -> &mut M {
        self.ms.entry(m).or_default()
    }

    /// How many status events a generation start writes.
    pub(crate) fn n_statuses(&self) -> usize {
        self.ps.len()
            + self.gs.len()
            + self.ps.values().filter(|p| p.sweep).count()
            + self.gs.values().filter(|g| g.assist).count()
            + 1
    }
}
