//! Helpers shared by the integration tests: one recording at a time, an
//! in-memory writer, and recording a closure into a validated trace.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// Serializes the tests of one binary: tracing is process-wide.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A writer into shared memory.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Streams while `f` runs and returns the trace's bytes, saved as
/// `<name>.trace` in `TRACE_ORACLE_DIR` if set (`cargo xtask oracle` has Go
/// read them).
pub(crate) fn record_bytes(name: &str, f: impl FnOnce()) -> Vec<u8> {
    let out = Capture::default();
    trace_runtime::start(out.clone()).unwrap();
    f();
    trace_runtime::stop().unwrap();
    let trace = out.0.lock().unwrap().clone();
    save(name, &trace);
    trace
}

/// Saves `trace` as `<name>.trace` in `TRACE_ORACLE_DIR` if set.
pub(crate) fn save(name: &str, trace: &[u8]) {
    if let Some(dir) = std::env::var_os("TRACE_ORACLE_DIR") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.trace")),
            trace,
        )
        .unwrap();
    }
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
