//! The flight recorder: Go 1.25's `runtime/trace.FlightRecorder` API over a
//! ring of recent generations.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use trace_runtime::{GenerationLimits, LimitGuard, Subscription};

use crate::ring::{self, Ring};
use crate::{Error, Snapshot};

/// What a [`FlightRecorder`] keeps, after Go's `FlightRecorderConfig`.
///
/// A zero field means the default, as in Go.
///
/// ```
/// use std::time::Duration;
/// use trace_flight::FlightRecorderConfig;
///
/// let config = FlightRecorderConfig {
///     min_age: Duration::from_millis(500),
///     ..FlightRecorderConfig::default()
/// };
/// assert_eq!(config.max_bytes, 10 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlightRecorderConfig {
    /// How far back the window should reach (default 10 s): the recorder
    /// keeps the newest generations that cover it, and drops older ones.
    /// Generations shorten to a quarter of it (at least 10 ms) when that is
    /// shorter than the runtime's period, so the window can be finer than
    /// Go's one-second granularity. `max_bytes` takes precedence.
    pub min_age: Duration,
    /// The most trace bytes the recorder retains (default 10 MiB). From
    /// 64 KiB up this is a hard bound; below, the newest complete
    /// generation is kept whole however large, as Go does. See the crate
    /// docs.
    pub max_bytes: u64,
}

impl Default for FlightRecorderConfig {
    fn default() -> Self {
        Self {
            min_age: Duration::from_secs(10),
            max_bytes: 10 << 20,
        }
    }
}

impl FlightRecorderConfig {
    /// Zero fields replaced by their defaults.
    fn normalized(self) -> Self {
        let default = Self::default();
        Self {
            min_age: if self.min_age.is_zero() {
                default.min_age
            } else {
                self.min_age
            },
            max_bytes: if self.max_bytes == 0 {
                default.max_bytes
            } else {
                self.max_bytes
            },
        }
    }
}

/// How much a [`FlightRecorder`] holds and has done, from
/// [`FlightRecorder::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Trace bytes held now: the complete generations and the open one.
    pub retained_bytes: u64,
    /// The most bytes ever held at once in this session (checked after
    /// every delivery).
    pub peak_retained_bytes: u64,
    /// Complete generations held.
    pub generations: usize,
    /// How far back the held generations reach.
    pub window: Duration,
    /// Generations received whole in this session.
    pub generations_completed: u64,
    /// Generations evicted for age or size.
    pub generations_evicted: u64,
    /// Generations dropped because they alone outgrew `max_bytes`.
    pub generations_dropped: u64,
    /// Bytes of dropped generations.
    pub bytes_dropped: u64,
    /// The generation size at which the recorder asks the runtime to
    /// advance (0: none).
    pub advance_target_bytes: u64,
    /// Snapshots taken by this recorder, in all sessions.
    pub snapshots: u64,
}

/// A flight recorder: keeps the last few seconds (or megabytes) of trace in
/// memory, and writes them as a valid trace on demand.
///
/// The API is Go 1.25's `runtime/trace.FlightRecorder`: [`new`] with a
/// [`FlightRecorderConfig`], [`start`], [`stop`], [`enabled`],
/// [`write_to`]. Several recorders may run at once, each with its own
/// window, alongside streaming ([`trace_runtime::start`]).
///
/// All methods take `&self`; share a recorder with an `Arc`.
///
/// ```
/// use trace_flight::{FlightRecorder, FlightRecorderConfig};
///
/// let recorder = FlightRecorder::new(FlightRecorderConfig::default());
/// recorder.start()?;
/// trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "request", "slow");
/// let mut trace = Vec::new();
/// let n = recorder.write_to(&mut trace)?;
/// assert_eq!(n, trace.len() as u64);
/// recorder.stop()?;
/// # Ok::<(), trace_flight::Error>(())
/// ```
///
/// [`new`]: FlightRecorder::new
/// [`start`]: FlightRecorder::start
/// [`stop`]: FlightRecorder::stop
/// [`enabled`]: FlightRecorder::enabled
/// [`write_to`]: FlightRecorder::write_to
#[derive(Debug)]
pub struct FlightRecorder {
    config: FlightRecorderConfig,
    session: Mutex<Option<Session>>,
    /// Held by the snapshot in progress; `stop` waits for it.
    writing: Mutex<()>,
    snapshots: AtomicU64,
}

