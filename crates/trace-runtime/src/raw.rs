//! The crate's only unsafe code, behind a safe API: the per-CPU slot lock,
//! reads of the CPU id and the clocks, the current thread's stack bounds, the
//! frame-pointer walk, and the CPU profiler's signal (`SIGPROF` handler,
//! interval timer, the interrupted context's registers).
//!
//! Everything here is small on purpose; the callers in the rest of the crate
//! are `#![deny(unsafe_code)]`.
#![allow(
    unsafe_code,
    reason = "this module is where the crate's unsafe code lives"
)]

use crate::sync::{AtomicBool, Ordering, UnsafeCell};

/// A spin lock around `T`, held for the few nanoseconds it takes to append an
/// event, so it is almost never contended: each slot is used by the threads
/// currently running on one CPU.
#[derive(Debug)]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    /// A [`lock_urgent`](SpinLock::lock_urgent) caller is waiting: a hint
    /// that makes `try_lock` fail meanwhile.
    #[cfg_attr(loom, allow(dead_code, reason = "a hint that loom builds ignore"))]
    wanted: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached through a `SpinGuard`, and at most one
// guard exists at a time (`try_lock` wins the `locked` flag with an acquire
// compare-exchange and the guard releases it on drop), so sharing the lock between threads
// shares `T` by moving access between threads, which `T: Send` permits.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its `T`; sending the lock sends the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            wanted: AtomicBool::new(false),
            data: UnsafeCell::new(value),
        }
    }

    /// Takes the lock if it is free and no [`lock_urgent`] caller waits.
    ///
    /// [`lock_urgent`]: SpinLock::lock_urgent
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        // (A hint only, so not under loom, for the reason below.)
        #[cfg(not(loom))]
        if self.wanted.load(Ordering::Relaxed) {
            return None;
        }
        self.acquire()
    }

    /// Takes the lock ahead of [`try_lock`](SpinLock::try_lock) callers,
    /// which fail while it waits: a stream of threads that keep taking the
    /// lock cannot starve it. For the advancer, which must lock every slot
    /// while busy writers keep taking them.
    pub(crate) fn lock_urgent(&self) -> SpinGuard<'_, T> {
        self.wanted.store(true, Ordering::Relaxed);
        let mut round = 0;
        loop {
            if let Some(guard) = self.acquire() {
                self.wanted.store(false, Ordering::Relaxed);
                return guard;
            }
            crate::sync::spin_wait(&mut round);
        }
    }

    /// Takes the lock if it is free.
    #[inline]
    fn acquire(&self) -> Option<SpinGuard<'_, T>> {
        // A load first keeps a contended line shared instead of bouncing it.
        // (Not under loom, which may serve a stale value to a relaxed load
        // in a spin loop forever; the compare-exchange alone is the
        // protocol. A plain swap also works on hardware, but loom 0.7 finds
        // a spinning swap never observing the release store.)
        #[cfg(not(loom))]
        if self.locked.load(Ordering::Relaxed) {
            return None;
        }
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        Some(SpinGuard { lock: self })
    }

    /// Takes the lock, spinning (and then sleeping) while it is held.
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        let mut round = 0;
        loop {
            if let Some(guard) = self.try_lock() {
                return guard;
            }
            crate::sync::spin_wait(&mut round);
        }
    }
}

/// Exclusive access to a [`SpinLock`]'s data; releases the lock on drop.
#[derive(Debug)]
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinGuard<'_, T> {
    /// Runs `f` with mutable access to the protected data.
    #[inline(always)]
    pub(crate) fn with<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.data.with_mut(|ptr| {
            // SAFETY:
            // - `ptr` points to the live `T` inside the lock, which outlives
            //   this guard;
            // - this guard is the only one (it holds the `locked` flag, won
            //   with an acquire compare-exchange, so writes made under earlier guards are
            //   visible), and `&mut self` prevents a second `&mut T` through
            //   it; the reference does not escape `f`.
            f(unsafe { &mut *ptr })
        })
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

