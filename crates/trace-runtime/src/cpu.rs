//! CPU profile samples (`Config::cpu_profile`): while tracing is on, the
//! process's CPU-time timer (`ITIMER_PROF`) sends `SIGPROF` at the
//! configured rate, spread over the threads in proportion to the CPU they
//! use; the handler records the interrupted thread's M, P and G, the time
//! and its stack (the interrupted program counter, then a frame-pointer
//! walk), and the flusher drains the samples into each generation's
//! `CPUSamples` batch, as Go's runtime does with its CPU profiler on.
//!
//! The handler is async-signal-safe: it allocates nothing, takes no lock and
//! touches only atomics and a `const` thread-local without a destructor.
//! Samples go to per-CPU rings (so memory is O(CPUs), like the event
//! buffers), reserved with a compare-exchange because handlers of several
//! threads can write one ring (a thread preempted in its handler, another
//! scheduled on that CPU). A full ring drops the sample and counts it.
//!
//! A thread that never recorded an event has no M yet (it cannot register
//! from a signal handler): its samples carry a synthetic M,
//! [`UNREGISTERED_M`] plus its kernel thread id, and no P or G, so that its
//! CPU time still shows.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::raw;

/// The deepest stack a sample keeps.
pub(crate) const DEPTH: usize = 32;

/// Samples a ring holds between two drains (one per generation): 2.5 s of
/// one CPU at 100 Hz.
const SLOTS: u64 = 256;

/// Words of a sample: time, m, p, g, depth, then the stack.
const WORDS: usize = 5 + DEPTH;

/// The M of a thread that never recorded an event is this plus its kernel
/// thread id (our M ids count from 1 and stay far below it).
pub(crate) const UNREGISTERED_M: u64 = 1 << 48;

/// No P (`0xFFFF_FFFF_FFFF_FFFF` on the wire).
pub(crate) const NO_P: u64 = u64::MAX;

/// One sample, as drained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Trace clock ticks.
    pub(crate) time: u64,
    pub(crate) m: u64,
    pub(crate) p: u64,
    /// 0: no goroutine.
    pub(crate) g: u64,
    /// Program counters, innermost first (as return addresses: the
    /// interrupted one plus one).
    pub(crate) pcs: Vec<u64>,
}

struct Slot {
    /// The reservation index + 1 once the words are written.
    seq: AtomicU64,
    words: [AtomicU64; WORDS],
}

struct Ring {
    head: AtomicU64,
    tail: AtomicU64,
    slots: Box<[Slot]>,
}

impl Ring {
    fn new() -> Self {
        Ring {
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            slots: (0..SLOTS)
                .map(|_| Slot {
                    seq: AtomicU64::new(0),
                    words: std::array::from_fn(|_| AtomicU64::new(0)),
                })
                .collect(),
        }
    }

    /// Reserves the next slot; `None` if the ring is full.
    fn reserve(&self) -> Option<u64> {
        let mut h = self.head.load(Ordering::Relaxed);
        loop {
            if h.wrapping_sub(self.tail.load(Ordering::Acquire)) >= SLOTS {
                return None;
            }
            match self
                .head
                .compare_exchange_weak(h, h + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(h),
                Err(now) => h = now,
            }
        }
    }

    /// Hands the finished samples to `f`, oldest first, up to the first one
    /// still being written.
    fn drain(&self, f: &mut impl FnMut(Sample)) {
        let mut t = self.tail.load(Ordering::Relaxed);
        let h = self.head.load(Ordering::Acquire);
        while t < h {
            let slot = &self.slots[(t % SLOTS) as usize];
            if slot.seq.load(Ordering::Acquire) != t + 1 {
                break;
            }
            let w = |i: usize| slot.words[i].load(Ordering::Relaxed);
            let depth = (w(4) as usize).min(DEPTH);
            f(Sample {
                time: w(0),
                m: w(1),
                p: w(2),
                g: w(3),
                pcs: (0..depth).map(|i| w(5 + i)).collect(),
            });
            t += 1;
        }
        self.tail.store(t, Ordering::Release);
    }
}

/// One ring per CPU, made when profiling first starts.
static RINGS: OnceLock<Box<[Ring]>> = OnceLock::new();

/// Whether samples are being taken.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Samples dropped because a ring was full.
static LOST: AtomicU64 = AtomicU64::new(0);

/// What the handler needs to know about the thread it interrupts. No
/// destructor, so reading it from a signal handler registers nothing.
struct Ctx {
    m: Cell<u64>,
    p: Cell<u64>,
    g: Cell<u64>,
    /// The thread's stack (low, high); (0, 0): unknown, no walk.
    stack: Cell<(usize, usize)>,
}