#[derive(Debug)]
struct Session {
    ring: Arc<Ring>,
    subscription: Subscription,
    _period: LimitGuard,
}

impl Default for FlightRecorder {
    fn default() -> Self {
        Self::new(FlightRecorderConfig::default())
    }
}

impl FlightRecorder {
    /// A stopped recorder with the given window.
    pub fn new(config: FlightRecorderConfig) -> Self {
        Self {
            config: config.normalized(),
            session: Mutex::new(None),
            writing: Mutex::new(()),
            snapshots: AtomicU64::new(0),
        }
    }

    /// The configuration, with defaults filled in.
    pub fn config(&self) -> FlightRecorderConfig {
        self.config
    }

    fn session(&self) -> MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording: tracing turns on if it was off, and the recorder
    /// keeps every generation from the next one on.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyStarted`] if it is started; [`Error::Runtime`] if the
    /// runtime cannot subscribe it (from a subscriber callback, or if its
    /// thread cannot start).
    pub fn start(&self) -> Result<(), Error> {
        let mut session = self.session();
        if session.is_some() {
            return Err(Error::AlreadyStarted);
        }
        let ring = Arc::new(Ring::new(self.config.max_bytes, self.config.min_age));
        ring.register_limit();
        let period = trace_runtime::limit_generations(
            GenerationLimits::default().max_period(ring::period_for(self.config.min_age)),
        );
        let subscription = match trace_runtime::subscribe(ring.clone()) {
            Ok(s) => s,
            Err(e) => {
                ring.release_limit();
                return Err(e.into());
            }
        };
        *session = Some(Session {
            ring,
            subscription,
            _period: period,
        });
        Ok(())
    }