/// The CPU the calling thread is running on (a hint: the thread may migrate
/// right after). glibc 2.35+ answers from the thread's rseq area without a
/// system call.
#[inline]
pub(crate) fn cpu_id() -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `sched_getcpu` has no preconditions; it returns -1 on error.
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The number of CPUs the system is configured with (CPU ids are below it),
/// at least one.
pub(crate) fn n_cpus() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: `sysconf` has no preconditions; it returns -1 on error.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
        if let Ok(n) = usize::try_from(n) {
            if n > 0 {
                return n;
            }
        }
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The time-stamp counter (x86-64), or `None` on other architectures.
#[inline(always)]
pub(crate) fn tsc() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` is available on every x86-64 CPU and has no
        // memory effects.
        Some(unsafe { core::arch::x86_64::_rdtsc() })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds.
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and CLOCK_MONOTONIC is
        // always supported; the call cannot fail with these arguments.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64)
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static BASE: OnceLock<Instant> = OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// The address range `[low, high)` of the calling thread's stack, if the
/// platform tells.
pub(crate) fn stack_bounds() -> Option<(usize, usize)> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `pthread_attr_t` is plain data that
        // `pthread_getattr_np` initializes; it is destroyed exactly once
        // after a successful init, and the out-pointers are valid locals.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return None;
            }
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
            if rc != 0 || addr.is_null() {
                return None;
            }
            let low = addr as usize;
            Some((low, low.checked_add(size)?))
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Walks the frame-pointer chain of the calling thread, writing return
/// addresses (innermost first) into `out`; returns how many it wrote.
///
/// `high` is the top of the thread's stack (from [`stack_bounds`]). Only
/// addresses between the current stack pointer and `high` are read, and every
/// frame must be above the previous one, so a binary built without frame
/// pointers yields a short or empty walk, never a fault.
#[inline(never)]
pub(crate) fn walk_frame_pointers(high: usize, out: &mut [u64]) -> usize {
    walk(frame_pointer(), high, out)
}

/// The walk itself, from frame pointer `fp`: reads only between this
/// function's own frame and `high`.
#[inline(never)]
fn walk(mut fp: usize, high: usize, out: &mut [u64]) -> usize {
    let marker = 0u8;
    // Everything between this local and the top of the stack is mapped.
    let low = std::ptr::addr_of!(marker) as usize;
    let mut n = 0;
    while n < out.len() {
        if fp < low || !fp.is_multiple_of(std::mem::align_of::<usize>()) {
            break;
        }
        match fp.checked_add(2 * std::mem::size_of::<usize>()) {
            Some(end) if end <= high => {}
            _ => break,
        }
        // SAFETY: `fp` is aligned and `[fp, fp + 16)` lies between the
        // current stack pointer and the top of this thread's stack, which is
        // mapped, readable memory owned by this thread, and no other thread
        // writes to it. The values read may be garbage (if the code has no
        // frame pointers) but reading them is defined: they are plain
        // integers, checked before any further use.
        let (next, ret) = unsafe {
            let p = fp as *const usize;
            (
                std::ptr::read_volatile(p),
                std::ptr::read_volatile(p.add(1)),
            )
        };
        if ret == 0 {
            break;
        }
        out[n] = ret as u64;
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

/// The caller's frame pointer register (0 where unsupported).
#[inline(always)]
fn frame_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let fp: usize;
        // SAFETY: reads a register; no memory access, no side effects.
        unsafe {
            core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
        }
        fp
    }
    #[cfg(target_arch = "aarch64")]
    {
        let fp: usize;
        // SAFETY: reads a register; no memory access, no side effects.
        unsafe {
            core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
        }
        fp
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

/// The CPU profiler's signal: the handler, the process's CPU-time interval
/// timer, and the registers of the code a signal interrupted.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(crate) mod prof {
    use std::sync::Mutex;

    /// What a sample handler receives: the interrupted code's program
    /// counter and frame pointer (0 if unknown).
    pub(crate) type Handler = fn(pc: usize, fp: usize);

    static HANDLER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// The `SIGPROF` action in place before ours, restored by [`stop`].
    static PREVIOUS: Mutex<Option<libc::sigaction>> = Mutex::new(None);

    extern "C" fn on_signal(
        _sig: libc::c_int,
        _info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        // SAFETY: `__errno_location` returns this thread's errno slot, valid
        // for the thread's lifetime.
        let errno = unsafe { *libc::__errno_location() };
        let (pc, fp) = registers(ctx);
        let h = HANDLER.load(std::sync::atomic::Ordering::Acquire);
        if h != 0 {
            // SAFETY: `HANDLER` only ever holds 0 or a `Handler` stored by
            // `start` (a `fn` pointer cast to `usize`, cast back unchanged).
            let handler: Handler = unsafe { std::mem::transmute::<usize, Handler>(h) };
            handler(pc, fp);
        }
        // The interrupted code must not see the handler's errno.
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = errno };
    }

    /// The program counter and frame pointer saved in a signal's context.
    fn registers(ctx: *mut libc::c_void) -> (usize, usize) {
        if ctx.is_null() {
            return (0, 0);
        }
        // SAFETY: for a handler installed with `SA_SIGINFO`, the kernel
        // passes a valid `ucontext_t` as the third argument, live for the
        // handler's duration; we only read two saved registers from it.
        unsafe {
            let uc = &*(ctx as *const libc::ucontext_t);
            #[cfg(target_arch = "x86_64")]
            {
                let g = &uc.uc_mcontext.gregs;
                (
                    g[libc::REG_RIP as usize] as usize,
                    g[libc::REG_RBP as usize] as usize,
                )
            }
            #[cfg(target_arch = "aarch64")]
            {
                let m = &uc.uc_mcontext;
                (m.pc as usize, m.regs[29] as usize)
            }
        }
    }

    /// Installs the `SIGPROF` handler calling `handler` and starts the
    /// process's CPU-time timer at `hz` signals per CPU second.
    pub(crate) fn start(handler: Handler, hz: u32) -> std::io::Result<()> {
        HANDLER.store(handler as usize, std::sync::atomic::Ordering::Release);
        let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        if previous.is_none() {
            // SAFETY: `sigaction` is plain data, zero is a valid value, and
            // the fields set make a valid `SA_SIGINFO` action whose handler
            // has the signature the kernel expects for it.
            let old = unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as *const () as usize;
                act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGPROF, &act, &mut old) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                old
            };
            *previous = Some(old);
        }
        set_timer(1_000_000 / u64::from(hz.clamp(1, 1_000_000)))
    }

    /// Stops the timer and puts back the previous `SIGPROF` action.
    pub(crate) fn stop() -> std::io::Result<()> {
        set_timer(0)?;
        HANDLER.store(0, std::sync::atomic::Ordering::Release);
        let mut previous = PREVIOUS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = previous.take() {
            // SAFETY: `old` is the action `sigaction` returned in `start`.
            if unsafe { libc::sigaction(libc::SIGPROF, &old, std::ptr::null_mut()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    fn set_timer(micros: u64) -> std::io::Result<()> {
        let tv = libc::timeval {
            tv_sec: (micros / 1_000_000) as libc::time_t,
            tv_usec: (micros % 1_000_000) as libc::suseconds_t,
        };
        let timer = libc::itimerval {
            it_interval: tv,
            it_value: tv,
        };
        // SAFETY: `timer` is a valid `itimerval`; the old value is not asked
        // for.
        if unsafe { libc::setitimer(libc::ITIMER_PROF, &timer, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// The calling thread's kernel thread id (async-signal-safe).
    pub(crate) fn gettid() -> u64 {
        // SAFETY: `gettid` has no preconditions and cannot fail.
        unsafe { libc::gettid() as u64 }
    }
}

/// Walks the frame-pointer chain from frame pointer `fp` (of code that a
/// signal interrupted on this thread), as [`walk_frame_pointers`] does:
/// only addresses between the current stack pointer and `high` are read,
/// and nothing at all unless the current stack pointer lies within the
/// thread's stack `(low, high)` (a handler running on another stack, such
/// as a `sigaltstack`, walks nothing). Async-signal-safe.
#[inline(never)]
pub(crate) fn walk_frame_pointers_from(
    fp: usize,
    (stack_low, high): (usize, usize),
    out: &mut [u64],
) -> usize {
    let marker = 0u8;
    let here = std::ptr::addr_of!(marker) as usize;
    // The walk reads between its own frame and `high`, all mapped only if
    // it runs on the thread's stack: the interrupted frames then lie above
    // the handler's.
    if here < stack_low || here >= high {
        return 0;
    }
    walk(fp, high, out)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spin_lock_excludes() {
        let lock = SpinLock::new(5);
        let mut g = lock.try_lock().unwrap();
        assert!(lock.try_lock().is_none());
        g.with(|v| *v += 1);
        drop(g);
        assert_eq!(lock.lock().with(|v| *v), 6);
    }

    #[test]
    fn stack_walk_stays_in_bounds() {
        let (_, high) = stack_bounds().unwrap();
        let mut out = [0u64; 64];
        let n = walk_frame_pointers(high, &mut out);
        assert!(n <= 64);
        // Garbage-in is allowed, out-of-bounds reads are not: reaching here
        // without a fault is the test. A bogus top bound must stop the walk.
        assert_eq!(walk_frame_pointers(0, &mut out), 0);
    }

    #[test]
    fn clocks_advance() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a);
        if let (Some(a), Some(b)) = (tsc(), tsc()) {
            assert!(b >= a);
        }
    }
}
