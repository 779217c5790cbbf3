//! Recorder settings.

use std::time::Duration;

use crate::clock::ClockSource;
use crate::format::Format;
use crate::stack::StackMode;

/// Recorder settings, applied with [`configure`](crate::configure).
///
/// ```
/// use std::time::Duration;
/// use trace_runtime::{Config, StackMode};
///
/// let config = Config::default()
///     .generation_period(Duration::from_millis(500))
///     .stacks(StackMode::Off);
/// assert_eq!(config.get_generation_period(), Duration::from_millis(500));
/// assert_eq!(config.get_format(), trace_runtime::Format::Go126);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) generation_period: Duration,
    pub(crate) flush_period: Duration,
    pub(crate) stacks: StackMode,
    pub(crate) clock: ClockSource,
    pub(crate) stream_backlog: usize,
    pub(crate) format: Format,
    pub(crate) cpu_hz: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            generation_period: Duration::from_secs(1),
            flush_period: Duration::from_millis(20),
            stacks: StackMode::Off,
            clock: ClockSource::Auto,
            stream_backlog: 256 << 20,
            format: Format::Go126,
            cpu_hz: 0,
        }
    }
}

impl Config {
    /// How long a generation lasts before the recorder advances to the next
    /// (default 1 s, as Go's `traceadvanceperiod`). Shorter generations
    /// bound a flight recorder's granularity; each costs a few table and
    /// status bytes.
    pub fn generation_period(mut self, period: Duration) -> Self {
        self.generation_period = period.max(Duration::from_micros(100));
        self
    }

    /// How often finished batches are handed to subscribers while a
    /// generation is open (default 20 ms).
    pub fn flush_period(mut self, period: Duration) -> Self {
        self.flush_period = period.max(Duration::from_micros(100));
        self
    }

    /// Whether and how annotation events capture stacks (default off).
    pub fn stacks(mut self, mode: StackMode) -> Self {
        self.stacks = mode;
        self
    }

    /// The clock (default: the TSC where invariant). Only takes effect before
    /// tracing first starts in the process.
    pub fn clock(mut self, clock: ClockSource) -> Self {
        self.clock = clock;
        self
    }

    /// How many bytes a stream's writer may fall behind before the stream is
    /// ended with [`Error::WriterTooSlow`](crate::Error::WriterTooSlow)
    /// (default 256 MiB).
    pub fn stream_backlog(mut self, bytes: usize) -> Self {
        self.stream_backlog = bytes;
        self
    }

    /// The trace format (default [`Format::Go126`]). It is fixed for a
    /// tracing session, from the moment tracing turns on (the first
    /// subscriber joins) until it turns off (the last one leaves), so that
    /// every subscriber of the session (streams, flight recorders) receives
    /// generations of one format: configured while tracing is on, a
    /// different format applies from the next session
    /// ([`configure`](crate::configure) says so with
    /// [`Error::FormatFixed`](crate::Error::FormatFixed)).
    ///
    /// ```
    /// use trace_runtime::{Config, Format};
    ///
    /// // For tools that read only Go 1.23 traces:
    /// let config = Config::default().format(Format::Go123);
    /// assert_eq!(config.get_format(), Format::Go123);
    /// ```
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Records CPU profile samples at `hz` per CPU second while tracing is
    /// on (0, the default, turns them off; 100 is Go's rate): `CPUSample`
    /// events with the interrupted thread's M, P, goroutine and stack, which
    /// `go tool trace` and `trace-tool pprof --kind cpu` read. Linux
    /// (x86-64, AArch64) only; it takes the process's `SIGPROF` and
    /// `ITIMER_PROF` while tracing (putting back the previous handler after).
    /// Stacks beyond the interrupted function need frame pointers
    /// (`-C force-frame-pointers=yes`). As with any `SIGPROF` profiler
    /// (Go's, gperftools), a system call that the kernel does not restart
    /// after a signal can return `EINTR`; the standard library retries
    /// where that matters.
    pub fn cpu_profile(mut self, hz: u32) -> Self {
        self.cpu_hz = hz.min(10_000);
        self
    }

    /// The CPU profile rate (0: off).
    pub fn get_cpu_profile(&self) -> u32 {
        self.cpu_hz
    }

    /// The generation period.
    pub fn get_generation_period(&self) -> Duration {
        self.generation_period
    }

    /// The flush period.
    pub fn get_flush_period(&self) -> Duration {
        self.flush_period
    }

    /// The stack mode.
    pub fn get_stacks(&self) -> StackMode {
        self.stacks
    }

    /// The clock.
    pub fn get_clock(&self) -> ClockSource {
        self.clock
    }

    /// The stream backlog limit.
    pub fn get_stream_backlog(&self) -> usize {
        self.stream_backlog
    }

    /// The trace format.
    pub fn get_format(&self) -> Format {
        self.format
    }
}