    /// Stops recording and drops the retained generations, after waiting
    /// for a snapshot in progress. Stopping a stopped recorder does
    /// nothing. Tracing turns off if nothing else records.
    ///
    /// Called from a subscriber callback (where waiting would deadlock),
    /// the recorder detaches at the next generation boundary instead.
    ///
    /// # Errors
    ///
    /// [`Error::Runtime`] if the runtime fails to complete the generation.
    pub fn stop(&self) -> Result<(), Error> {
        let session = {
            let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
            self.session().take()
        };
        let Some(Session {
            ring,
            subscription,
            _period,
        }) = session
        else {
            return Ok(());
        };
        // Dropping the subscription asks to leave at the next boundary;
        // the advance makes that boundary now and waits for it.
        drop(subscription);
        let res = trace_runtime::advance();
        ring.release_limit();
        match res {
            Ok(_) | Err(trace_runtime::Error::WouldDeadlock) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the recorder is started.
    pub fn enabled(&self) -> bool {
        self.session().is_some()
    }

    /// Writes a snapshot to `w`, like Go's `FlightRecorder.WriteTo`: the
    /// current generation is completed first, so the snapshot holds what
    /// was recorded up to the call. Returns the number of bytes written.
    ///
    /// Recording threads never wait for a snapshot. Only one snapshot of a
    /// recorder is taken at a time: a concurrent call returns
    /// [`Error::SnapshotActive`] at once, having written nothing.
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`], [`Error::SnapshotActive`], [`Error::Io`] if
    /// `w` fails (part of the trace may have been written),
    /// [`Error::Runtime`] from a subscriber callback.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> Result<u64, Error> {
        let mut w = w;
        self.write_dyn(&mut w)
    }

    fn write_dyn(&self, w: &mut dyn Write) -> Result<u64, Error> {
        if !self.enabled() {
            return Err(Error::NotStarted);
        }
        let _writing = self.try_writing()?;
        let snapshot = self.capture(true)?;
        Ok(snapshot.write_to(w)?)
    }

    /// Takes a snapshot without writing it: the current generation is
    /// completed and the retained generations are shared with the returned
    /// [`Snapshot`], which can be written or read later while the recorder
    /// goes on.
    ///
    /// # Errors
    ///
    /// As [`write_to`](FlightRecorder::write_to), except for writing.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        if !self.enabled() {
            return Err(Error::NotStarted);
        }
        let _writing = self.try_writing()?;
        self.capture(true)
    }

    /// Statistics of the current session (zeros but `snapshots` if
    /// stopped).
    ///
    /// ```
    /// let recorder = trace_flight::FlightRecorder::default();
    /// assert_eq!(recorder.stats().retained_bytes, 0);
    /// ```
    pub fn stats(&self) -> Stats {
        let ring = self.session().as_ref().map(|s| s.ring.stats());
        let snapshots = self.snapshots.load(Ordering::Relaxed);
        let Some(r) = ring else {
            return Stats {
                snapshots,
                ..Stats::default()
            };
        };
        Stats {
            retained_bytes: r.retained,
            peak_retained_bytes: r.counters.peak_retained,
            generations: r.generations,
            window: r.window,
            generations_completed: r.counters.completed,
            generations_evicted: r.counters.evicted,
            generations_dropped: r.counters.cut,
            bytes_dropped: r.counters.bytes_dropped,
            advance_target_bytes: r.target,
            snapshots,
        }
    }

    fn try_writing(&self) -> Result<MutexGuard<'_, ()>, Error> {
        match self.writing.try_lock() {
            Ok(guard) => Ok(guard),
            Err(TryLockError::Poisoned(e)) => Ok(e.into_inner()),
            Err(TryLockError::WouldBlock) => Err(Error::SnapshotActive),
        }
    }

    /// Completes the current generation (if `advance`) and shares the
    /// retained ones. Call with `writing` held.
    ///
    /// The generation the advance completes can be dropped for outgrowing
    /// `max_bytes` (busy threads outnumbering the CPUs delay the advance).
    /// The snapshot then holds the older generations still retained, or, if
    /// there are none, the recorder advances again (a generation just
    /// started is short) up to [`CAPTURE_ATTEMPTS`] times before giving up
    /// with [`Error::NothingRetained`]: a snapshot is never an empty trace.
    pub(crate) fn capture(&self, advance: bool) -> Result<Snapshot, Error> {
        let ring = self
            .session()
            .as_ref()
            .map(|s| s.ring.clone())
            .ok_or(Error::NotStarted)?;
        for _ in 0..CAPTURE_ATTEMPTS {
            let gens = if advance {
                ring.arm();
                let res = trace_runtime::advance();
                let captured = ring.disarm();
                res?;
                captured.unwrap_or_else(|| ring.complete())
            } else {
                ring.complete()
            };
            if !gens.is_empty() {
                self.snapshots.fetch_add(1, Ordering::Relaxed);
                return Ok(Snapshot::new(gens));
            }
            if !advance {
                break;
            }
        }
        Err(Error::NothingRetained)
    }

    /// For dumps (panic hook, signal): takes `writing` if free, and
    /// snapshots even where the runtime cannot advance.
    pub(crate) fn capture_for_dump(&self, advance: bool) -> Result<Snapshot, Error> {
        let _writing = self.try_writing()?;
        match self.capture(advance) {
            Err(Error::Runtime(_)) => self.capture(false),
            other => other,
        }
    }
}

/// How many advances a snapshot tries before it reports that nothing could
/// be retained.
const CAPTURE_ATTEMPTS: usize = 4;

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
