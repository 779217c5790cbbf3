//! Stacks: capture on the hot path (frame pointers, or the `backtrace` crate's
//! unwinder), symbolization off the hot path (when a generation's stack table
//! is written), cached by program counter.
//!
//! Go 1.23 deduplicates frames by PC within a generation, so one PC must
//! always map to the same `(function, file, line)`. Captured PCs are real
//! return addresses, resolved once and cached for the process. Where a PC is
//! in inlined code, the frame reported is the innermost inlined function
//! that is not the recorder's own, with its line. Frames that only exist to describe something (a thread's name as
//! its goroutine's start function) get synthetic PCs above `2^63`, which no
//! code address uses.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use hashbrown::HashMap;

use crate::raw;

/// How stacks are captured for annotation events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StackMode {
    /// No stacks (the default): events carry stack id 0.
    #[default]
    Off,
    /// Walk frame pointers if the program has them (checked once against
    /// the unwinder at the first capture), otherwise unwind.
    Auto,
    /// Always walk frame pointers. Build with `-C force-frame-pointers=yes`;
    /// without frame pointers the walk stops early (it never reads outside
    /// the thread's stack).
    FramePointers,
    /// Always use the `backtrace` crate's unwinder (slower, always works).
    Unwind,
}

const OFF: u8 = 0;
const AUTO: u8 = 1;
const FRAME_POINTERS: u8 = 2;
const UNWIND: u8 = 3;

static MODE: AtomicU8 = AtomicU8::new(OFF);

/// The deepest stack captured (Go's limit).
pub(crate) const MAX_DEPTH: usize = crate::tables::MAX_STACK_DEPTH;

/// How many distinct synthetic frames (thread names) the process keeps.
const MAX_SYNTHETIC: usize = 4096;

/// The synthetic frame shared by names past [`MAX_SYNTHETIC`].
const OVERFLOW_NAME: &str = "thread (too many names)";

/// Where synthetic program counters start.
const SYNTHETIC_BASE: u64 = 1 << 63;

pub(crate) fn set_mode(mode: StackMode) {
    let v = match mode {
        StackMode::Off => OFF,
        StackMode::Auto => AUTO,
        StackMode::FramePointers => FRAME_POINTERS,
        StackMode::Unwind => UNWIND,
    };
    MODE.store(v, Ordering::Relaxed);
}

/// Whether events should carry stacks.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    MODE.load(Ordering::Relaxed) != OFF
}

/// Captures the caller's stack into `out` (innermost first); `stack_high`
/// is the top of the thread's stack. Returns the number of frames.
#[inline(never)]
pub(crate) fn capture(stack_high: usize, out: &mut [u64]) -> usize {
    match MODE.load(Ordering::Relaxed) {
        FRAME_POINTERS => raw::walk_frame_pointers(stack_high, out),
        UNWIND => unwind(out),
        AUTO => {
            let mode = if frame_pointers_work(stack_high) {
                FRAME_POINTERS
            } else {
                UNWIND
            };
            let _ = MODE.compare_exchange(AUTO, mode, Ordering::Relaxed, Ordering::Relaxed);
            capture(stack_high, out)
        }
        _ => 0,
    }
}

fn unwind(out: &mut [u64]) -> usize {
    let mut n = 0;
    backtrace::trace(|frame| {
        let ip = frame.ip() as u64;
        if ip == 0 {
            return false;
        }
        out[n] = ip;
        n += 1;
        n < out.len()
    });
    n
}

/// Whether a frame-pointer walk from here agrees with the unwinder.
#[inline(never)]
fn frame_pointers_work(stack_high: usize) -> bool {
    let mut fp = [0u64; 16];
    let n = raw::walk_frame_pointers(stack_high, &mut fp);
    if n < 3 {
        return false;
    }
    let mut unwound = Vec::with_capacity(64);
    backtrace::trace(|frame| {
        unwound.push(frame.ip() as u64);
        unwound.len() < 64
    });
    let Some(pos) = unwound.iter().position(|&ip| ip == fp[0]) else {
        return false;
    };
    let common = fp[..n]
        .iter()
        .zip(&unwound[pos..])
        .take_while(|(a, b)| a == b)
        .count();
    common >= 3 && (common == n || pos + common == unwound.len())
}

/// A resolved frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) func: String,
    pub(crate) file: String,
    pub(crate) line: u64,
    /// Whether the frame is the recorder's own (trimmed from the top of
    /// stacks).
    pub(crate) internal: bool,
}

/// The symbolization cache and the synthetic frames of the process.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    frames: Mutex<HashMap<u64, Arc<Frame>>>,
    synthetic: Mutex<HashMap<String, u64>>,
}

