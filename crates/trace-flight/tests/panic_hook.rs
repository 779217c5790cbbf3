//! A panic writes a valid snapshot before the previous hook runs. (One test
//! in its own binary: panic hooks are process-wide.)

mod common;

use std::sync::{Arc, Mutex};

use common::{read_back, save, Capture};
use trace_flight::{install_panic_hook, DumpTarget, FlightRecorder};
use trace_runtime::{log, TaskId};

#[test]
fn a_panic_dumps_a_snapshot_then_runs_the_previous_hook() {
    let dir = std::env::temp_dir().join(format!("trace-flight-panic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("panic.trace");

    // The previous hook checks that the dump is already there.
    let dumped_first = Arc::new(Mutex::new(None));
    {
        let (dumped_first, path) = (dumped_first.clone(), path.clone());
        std::panic::set_hook(Box::new(move |_| {
            *dumped_first.lock().unwrap() = Some(path.exists());
        }));
    }
    common::use_format(common::format());
    let recorder = Arc::new(FlightRecorder::default());
    recorder.start().unwrap();
    install_panic_hook(recorder.clone(), path.as_path());

    let result = std::thread::spawn(|| {
        log(TaskId::BACKGROUND, "crash", "about to panic");
        panic!("boom");
    })
    .join();
    assert!(result.is_err());
    assert_eq!(
        *dumped_first.lock().unwrap(),
        Some(true),
        "dumped before the previous hook"
    );
    let trace = std::fs::read(&path).unwrap();
    let s = read_back(&trace);
    assert!(
        s.logs.contains(&("crash".into(), "about to panic".into())),
        "{:?}",
        s.logs
    );
    save("panic", &trace);

    // Only the first panic dumps.
    std::fs::remove_file(&path).unwrap();
    let _ = std::thread::spawn(|| panic!("again")).join();
    assert!(!path.exists());

    // A hook on top dumps to a writer on its own first panic, then runs
    // the hooks below it.
    let out = Capture::default();
    install_panic_hook(recorder.clone(), DumpTarget::writer(out.clone()));
    let _ = std::thread::spawn(|| panic!("to a writer")).join();
    recorder.stop().unwrap();
    read_back(&out.bytes());
    std::fs::remove_dir_all(&dir).unwrap();
}
