//! Helpers shared by the integration tests: one recording at a time, an
//! in-memory writer, and recording a closure into a validated trace.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::MutexGuard;

use trace_runtime::{Config, Format};
#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub(crate) use trace_testkit::{save, Capture};

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

/// Makes the runtime record in `format` (with default settings
/// otherwise); call while tracing is off.
pub(crate) fn use_format(format: Format) {
    trace_runtime::configure(Config::default().format(format)).expect("tracing is off");
}

/// One recording at a time (`trace_testkit::serial`), in the tests'
/// format with default settings.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    let guard = trace_testkit::serial();
    use_format(format());
    guard
}

/// Streams while `f` runs and returns the trace's bytes, saved as
/// `<name>.trace` in `TRACE_ORACLE_DIR` if set (`cargo xtask oracle` has Go
/// read them).
pub(crate) fn record_bytes(name: &str, f: impl FnOnce()) -> Vec<u8> {
    let out = Capture::default();
    trace_runtime::start(out.clone()).unwrap();
    f();
    trace_runtime::stop().unwrap();
    let trace = out.bytes();
    save(name, &trace);
    let format = trace_runtime::config().get_format();
    assert!(trace.starts_with(&format.header()), "a {format} trace");
    trace
}

/// Streams while `f` runs, validates the trace (failing on any problem)
/// and returns its event lines (`go tool trace -d=1`'s text).
pub(crate) fn record(name: &str, f: impl FnOnce()) -> Vec<String> {
    lines(&record_bytes(name, f))
}

/// Validates `trace` (failing on any problem) and returns its event lines.
pub(crate) fn lines(trace: &[u8]) -> Vec<String> {
    let report = trace_reader::validate(trace);
    assert!(report.is_valid(), "{report}");
    trace_reader::Reader::new(trace)
        .unwrap()
        .map(|e| match e {
            Ok(e) => e.to_string(),
            Err(e) => panic!("trace-reader: {e}"),
        })
        .collect()
}