thread_local! {
    static CTX: Ctx = const {
        Ctx {
            m: Cell::new(0),
            p: Cell::new(NO_P),
            g: Cell::new(0),
            stack: Cell::new((0, 0)),
        }
    };
}

/// Records the calling thread as M `m` on P `p` (0 and [`NO_P`] when it
/// leaves), with its stack's bounds.
pub(crate) fn set_thread(m: u64, p: u64, stack: Option<(usize, usize)>) {
    let _ = CTX.try_with(|c| {
        c.m.set(m);
        c.p.set(p);
        c.stack.set(stack.unwrap_or((0, 0)));
    });
}

/// Records the goroutine the calling thread runs (0: none).
#[inline]
pub(crate) fn set_goroutine(g: u64) {
    let _ = CTX.try_with(|c| c.g.set(g));
}

/// The signal handler's work: one sample of the interrupted code at `pc`
/// with frame pointer `fp`.
fn on_sample(pc: usize, fp: usize) {
    if !ACTIVE.load(Ordering::Relaxed) {
        return;
    }
    let Some(rings) = RINGS.get() else { return };
    let time = crate::clock::now();
    let (m, p, g, stack) = CTX
        .try_with(|c| (c.m.get(), c.p.get(), c.g.get(), c.stack.get()))
        .unwrap_or((0, NO_P, 0, (0, 0)));
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    let (m, p, g) = if m == 0 {
        (UNREGISTERED_M + raw::prof::gettid(), NO_P, 0)
    } else {
        (m, p, g)
    };
    let ring = &rings[raw::cpu_id() % rings.len()];
    let Some(i) = ring.reserve() else {
        LOST.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let mut pcs = [0u64; DEPTH];
    let mut depth = 0;
    if pc != 0 {
        // As a return address, like the walked frames.
        pcs[0] = pc as u64 + 1;
        depth = 1;
        if stack.1 != 0 && fp != 0 {
            depth += raw::walk_frame_pointers_from(fp, stack, &mut pcs[1..]);
        }
    }
    let slot = &ring.slots[(i % SLOTS) as usize];
    for (k, v) in [time, m, p, g, depth as u64].into_iter().enumerate() {
        slot.words[k].store(v, Ordering::Relaxed);
    }
    for (k, &pc) in pcs[..depth].iter().enumerate() {
        slot.words[5 + k].store(pc, Ordering::Relaxed);
    }
    slot.seq.store(i + 1, Ordering::Release);
}

/// Starts sampling at `hz` per CPU second.
pub(crate) fn start(hz: u32) -> std::io::Result<()> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        RINGS.get_or_init(|| (0..raw::n_cpus().max(1)).map(|_| Ring::new()).collect());
        ACTIVE.store(true, Ordering::Release);
        raw::prof::start(on_sample, hz)
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = (hz, on_sample);
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "CPU samples are recorded on Linux (x86-64, AArch64) only",
        ))
    }
}

/// Stops sampling (samples already taken stay to be drained).
pub(crate) fn stop() {
    ACTIVE.store(false, Ordering::Release);
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let _ = raw::prof::stop();
    }
}

/// Hands every finished sample to `f`.
pub(crate) fn drain(mut f: impl FnMut(Sample)) {
    if let Some(rings) = RINGS.get() {
        for ring in rings.iter() {
            ring.drain(&mut f);
        }
    }
}

/// Samples dropped so far because a ring was full.
pub(crate) fn lost() -> u64 {
    LOST.load(Ordering::Relaxed)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_order_and_drops_when_full() {
        let ring = Ring::new();
        for i in 0..SLOTS + 3 {
            match ring.reserve() {
                Some(at) => {
                    let slot = &ring.slots[(at % SLOTS) as usize];
                    slot.words[0].store(i, Ordering::Relaxed);
                    slot.words[4].store(0, Ordering::Relaxed);
                    slot.seq.store(at + 1, Ordering::Release);
                }
                None => assert!(i >= SLOTS, "full too early at {i}"),
            }
        }
        let mut times = Vec::new();
        ring.drain(&mut |s| times.push(s.time));
        assert_eq!(times, (0..SLOTS).collect::<Vec<_>>());
        // Room again after the drain; an unfinished slot stops the drain.
        let a = ring.reserve().unwrap();
        let b = ring.reserve().unwrap();
        ring.slots[(b % SLOTS) as usize]
            .seq
            .store(b + 1, Ordering::Release);
        let mut n = 0;
        ring.drain(&mut |_| n += 1);
        assert_eq!(n, 0, "slot {a} is not written yet");
        ring.slots[(a % SLOTS) as usize]
            .seq
            .store(a + 1, Ordering::Release);
        ring.drain(&mut |_| n += 1);
        assert_eq!(n, 2);
    }
}
