//! An always-on flight recorder of Go-format execution traces: keep the
//! last few seconds (or megabytes) of a program's trace in memory, and write
//! them as a valid trace that `go tool trace` opens, when something
//! interesting happens: a slow request, a panic, a signal, an operator's
//! request.
//!
//! The API follows Go 1.25's `runtime/trace.FlightRecorder`:
//! [`FlightRecorder::new`] with a [`FlightRecorderConfig`] (`min_age`,
//! `max_bytes`; defaults 10 s and 10 MiB), [`start`](FlightRecorder::start),
//! [`stop`](FlightRecorder::stop), [`enabled`](FlightRecorder::enabled) and
//! [`write_to`](FlightRecorder::write_to), which completes the current
//! generation and writes the file header and the retained generations.
//! Recording goes through `trace-runtime` (usually through
//! `trace-annotate`'s tasks, regions and logs).
//!
//! # Example
//!
//! ```
//! use trace_flight::{FlightRecorder, FlightRecorderConfig};
//! use trace_runtime::{log, TaskId};
//!
//! let recorder = FlightRecorder::new(FlightRecorderConfig::default());
//! recorder.start()?;
//! log(TaskId::BACKGROUND, "request", "took 2 s");
//! let mut trace = Vec::new();
//! recorder.write_to(&mut trace)?; // a whole trace: `go tool trace` opens it
//! recorder.stop()?;
//! assert!(trace.starts_with(b"go 1.26 trace"));
//! # Ok::<(), trace_flight::Error>(())
//! ```
//!
//! # Beyond Go's recorder
//!
//! - **`max_bytes` is a hard bound** on the trace bytes a recorder holds
//!   (complete generations and the one being recorded), from 64 KiB up.
//!   The recorder asks the runtime to advance early, when the current
//!   generation reaches a quarter of the bound, and evicts the oldest
//!   generations as new bytes arrive. A generation that alone outgrows the
//!   bound is dropped whole rather than kept ([`Stats::generations_dropped`]).
//!   That is rare: it takes busy threads outnumbering the CPUs enough to
//!   delay the runtime's advance, and writers then yield their CPU to it
//!   once per batch (only while the generation is past the advance target). A snapshot whose own
//!   generation was dropped holds the older generations still retained, or
//!   advances again if there are none; it is never an empty trace
//!   ([`Error::NothingRetained`] if four tries fail). Below 64 KiB (less than one
//!   batch) the newest complete generation is kept whole, as Go does.
//!   [`FlightRecorder::stats`] reports the peak.
//! - **`min_age` finer than a second**: the runtime's generations shorten
//!   to a quarter of `min_age` (at least 10 ms) while the recorder runs.
//! - **Several recorders at once**, each with its own window, alongside
//!   streaming (`trace_runtime::start`).
//! - **Snapshots never block recording threads**: those never touch a
//!   recorder (the runtime's flusher thread delivers to it), and a snapshot
//!   shares the immutable generations (see [`Snapshot`]) and writes them
//!   without holding any lock. Its only effect on recording is the
//!   generation advance it asks for, the same the runtime makes every
//!   period.
//! - **Trigger windows, keep-the-slowest and a dump directory**: see
//!   below.
//! - **Dumps on a panic** ([`install_panic_hook`]) and on a Unix signal
//!   ([`dump_on_signal`]), and an **admin HTTP endpoint** (`AdminServer`,
//!   feature `http`): loopback by default, bearer token, rate-limited.
//!
//! # Triggers, windows and the slowest
//!
//! [`FlightRecorder::dump_window`] takes a window around now, *including
//! what happens after*: the generations that ended less than `lookback`
//! ago and everything recorded in the next `lookforward`. Its generations
//! are pinned as they arrive, so eviction cannot take them, and it is one
//! valid trace in the session's format.
//!
//! A recorder made with [`FlightRecorder::with_triggers`] and a
//! [`TriggerConfig`] also
//!
//! - evaluates [`Rule`]s: a task type or region slower than a duration, a
//!   log of a category; [`FlightRecorder::trigger`] (an explicit call),
//!   [`trigger_on_panic`] and [`trigger_on_signal`] fire the same way. Each
//!   opens a window written to the dump directory by a background thread;
//!   triggers while it is open join it, and a cooldown follows it;
//! - keeps the `n` slowest tasks or regions of each type named by
//!   [`KeepSlowest`], each with the generations it spans, and writes them
//!   when the recorder stops, so the one bad request of the hour survives
//!   however much was recorded after it;
//! - keeps its dump directory within a count and a byte cap (the oldest
//!   window dumps go first) and describes it in `manifest.json` (id, file,
//!   reasons, time range, generations, task ids, bytes).
//!
//! Rules cost the recording threads nothing: they write the same bytes as
//! without triggers, and the runtime's flusher thread reads the task,
//! region and log events back as it hands the bytes to the recorder, so a
//! rule fires when the generation that holds the event ends (within a
//! quarter of `min_age`). `max_bytes` stays a hard bound: pinned
//! generations take at most `retain_bytes` of it (half by default) and the
//! ring the rest (see [`TriggerConfig`]).
//!
//! ```
//! use std::time::Duration;
//! use trace_flight::{FlightRecorder, FlightRecorderConfig, KeepSlowest, Rule, TriggerConfig};
//!
//! let dir = std::env::temp_dir().join(format!("trace-flight-crate-doc-{}", std::process::id()));
//! let mut triggers = TriggerConfig::new(&dir);
//! triggers.rules.push(Rule::slow_task("request", Duration::from_millis(5)));
//! triggers.keep_slowest.push(KeepSlowest::tasks("request", 3));
//! triggers.lookforward = Duration::ZERO;
//! let recorder = FlightRecorder::with_triggers(FlightRecorderConfig::default(), triggers);
//! recorder.start()?;
//! let id = trace_runtime::new_task_id();
//! trace_runtime::task_begin(id, trace_runtime::TaskId::BACKGROUND, "request");
//! std::thread::sleep(Duration::from_millis(10));
//! trace_runtime::task_end(id);
//! trace_runtime::advance()?;
//! recorder.flush_triggers(Duration::from_secs(10));
//! recorder.stop()?; // writes the kept slowest too (if not already, see `kept_sync`)
//! let stats = recorder.trigger_stats();
//! assert_eq!((stats.windows, stats.dumps_written), (1, 2));
//! let manifest = std::fs::read_to_string(dir.join("manifest.json"))?;
//! assert!(manifest.contains(&format!("\"task_ids\": [{}]", id.get())));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Formats
//!
//! A snapshot is in the format of the tracing session it was recorded in
//! (`trace_runtime::Config::format`, fixed from the moment tracing turns on
//! until it turns off, so a recorder's generations all share it):
//! by default Go 1.26's (`go 1.26 trace`, what Go 1.26 and 1.27 write, with
//! a clock snapshot per generation), or Go 1.23's for older tools.
//! [`Snapshot::format`] says which.
//!
//! # Reading a snapshot's Sync events
//!
//! Today's readers (Go 1.25+, and ours) emit a `Sync` event before each
//! generation and one at the end, so a snapshot of one generation reads as
//! two Syncs around its events, which is what Go's own flight-recorder
//! tests count; in the Go 1.26 format each but the last carries the clock
//! snapshot of the generation it opens. (Go 1.23's reader emits one `Sync`
//! at the end of each generation of a Go 1.23-format snapshot.)
//!
//! # Features
//!
//! - `http`: `AdminServer` and `AdminConfig`, an admin endpoint that serves
//!   snapshots (no dependency added).
//!
//! MSRV: the workspace's `rust-version`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod blocks;
mod dump;
mod dumper;
mod error;
#[cfg(feature = "http")]
mod http;
mod recorder;
mod retain;
mod ring;
mod scan;
mod snapshot;
mod triggers;

#[cfg(unix)]
pub use dump::{dump_on_signal, trigger_on_signal, SignalDump};
pub use dump::{install_panic_hook, trigger_on_panic, DumpTarget, PANIC_DUMP_TIMEOUT};
pub use error::Error;
#[cfg(feature = "http")]
pub use http::{AdminConfig, AdminServer, MAX_REQUEST_HEAD};
pub use recorder::{FlightRecorder, FlightRecorderConfig, Stats};
pub use snapshot::Snapshot;
pub use triggers::{KeepSlowest, Rule, TriggerConfig, TriggerStats};
