//! The recording guard of `start`/`start_file`: the trace is stopped and
//! flushed when the guard goes out of scope, on a normal return, an early
//! return with `?`, or while a panic unwinds; a guard outlived by its
//! stream leaves later streams alone.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{lines, save, serial, Capture};
use trace_annotate::{log, new_task, Error};
use trace_runtime::{stream_state, StreamState};

/// The path of a trace file for this test process.
fn temp_trace(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "trace-annotate-guard-{}-{name}.trace",
        std::process::id()
    ))
}

/// Checks that `trace` is a complete, valid trace in the tests' format
/// holding the log message `message`; saves it for the oracle.
fn check(name: &str, trace: &[u8], message: &str) {
    save(&format!("guard_{name}"), trace);
    assert!(trace.starts_with(&common::format().header()));
    let lines = lines(trace);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("Message={message:?}"))),
        "{message:?} not in {lines:#?}"
    );
    assert!(!trace_annotate::is_enabled());
    assert_eq!(stream_state(), StreamState::Off);
}

fn fails_after_logging(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let _trace = trace_annotate::start_file(path)?;
    let task = new_task("job");
    task.log("input", "early return");
    let _n: u32 = "not a number".parse()?;
    unreachable!("the parse fails");
}

#[test]
fn an_early_return_stops_and_flushes_the_trace() {
    let _g = serial();
    let path = temp_trace("early");
    assert!(fails_after_logging(&path).is_err());
    let trace = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    check("early_return", &trace, "early return");
}

#[test]
fn a_panic_unwinding_stops_and_flushes_the_trace() {
    let _g = serial();
    let path = temp_trace("panic");
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _trace = trace_annotate::start_file(&path).unwrap();
        log("step", "before the panic");
        panic!("the traced code fails");
    }));
    assert!(result.is_err());
    let trace = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    check("panic", &trace, "before the panic");

    // Also a panic on another thread than the one that started the trace.
    let out = Capture::default();
    let trace = trace_annotate::start(out.clone()).unwrap();
    let worker = std::thread::spawn(move || {
        let _trace = trace;
        log("worker", "before its panic");
        panic!("the worker fails");
    });
    assert!(worker.join().is_err());
    check("panic_thread", &out.bytes(), "before its panic");
}

#[test]
fn stop_reports_errors_and_a_stale_guard_leaves_later_streams_alone() {
    let _g = serial();
    let out = Capture::default();
    let trace = trace_annotate::start(out.clone()).unwrap();
    assert!(matches!(
        trace_annotate::start(std::io::sink()),
        Err(Error::AlreadyStreaming)
    ));
    log("stop", "explicit");
    trace.stop().unwrap();
    check("explicit_stop", &out.bytes(), "explicit");

    // Stopped behind the guard's back, then a new stream: dropping the old
    // guard does not stop the new stream.
    let stale = trace_annotate::start(std::io::sink()).unwrap();
    trace_runtime::stop().unwrap();
    let out = Capture::default();
    let current = trace_annotate::start(out.clone()).unwrap();
    drop(stale);
    assert_eq!(stream_state(), StreamState::Active);
    log("stop", "still streaming");
    current.stop().unwrap();
    check("after_stale_guard", &out.bytes(), "still streaming");

    let stale = trace_annotate::start(std::io::sink()).unwrap();
    trace_runtime::stop().unwrap();
    assert!(matches!(stale.stop(), Err(Error::NotStreaming)));

    let missing = std::env::temp_dir()
        .join(format!("no-such-dir-{}", std::process::id()))
        .join("x.trace");
    match trace_annotate::start_file(&missing) {
        Err(Error::CreateFile { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    assert_eq!(stream_state(), StreamState::Off);
}
