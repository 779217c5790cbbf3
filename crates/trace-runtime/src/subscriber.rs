//! Subscribers: the consumers of finished generations (the streaming writer,
//! flight recorders), and the multiplexer that delivers to them.
//!
//! Subscribers join and leave only at generation boundaries, so each one sees
//! whole generations, consecutively numbered: exactly what a valid trace is
//! made of once a file header is put in front. The set of subscribers is an
//! `ArcSwap` (a `Mutex<Arc<_>>` under loom): it changes a few times per
//! process and is read on every delivery.

use std::fmt;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::format::Format;
use crate::sync::{Arc, ArcCell};

/// A generation number: the unit in which traces are delivered. Every
/// generation is self-contained (its own frequency, clock snapshot in the
/// Go 1.26 format, string and stack tables, and statuses), and a trace is a
/// file header followed by consecutive generations of one
/// [`Format`](crate::Format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(NonZeroU64);

impl Generation {
    /// The generation numbered `n`, if `n` is not 0.
    ///
    /// ```
    /// use trace_runtime::Generation;
    /// assert_eq!(Generation::new(3).map(Generation::get), Some(3));
    /// assert!(Generation::new(0).is_none());
    /// ```
    pub fn new(n: u64) -> Option<Self> {
        NonZeroU64::new(n).map(Self)
    }

    /// The number, as written in batch headers.
    pub fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A consumer of recorded generations, registered with [`subscribe`].
///
/// The recorder calls a subscriber from its background flusher thread, one
/// call at a time, in this order: [`on_join`] once, with the first
/// generation it receives and the session's [`Format`]; then for each
/// generation `g` from that one on, [`on_batches`] zero or more times with
/// the bytes of `g` in order (whole batches, each with its header; in the
/// Go 1.26 format the last delivery of `g` ends with the end-of-generation
/// event), then [`on_generation_end`] once `g` is complete; finally
/// [`on_close`] when the subscription ends. Generations are consecutive,
/// and all in the format given to [`on_join`] (it is fixed while tracing is
/// on, see [`Config::format`](crate::Config::format)). Writing the bytes of
/// every generation after that format's [`header`](Format::header) gives a
/// valid trace; so does any run of consecutive *complete* generations, which
/// is what a flight recorder keeps.
///
/// Implementors must return quickly (copy the bytes, hand them to another
/// thread): every subscriber and the recorder's memory wait on these calls.
/// They must not call [`subscribe`], [`Subscription::unsubscribe`],
/// [`advance`](crate::advance) or [`stop`](crate::stop), which wait for the
/// flusher (they return an error if called from it). A subscriber that
/// panics is removed at the next generation boundary.
///
/// # Example: a flight recorder
///
/// Keep whole recent generations in a ring; to snapshot, force an
/// [`advance`](crate::advance) so that the current generation is complete,
/// then write the header and the retained generations.
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::{Arc, Mutex, OnceLock};
/// use trace_runtime::{Format, Generation, Subscriber};
///
/// #[derive(Default)]
/// struct Ring {
///     format: OnceLock<Format>,
///     open: Mutex<Vec<u8>>,
///     done: Mutex<VecDeque<(Generation, Vec<u8>)>>,
/// }
///
/// impl Subscriber for Ring {
///     fn on_join(&self, _first: Generation, format: Format) {
///         let _ = self.format.set(format);
///     }
///     fn on_batches(&self, _gen: Generation, batches: &[u8]) {
///         self.open.lock().unwrap().extend_from_slice(batches);
///     }
///     fn on_generation_end(&self, gen: Generation) {
///         let bytes = std::mem::take(&mut *self.open.lock().unwrap());
///         let mut done = self.done.lock().unwrap();
///         done.push_back((gen, bytes));
///         while done.len() > 10 {
///             done.pop_front();
///         }
///     }
/// }
///
/// let ring = Arc::new(Ring::default());
/// let sub = trace_runtime::subscribe(ring.clone())?;
/// trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "recorder", "hello");
/// trace_runtime::advance()?;
/// let mut snapshot = ring.format.get().unwrap().header().to_vec();
/// for (_, bytes) in ring.done.lock().unwrap().iter() {
///     snapshot.extend_from_slice(bytes);
/// }
/// assert!(snapshot.starts_with(b"go 1.26 trace"));
/// sub.unsubscribe()?;
/// # Ok::<(), trace_runtime::Error>(())
/// ```
///
/// [`subscribe`]: crate::subscribe
/// [`Subscription::unsubscribe`]: crate::Subscription::unsubscribe
/// [`on_join`]: Subscriber::on_join
/// [`on_batches`]: Subscriber::on_batches
/// [`on_generation_end`]: Subscriber::on_generation_end
/// [`on_close`]: Subscriber::on_close
pub trait Subscriber: Send + Sync + 'static {
    /// The subscriber receives generations from `first` on, all in
    /// `format`: called once, before any other call. A subscriber that
    /// writes a trace starts it with `format.header()`. The default does
    /// nothing.
    fn on_join(&self, first: Generation, format: Format) {
        let _ = (first, format);
    }

    /// Finished batches of generation `gen`, in order.
    fn on_batches(&self, gen: Generation, batches: &[u8]);

    /// All batches of `gen` have been delivered.
    fn on_generation_end(&self, gen: Generation);

    /// The subscription ended (after its last [`on_generation_end`]); no
    /// further calls follow. The default does nothing.
    ///
    /// [`on_generation_end`]: Subscriber::on_generation_end
    fn on_close(&self) {}
}

/// One registered subscriber.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) sub: std::sync::Arc<dyn Subscriber>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("id", &self.id).finish()
    }
}

/// The subscribers of the current generation.
#[derive(Debug, Default)]
pub(crate) struct SubscriberSet {
    pub(crate) entries: Vec<Entry>,
}

/// Delivers to the current set of subscribers; the set changes only at
/// generation boundaries, by [`Multiplexer::replace`].
#[derive(Debug)]
pub(crate) struct Multiplexer {
    set: ArcCell<SubscriberSet>,
}

impl Default for Multiplexer {
    fn default() -> Self {
        Self {
            set: ArcCell::new(Arc::new(SubscriberSet::default())),
        }
    }
}

impl Multiplexer {
    /// The current set.
    pub(crate) fn current(&self) -> Arc<SubscriberSet> {
        self.set.load()
    }

    /// Installs the set of the next generation.
    pub(crate) fn replace(&self, set: SubscriberSet) {
        self.set.store(Arc::new(set));
    }
}

/// Calls `f` on every entry of `set`, catching panics; returns the ids of
/// the subscribers that panicked.
pub(crate) fn deliver(set: &SubscriberSet, mut f: impl FnMut(&dyn Subscriber)) -> Vec<u64> {
    let mut failed = Vec::new();
    for e in &set.entries {
        if catch_unwind(AssertUnwindSafe(|| f(&*e.sub))).is_err() {
            failed.push(e.id);
        }
    }
    failed
}
