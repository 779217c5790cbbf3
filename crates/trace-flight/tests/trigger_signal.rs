//! `trigger_on_signal`: SIGUSR1 fires a trigger window. (Its own binary:
//! signal dispositions are process-wide.)
#![cfg(unix)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{read_back, save};
use trace_flight::{trigger_on_signal, FlightRecorder, FlightRecorderConfig, TriggerConfig};
use trace_runtime::{log, TaskId};

#[test]
fn a_signal_fires_a_window() {
    let dir = std::env::temp_dir().join(format!(
        "trace-flight-trigger-signal-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    common::use_format(common::format());
    let mut t = TriggerConfig::new(&dir);
    t.lookforward = Duration::from_secs(3600);
    let recorder = Arc::new(FlightRecorder::with_triggers(
        FlightRecorderConfig::default(),
        t,
    ));
    recorder.start().unwrap();
    let registration = trigger_on_signal(recorder.clone(), signal_hook::consts::SIGUSR1).unwrap();
    log(TaskId::BACKGROUND, "signal", "before");
    signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while registration.dumps() < 1 {
        assert!(Instant::now() < deadline, "no trigger after the signal");
        std::thread::sleep(Duration::from_millis(5));
    }
    log(TaskId::BACKGROUND, "signal", "after");
    assert!(recorder.flush_triggers(Duration::from_secs(60)));
    drop(registration);
    recorder.stop().unwrap();
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let sig = signal_hook::consts::SIGUSR1;
    assert!(
        manifest.contains(&format!("\"reason\": \"signal {sig}\"")),
        "{manifest}"
    );
    let trace = std::fs::read(dir.join("flight-000001-window.trace")).unwrap();
    let s = read_back(&trace);
    assert!(s.logs.contains(&("signal".into(), "before".into())));
    assert!(s.logs.contains(&("signal".into(), "after".into())));
    save("trigger_signal", &trace);
    std::fs::remove_dir_all(&dir).unwrap();
}
