//! Go's flight-recorder tests (`runtime/trace/flightrecorder_test.go`,
//! Go 1.25), ported: the same behaviours through our API.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{both_formats, read_back, save, serial, use_format, Capture, Summary};
use trace_flight::{Error, FlightRecorder, FlightRecorderConfig};
use trace_runtime::{log, TaskId};

/// Starts `fr`, runs `f` with a snapshot callback, stops it, checks the
/// snapshot reads back, and returns it (Go's `testFlightRecorder`).
fn test_flight_recorder(fr: &FlightRecorder, f: impl FnOnce(&dyn Fn())) -> Vec<u8> {
    fr.start().unwrap();
    let buf = Capture::default();
    let snapshot = || {
        let mut w = buf.clone();
        let n = fr.write_to(&mut w).expect("snapshot");
        assert!(n >= 16, "a trace of at least a header, got {n} bytes");
        assert_eq!(
            n,
            buf.bytes().len() as u64,
            "write_to returns what it wrote"
        );
    };
    f(&snapshot);
    fr.stop().unwrap();
    let bytes = buf.bytes();
    let summary = read_back(&bytes);
    assert_eq!(summary.version, Some(common::format().version()));
    bytes
}

#[test]
fn double_start_errors() {
    let _g = serial();
    let fr = FlightRecorder::new(FlightRecorderConfig::default());
    fr.start().unwrap();
    assert!(matches!(fr.start(), Err(Error::AlreadyStarted)));
    fr.stop().unwrap();
}

#[test]
fn enabled_follows_start_and_stop() {
    let _g = serial();
    let fr = FlightRecorder::new(FlightRecorderConfig::default());
    assert!(!fr.enabled(), "enabled, but never started");
    fr.start().unwrap();
    assert!(fr.enabled(), "not enabled, but started");
    fr.stop().unwrap();
    assert!(!fr.enabled(), "enabled, but stopped");
}

#[test]
fn write_to_a_disabled_recorder_errors() {
    let _g = serial();
    let fr = FlightRecorder::new(FlightRecorderConfig::default());
    let mut buf = Vec::new();
    assert!(matches!(fr.write_to(&mut buf), Err(Error::NotStarted)));
    fr.start().unwrap();
    fr.stop().unwrap();
    assert!(matches!(fr.write_to(&mut buf), Err(Error::NotStarted)));
    assert!(buf.is_empty());
}

#[test]
fn concurrent_write_to() {
    let _g = serial();
    let fr = Arc::new(FlightRecorder::new(FlightRecorderConfig::default()));
    fr.start().unwrap();
    let successes = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (fr, successes) = (fr.clone(), successes.clone());
            thread::spawn(move || {
                let mut buf = Vec::new();
                match fr.write_to(&mut buf) {
                    Err(Error::SnapshotActive) => {
                        assert!(
                            buf.is_empty(),
                            "({i}) an early bail-out wrote {} bytes",
                            buf.len()
                        );
                    }
                    Err(e) => panic!("({i}) failed to write a snapshot: {e}"),
                    Ok(n) => {
                        successes.fetch_add(1, Ordering::SeqCst);
                        assert!(n > 0, "({i}) wrote an empty trace");
                        assert_eq!(n, buf.len() as u64, "({i}) write_to returns what it wrote");
                    }
                }
                buf
            })
        })
        .collect();
    let bufs: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    fr.stop().unwrap();
    assert!(
        successes.load(Ordering::SeqCst) >= 1,
        "at least one snapshot"
    );
    for (i, buf) in bufs.iter().enumerate() {
        if !buf.is_empty() {
            save(&format!("concurrent_{i}"), buf);
            read_back(buf);
        }
    }
}

#[test]
fn snapshot() {
    let _g = serial();
    let trace = test_flight_recorder(&FlightRecorder::default(), |snapshot| snapshot());
    save("snapshot", &trace);
}

#[test]
fn start_stop_five_times() {
    let _g = serial();
    let fr = FlightRecorder::default();
    for i in 0..5 {
        let trace = test_flight_recorder(&fr, |snapshot| {
            log(TaskId::BACKGROUND, "round", &i.to_string());
            snapshot();
        });
        let summary = read_back(&trace);
        assert!(summary.logs.contains(&("round".into(), i.to_string())));
        save(&format!("start_stop_{i}"), &trace);
    }
}

