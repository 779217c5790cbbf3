//! Helpers for the flight recorder's integration tests: reading snapshots
//! back with our reader, a lock that serializes tests (the trace runtime is
//! process-wide), and the hook that saves traces for `cargo xtask oracle`.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::MutexGuard;

use trace_reader::{EventKind, Reader, Validator};
use trace_runtime::{Config, Format};
#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub(crate) use trace_testkit::Capture;

/// The format the tests record in (`trace_testkit::format_minor`).
pub(crate) fn format() -> Format {
    match trace_testkit::format_minor() {
        23 => Format::Go123,
        _ => Format::Go126,
    }
}

/// Both formats, the tests' own first.
pub(crate) fn both_formats() -> [Format; 2] {
    match format() {
        Format::Go123 => [Format::Go123, Format::Go126],
        _ => [Format::Go126, Format::Go123],
    }
}

/// Makes the runtime record in the tests' format (with default settings
/// otherwise); call while tracing is off.
pub(crate) fn use_format(format: Format) {
    trace_runtime::configure(Config::default().format(format)).expect("tracing is off");
}

/// One recording at a time (`trace_testkit::serial`), in the tests'
/// format.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    let guard = trace_testkit::serial();
    use_format(format());
    guard
}

/// What a trace holds, as read back.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The format version of the header.
    pub(crate) version: Option<trace_wire::Version>,
    pub(crate) n_events: u64,
    pub(crate) n_syncs: u64,
    /// Event indexes of the Sync events.
    pub(crate) syncs: Vec<u64>,
    /// The generation numbers of the trace's batches, each once, in order.
    pub(crate) generations: Vec<u64>,
    /// (category, message) of every log.
    pub(crate) logs: Vec<(String, String)>,
}

/// Reads `trace` to the end with our reader (which rejects what Go's
/// rejects), runs every event through our validator (after Go's test
/// validator), and checks the batches' generations are consecutive; panics
/// with the first problem.
pub(crate) fn read_back(trace: &[u8]) -> Summary {
    let mut res = Summary::default();
    let mut batches = trace_wire::Batches::new(trace).expect("a trace header");
    res.version = Some(batches.version());
    while let Some(b) = batches.next_batch().expect("well-framed batches") {
        let gen = b.header.gen;
        match res.generations.last() {
            Some(&last) if last == gen => {}
            Some(&last) => assert_eq!(gen, last + 1, "generations are consecutive"),
            None => {}
        }
        if res.generations.last() != Some(&gen) {
            res.generations.push(gen);
        }
    }
    let reader = Reader::new(trace).expect("a trace header");
    let mut validator = Validator::new(reader.version());
    for event in reader {
        let event = match event {
            Ok(e) => e,
            Err(e) => panic!("invalid trace after {} events: {e}", res.n_events),
        };
        let violations = validator.event(&event);
        assert!(violations.is_empty(), "invalid trace: {}", violations[0]);
        if event.kind() == EventKind::Sync {
            res.n_syncs += 1;
            res.syncs.push(res.n_events);
        }
        if let Some(log) = event.log() {
            res.logs.push((
                log.category.to_string_lossy().into_owned(),
                log.message.to_string_lossy().into_owned(),
            ));
        }
        res.n_events += 1;
    }
    res
}

/// Saves `trace` as `$TRACE_ORACLE_DIR/flight_<name>.trace` when that
/// variable is set (`cargo xtask oracle` then runs `go tool trace` on it).
pub(crate) fn save(name: &str, trace: &[u8]) {
    trace_testkit::save(&format!("flight_{name}"), trace);
}
