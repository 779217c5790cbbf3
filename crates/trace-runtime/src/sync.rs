//! The synchronization primitives the recorder uses, from `std` normally and
//! from `loom` under `cfg(loom)`, so that the concurrent parts can be model
//! checked (see `tests/loom.rs`).
//!
//! `arc-swap` is opaque to loom, so [`ArcCell`] is an `ArcSwap` in real builds
//! and a `Mutex<Arc<_>>` under loom; both offer the same small API.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `std`'s `UnsafeCell` with loom's closure-based access API.
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a mutable raw pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section in this crate
/// leaves its data consistent, and a panic elsewhere must not stop recording.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }
    #[cfg(loom)]
    {
        mutex.lock().unwrap()
    }
}

/// Locks a `std` mutex (for state that is never model checked), ignoring
/// poisoning for the same reason as [`lock`].
pub(crate) fn lock_std<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Backs off in a spin loop: a few pause instructions, then short sleeps, so
/// that a preempted lock holder gets the CPU.
///
/// Sleeping rather than yielding: under Linux's EEVDF scheduler a yield
/// rarely hands the CPU to a thread that has been running, so with more busy
/// threads than CPUs a yielding waiter could spin for tens of milliseconds
/// behind a preempted holder. With 8 annotating threads on 2 CPUs, the
/// flusher's drain of the slots took 31 ms at the median and 404 ms at the
/// 99th percentile; with this and `SpinLock::lock_urgent`, 0.16 ms and 38 ms.
#[inline]
pub(crate) fn spin_wait(round: &mut u32) {
    #[cfg(not(loom))]
    {
        if *round < 6 {
            for _ in 0..(1u32 << *round) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        *round = round.saturating_add(1);
    }
    #[cfg(loom)]
    {
        *round = round.saturating_add(1);
        loom::thread::yield_now();
    }
}

/// An atomically replaceable `Arc<T>`: read-mostly, lock-free reads.
#[cfg(not(loom))]
pub(crate) struct ArcCell<T>(arc_swap::ArcSwap<T>);

#[cfg(loom)]
pub(crate) struct ArcCell<T>(Mutex<Arc<T>>);

impl<T> ArcCell<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        #[cfg(not(loom))]
        {
            Self(arc_swap::ArcSwap::new(value))
        }
        #[cfg(loom)]
        {
            Self(Mutex::new(value))
        }
    }

    /// The current value.
    pub(crate) fn load(&self) -> Arc<T> {
        #[cfg(not(loom))]
        {
            self.0.load_full()
        }
        #[cfg(loom)]
        {
            Arc::clone(&lock(&self.0))
        }
    }

    /// Replaces the value.
    pub(crate) fn store(&self, value: Arc<T>) {
        #[cfg(not(loom))]
        {
            self.0.store(value);
        }
        #[cfg(loom)]
        {
            *lock(&self.0) = value;
        }
    }
}

impl<T> std::fmt::Debug for ArcCell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArcCell")
    }
}
