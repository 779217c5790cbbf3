//! `trigger_on_panic`: a panic fires a trigger window that is written to
//! the dump directory before the previous hook runs. (Its own binary:
//! panic hooks are process-wide.)

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{read_back, save};
use trace_flight::{trigger_on_panic, FlightRecorder, FlightRecorderConfig, TriggerConfig};
use trace_runtime::{log, TaskId};

#[test]
fn a_panic_fires_a_window_written_before_the_previous_hook() {
    let dir =
        std::env::temp_dir().join(format!("trace-flight-trigger-panic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let n_dumps = {
        let dir = dir.clone();
        move || {
            std::fs::read_dir(&dir)
                .map(|d| {
                    d.filter(|e| {
                        e.as_ref()
                            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "trace"))
                    })
                    .count()
                })
                .unwrap_or(0)
        }
    };
    let dumped_first = Arc::new(Mutex::new(None));
    {
        let (dumped_first, n_dumps) = (dumped_first.clone(), n_dumps.clone());
        std::panic::set_hook(Box::new(move |_| {
            *dumped_first.lock().unwrap() = Some(n_dumps());
        }));
    }
    common::use_format(common::format());
    let mut t = TriggerConfig::new(&dir);
    t.lookforward = Duration::from_secs(3600);
    let recorder = Arc::new(FlightRecorder::with_triggers(
        FlightRecorderConfig::default(),
        t,
    ));
    recorder.start().unwrap();
    trigger_on_panic(recorder.clone());
    let result = std::thread::spawn(|| {
        log(TaskId::BACKGROUND, "crash", "about to panic");
        panic!("boom");
    })
    .join();
    assert!(result.is_err());
    assert_eq!(
        *dumped_first.lock().unwrap(),
        Some(1),
        "dumped before the previous hook"
    );
    recorder.stop().unwrap();
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"reason\": \"panic: boom\""),
        "{manifest}"
    );
    let file = dir.join("flight-000001-window.trace");
    let trace = std::fs::read(&file).unwrap();
    let s = read_back(&trace);
    assert!(
        s.logs.contains(&("crash".into(), "about to panic".into())),
        "{:?}",
        s.logs
    );
    save("trigger_panic", &trace);
    std::fs::remove_dir_all(&dir).unwrap();
}