impl Symbols {
    /// The synthetic PC of a one-frame stack whose function is `func`
    /// (stable for the life of the process).
    /// Past [`MAX_SYNTHETIC`] distinct names, new ones share one entry.
    pub(crate) fn synthetic(&self, func: &str, file: &str) -> u64 {
        let mut synthetic = crate::sync::lock_std(&self.synthetic);
        if let Some(&pc) = synthetic.get(func) {
            return pc;
        }
        if synthetic.len() >= MAX_SYNTHETIC && func != OVERFLOW_NAME {
            drop(synthetic);
            return self.synthetic(OVERFLOW_NAME, file);
        }
        let pc = SYNTHETIC_BASE + 16 * (synthetic.len() as u64 + 1);
        synthetic.insert(func.to_owned(), pc);
        drop(synthetic);
        let frame = Frame {
            func: func.to_owned(),
            file: file.to_owned(),
            line: 1,
            internal: false,
        };
        crate::sync::lock_std(&self.frames).insert(pc, Arc::new(frame));
        pc
    }

    /// The frame of `pc` (a return address, or a synthetic PC).
    pub(crate) fn resolve(&self, pc: u64) -> Arc<Frame> {
        if let Some(f) = crate::sync::lock_std(&self.frames).get(&pc) {
            return Arc::clone(f);
        }
        // A return address points after the call; look up the call itself.
        // The symbols come innermost first, one per inlined function. The
        // recorder's `inline(always)` entry points are inlined into user
        // code, so the frame is the one just outside the outermost symbol
        // of the recorder; it is the recorder's own frame (trimmed from the
        // top of stacks) if the physical function is.
        let mut chain = Vec::new();
        backtrace::resolve(
            pc.saturating_sub(1) as usize as *mut std::ffi::c_void,
            |sym| {
                let func = sym.name().map(|n| format!("{n:#}"));
                let file = sym.filename().map(|p| p.display().to_string());
                chain.push(Frame {
                    func: func.unwrap_or_default(),
                    file: file.unwrap_or_default(),
                    line: u64::from(sym.lineno().unwrap_or(0)),
                    internal: false,
                });
            },
        );
        let internal = chain.last().is_some_and(|f| is_internal(&f.func));
        let pick = match chain.iter().rposition(|f| is_internal(&f.func)) {
            Some(i) if i + 1 < chain.len() => i + 1,
            _ => 0,
        };
        let frame = (pick < chain.len()).then(|| Frame {
            internal,
            ..chain.swap_remove(pick)
        });
        let mut frame = frame.unwrap_or(Frame {
            func: String::new(),
            file: String::new(),
            line: 0,
            internal: false,
        });
        // Go's validator wants names and a line for every frame.
        if frame.func.is_empty() {
            frame.func = format!("{pc:#x}");
        }
        if frame.file.is_empty() {
            frame.file = "?".to_owned();
        }
        frame.line = frame.line.max(1);
        let frame = Arc::new(frame);
        crate::sync::lock_std(&self.frames).insert(pc, Arc::clone(&frame));
        frame
    }
}

/// Whether a frame is the recorder's own (trimmed from the top of stacks).
pub(crate) fn is_internal(func: &str) -> bool {
    func.contains("trace_runtime::")
        || func.contains("trace_annotate::")
        || func.starts_with("backtrace::")
        || func.starts_with("<backtrace::")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn synthetic_frames_are_stable() {
        let s = Symbols::default();
        let a = s.synthetic("thread a", "<thread>");
        let b = s.synthetic("thread b", "<thread>");
        assert_ne!(a, b);
        assert_eq!(s.synthetic("thread a", "<thread>"), a);
        assert_eq!(s.resolve(a).func, "thread a");
        assert!(a >= SYNTHETIC_BASE);
        for i in 0..MAX_SYNTHETIC + 10 {
            s.synthetic(&format!("thread {i}"), "<thread>");
        }
        let overflow = s.synthetic("thread one more", "<thread>");
        assert_eq!(s.resolve(overflow).func, OVERFLOW_NAME);
        assert_eq!(s.synthetic("thread a", "<thread>"), a);
    }

    #[test]
    fn unwinding_resolves_and_marks_internal_frames() {
        let mut out = [0u64; MAX_DEPTH];
        let n = unwind(&mut out);
        assert!(n > 2);
        let s = Symbols::default();
        let frames: Vec<_> = out[..n].iter().map(|&pc| s.resolve(pc)).collect();
        // The unwinder's own frames come first and are the recorder's.
        assert!(frames[0].internal, "{frames:?}");
        let unwind = frames.iter().position(|f| f.func.contains("stack::unwind"));
        assert!(unwind.is_some_and(|i| frames[i].internal), "{frames:?}");
        // The test harness's frames are not.
        assert!(!frames[n - 1].internal, "{frames:?}");
        let f = s.resolve(0x10);
        assert_eq!((f.file.as_str(), f.line), ("?", 1));
    }
}
