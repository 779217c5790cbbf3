//! `dump_on_signal`: SIGUSR2 writes a valid snapshot to a file, from a
//! helper thread. (Its own binary: signal dispositions are process-wide.)
#![cfg(unix)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{read_back, save};
use trace_flight::{dump_on_signal, FlightRecorder};
use trace_runtime::{log, TaskId};

#[test]
fn sigusr2_dumps_a_snapshot() {
    let dir = std::env::temp_dir().join(format!("trace-flight-signal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signal.trace");
    common::use_format(common::format());
    let recorder = Arc::new(FlightRecorder::default());
    recorder.start().unwrap();
    let registration =
        dump_on_signal(recorder.clone(), signal_hook::consts::SIGUSR2, &path).unwrap();
    for round in 1..=2u64 {
        log(TaskId::BACKGROUND, "signal", &format!("round {round}"));
        signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while registration.dumps() < round {
            assert!(Instant::now() < deadline, "no dump after the signal");
            std::thread::sleep(Duration::from_millis(5));
        }
        let trace = std::fs::read(&path).unwrap();
        let s = read_back(&trace);
        assert!(s
            .logs
            .contains(&("signal".into(), format!("round {round}"))));
        save(&format!("signal_{round}"), &trace);
    }
    drop(registration);
    recorder.stop().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