#[test]
fn a_log_before_the_snapshot_is_in_it() {
    let _g = serial();
    let trace = test_flight_recorder(&FlightRecorder::default(), |snapshot| {
        log(TaskId::BACKGROUND, "message", "hello");
        snapshot();
    });
    let summary = read_back(&trace);
    assert!(
        summary.logs.contains(&("message".into(), "hello".into())),
        "the log (\"message\", \"hello\") is not in the snapshot: {:?}",
        summary.logs
    );
    save("log", &trace);
}

/// Waits until `fr` has completed `n` generations (at most a minute).
fn wait_for_generations(fr: &FlightRecorder, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while fr.stats().generations_completed < n {
        assert!(Instant::now() < deadline, "{:?}", fr.stats());
        thread::sleep(Duration::from_millis(10));
    }
}

/// Go's `TestFlightRecorderGenerationCount`: after a few generations, a
/// snapshot holds only the newest ones, and begins and ends at generation
/// boundaries. Today's reader (Go 1.25+) emits a Sync before each
/// generation and one after the last, so "a Sync at each end" is: the first
/// and the last events are Syncs, and there is one Sync per generation plus
/// one, as in Go's counts.
fn check_generation_count(trace: &[u8], max_generations: usize) -> Summary {
    let s = read_back(trace);
    assert!(
        !s.generations.is_empty() && s.generations.len() <= max_generations,
        "generations {:?}",
        s.generations
    );
    assert_eq!(
        s.n_syncs,
        s.generations.len() as u64 + 1,
        "one Sync per generation, and one at the end"
    );
    assert_eq!(s.syncs.first(), Some(&0), "the first event is a Sync");
    assert_eq!(
        s.syncs.last(),
        Some(&(s.n_events - 1)),
        "the last event is a Sync"
    );
    s
}

#[test]
fn a_tiny_max_bytes_keeps_the_newest_generation_alone() {
    let _g = serial();
    let fr = FlightRecorder::new(FlightRecorderConfig {
        max_bytes: 16,
        ..FlightRecorderConfig::default()
    });
    // Three generations at the runtime's default period: about 3 s.
    let trace = test_flight_recorder(&fr, |snapshot| {
        log(TaskId::BACKGROUND, "tiny", "before");
        wait_for_generations(&fr, 3);
        snapshot();
    });
    // Two Syncs (first and last event) for the single generation, as Go
    // counts them.
    let s = check_generation_count(&trace, 1);
    assert_eq!(s.n_syncs, 2);
    save("tiny_max_bytes", &trace);
}

#[test]
fn a_tiny_min_age_keeps_few_generations() {
    let _g = serial();
    let fr = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_millis(1),
        ..FlightRecorderConfig::default()
    });
    let trace = test_flight_recorder(&fr, |snapshot| {
        wait_for_generations(&fr, 3);
        snapshot();
    });
    // Go allows at most three Syncs (two generations in its format).
    check_generation_count(&trace, 2);
    save("tiny_min_age", &trace);
}

/// A stream and a recorder of one session, in either format: both traces
/// are in the session's format.
#[test]
fn streaming_and_a_recorder_together() {
    let _g = serial();
    for format in both_formats() {
        use_format(format);
        streaming_and_a_recorder_together_in(format);
    }
    use_format(common::format());
}

fn streaming_and_a_recorder_together_in(format: trace_runtime::Format) {
    let stream = Capture::default();
    trace_runtime::start(stream.clone()).unwrap();
    log(TaskId::BACKGROUND, "both", "before the recorder");
    let fr = FlightRecorder::new(FlightRecorderConfig {
        max_bytes: 16,
        ..FlightRecorderConfig::default()
    });
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "both", "while recording");
    let mut snapshot = Vec::new();
    fr.write_to(&mut snapshot).unwrap();
    fr.stop().unwrap();
    assert!(snapshot.starts_with(&format.header()));
    trace_runtime::stop().unwrap();
    let stream = stream.bytes();
    assert!(!stream.is_empty() && !snapshot.is_empty());
    assert!(
        stream.len() > snapshot.len(),
        "the stream ({} bytes) is longer than the snapshot ({} bytes)",
        stream.len(),
        snapshot.len()
    );
    let (s, f) = (read_back(&stream), read_back(&snapshot));
    assert_eq!(s.version, Some(format.version()));
    assert_eq!(f.version, Some(format.version()));
    assert!(s
        .logs
        .contains(&("both".into(), "before the recorder".into())));
    assert!(f.logs.contains(&("both".into(), "while recording".into())));
    assert!(!f
        .logs
        .contains(&("both".into(), "before the recorder".into())));
    save(&format!("with_stream_stream_{format:?}"), &stream);
    save(&format!("with_stream_snapshot_{format:?}"), &snapshot);
}
