//! The flight recorder: Go 1.25's `runtime/trace.FlightRecorder` API over a
//! ring of recent generations.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use trace_runtime::{GenerationLimits, LimitGuard, Subscription};

use crate::dumper::Dumper;
use crate::ring::{self, Ring};
use crate::{Error, Snapshot, TriggerConfig, TriggerStats};

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
    triggers: Option<TriggerConfig>,
    /// The trigger statistics of the last session, once it stopped.
    last_trigger_stats: Mutex<TriggerStats>,
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
    dumper: Option<Dumper>,
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
            triggers: None,
            last_trigger_stats: Mutex::new(TriggerStats::default()),
            session: Mutex::new(None),
            writing: Mutex::new(()),
            snapshots: AtomicU64::new(0),
        }
    }

    /// A stopped recorder with the given window that also watches for
    /// `triggers`' rules, keeps the slowest tasks and regions it names, and
    /// writes window dumps to its directory from a background thread (see
    /// [`TriggerConfig`] for how `max_bytes` is shared).
    ///
    /// ```
    /// use std::time::Duration;
    /// use trace_flight::{FlightRecorder, FlightRecorderConfig, Rule, TriggerConfig};
    ///
    /// let dir = std::env::temp_dir().join(format!("trace-flight-doc-{}", std::process::id()));
    /// let mut triggers = TriggerConfig::new(&dir);
    /// triggers.rules.push(Rule::log("error"));
    /// triggers.lookforward = Duration::ZERO;
    /// let recorder = FlightRecorder::with_triggers(FlightRecorderConfig::default(), triggers);
    /// recorder.start()?;
    /// trace_runtime::log(trace_runtime::TaskId::BACKGROUND, "error", "disk full");
    /// trace_runtime::advance()?; // the rule is checked when the generation ends
    /// assert!(recorder.flush_triggers(Duration::from_secs(10)));
    /// recorder.stop()?;
    /// assert_eq!(recorder.trigger_stats().dumps_written, 1);
    /// assert!(dir.join("manifest.json").exists());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_triggers(config: FlightRecorderConfig, triggers: TriggerConfig) -> Self {
        let mut res = Self::new(config);
        res.triggers = Some(triggers);
        res
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
        let ring = Arc::new(Ring::with_triggers(
            self.config.max_bytes,
            self.config.min_age,
            self.triggers.as_ref(),
        ));
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
        let dumper = match &self.triggers {
            Some(t) => match Dumper::spawn(ring.clone(), t) {
                Ok(d) => Some(d),
                Err(e) => {
                    drop(subscription);
                    ring.release_limit();
                    return Err(e.into());
                }
            },
            None => None,
        };
        *session = Some(Session {
            ring,
            subscription,
            _period: period,
            dumper,
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
            dumper,
        }) = session
        else {
            return Ok(());
        };
        // The dumper writes the open windows and the slowest kept first,
        // while the recorder still receives generations.
        if let Some(dumper) = dumper {
            dumper.finish();
        }
        *self
            .last_trigger_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = ring_trigger_stats(&ring);
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

    /// Fires a window dump, as a rule does: the generations from the
    /// triggers' `lookback` before now to `lookforward` after are pinned and
    /// written to the dump directory by the background thread. While a
    /// window is open, further triggers join it (`reason` is listed in the
    /// manifest); during the cooldown after one, they are ignored. Returns
    /// whether the trigger opened or joined a window.
    ///
    /// # Errors
    ///
    /// [`Error::NoTriggers`] for a recorder made without a
    /// [`TriggerConfig`]; [`Error::NotStarted`].
    pub fn trigger(&self, reason: &str) -> Result<bool, Error> {
        if self.triggers.is_none() {
            return Err(Error::NoTriggers);
        }
        let ring = self.ring()?;
        let id = open_window(&ring, None, reason, false);
        ring.wake.notify_all();
        Ok(id.is_some())
    }

    /// Takes a window around now: the complete generations that end less
    /// than `lookback` ago, and everything recorded during the next
    /// `lookforward`, waiting for it (the calling thread sleeps). The
    /// generations are pinned as they arrive, so eviction cannot take them
    /// however busy recording is; pins may take at most half of
    /// `max_bytes` (or the triggers' `retain_bytes`), and a window that
    /// outgrows that ends early. The window is one valid trace in the
    /// session's format.
    ///
    /// `reason` names the window (for triggers, it goes to the manifest).
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`]; [`Error::Runtime`] from a subscriber callback;
    /// [`Error::NothingRetained`] if no generation could be pinned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use trace_flight::FlightRecorder;
    /// use trace_runtime::{log, TaskId};
    ///
    /// let recorder = FlightRecorder::default();
    /// recorder.start()?;
    /// log(TaskId::BACKGROUND, "before", "");
    /// trace_runtime::advance()?;
    /// let window = std::thread::scope(|s| {
    ///     let w = s.spawn(|| recorder.dump_window(Duration::from_secs(5), Duration::from_millis(50), "demo"));
    ///     log(TaskId::BACKGROUND, "after", "");
    ///     w.join().unwrap()
    /// })?;
    /// recorder.stop()?;
    /// assert!(window.generations() >= 1);
    /// # Ok::<(), trace_flight::Error>(())
    /// ```
    pub fn dump_window(
        &self,
        lookback: Duration,
        lookforward: Duration,
        reason: &str,
    ) -> Result<Snapshot, Error> {
        let ring = self.ring()?;
        let id = open_window(&ring, Some((lookback, lookforward)), reason, true);
        let Some(id) = id else {
            return Err(Error::NothingRetained);
        };
        std::thread::sleep(lookforward);
        let mut res = Ok(());
        for _ in 0..CAPTURE_ATTEMPTS {
            if ring.state().retention.is_closed(id) {
                break;
            }
            if let Err(e) = trace_runtime::advance() {
                res = Err(e);
                break;
            }
        }
        let gens = ring.state().retention.finish_window(id);
        res?;
        if gens.is_empty() {
            return Err(Error::NothingRetained);
        }
        self.snapshots.fetch_add(1, Ordering::Relaxed);
        Ok(Snapshot::new(gens))
    }

    /// Ends the open trigger windows now and waits, at most `timeout`, until
    /// every window is written to the dump directory; whether they all
    /// were. Without triggers (or stopped) there is nothing to wait for.
    pub fn flush_triggers(&self, timeout: Duration) -> bool {
        let Ok(ring) = self.ring() else { return true };
        let deadline = Instant::now() + timeout;
        let mut st = ring.state();
        st.retention.end_now(Instant::now());
        ring.wake.notify_all();
        while st.retention.has_windows() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = ring
                .wake
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// What the triggers did in the current session (in the last one, once
    /// stopped).
    pub fn trigger_stats(&self) -> TriggerStats {
        match self.ring() {
            Ok(ring) => ring_trigger_stats(&ring),
            Err(_) => *self
                .last_trigger_stats
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        }
    }

    fn ring(&self) -> Result<Arc<Ring>, Error> {
        self.session()
            .as_ref()
            .map(|s| s.ring.clone())
            .ok_or(Error::NotStarted)
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

fn ring_trigger_stats(ring: &Ring) -> TriggerStats {
    let st = ring.state();
    TriggerStats {
        kept: st.retention.kept(),
        pinned_bytes: st.retention.pinned_bytes(),
        ..st.retention.stats
    }
}

/// How many advances a snapshot tries before it reports that nothing could
/// Opens a trigger window on `ring` now, with the triggers' look-back and
/// look-forward unless `span` gives them; `blocking` for a caller that
/// waits for it. `None` if it could not open.
fn open_window(
    ring: &Ring,
    span: Option<(Duration, Duration)>,
    reason: &str,
    blocking: bool,
) -> Option<u64> {
    let mut st = ring.state();
    let st = &mut *st;
    let done = st.done().clone();
    st.retention.open_window(
        &done,
        Instant::now(),
        span.map(|s| s.0),
        span.map(|s| s.1),
        reason.to_owned(),
        None,
        blocking,
    )
}

/// be retained.
const CAPTURE_ATTEMPTS: usize = 4;

impl Drop for FlightRecorder {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
