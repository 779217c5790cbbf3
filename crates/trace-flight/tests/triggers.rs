//! Trigger windows, keep-the-slowest and the dump directory (issue 14):
//! every dump is read back with our reader and validator.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{read_back, save, serial};
use trace_flight::{FlightRecorder, FlightRecorderConfig, KeepSlowest, Rule, TriggerConfig};
use trace_runtime::{log, TaskId};

const FLUSH: Duration = Duration::from_secs(30);
const HOUR: Duration = Duration::from_secs(3600);

/// A fresh, empty directory for one test's dumps.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "trace-flight-triggers-{name}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// The trace files in `dir`, sorted by name.
fn dumps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    v.sort();
    v
}

/// The bytes of every file in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// Triggers with no lookback or lookforward and no cooldown.
fn immediate(dir: &Path) -> TriggerConfig {
    let mut t = TriggerConfig::new(dir);
    t.lookback = Duration::ZERO;
    t.lookforward = Duration::ZERO;
    t.cooldown = Duration::ZERO;
    t
}

/// Reads every dump back (our reader and validator), saves it for
/// `cargo xtask oracle`, and returns the logs of each.
fn read_dumps(dir: &Path, name: &str) -> Vec<Vec<(String, String)>> {
    dumps(dir)
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let bytes = fs::read(p).unwrap();
            save(&format!("{name}_{i}"), &bytes);
            read_back(&bytes).logs
        })
        .collect()
}

fn manifest(dir: &Path) -> String {
    fs::read_to_string(dir.join("manifest.json")).unwrap()
}

fn has_log(logs: &[(String, String)], category: &str, message: &str) -> bool {
    logs.iter().any(|(c, m)| c == category && m == message)
}

#[test]
fn a_window_holds_what_happens_after_the_trigger() {
    let _g = serial();
    let dir = scratch("after");
    let mut t = TriggerConfig::new(&dir);
    t.lookback = HOUR;
    t.lookforward = HOUR;
    let fr = FlightRecorder::with_triggers(FlightRecorderConfig::default(), t);
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "phase", "before");
    trace_runtime::advance().unwrap();
    assert!(fr.trigger("operator").unwrap());
    for _ in 0..3 {
        log(TaskId::BACKGROUND, "phase", "after");
        trace_runtime::advance().unwrap();
    }
    assert_eq!(dumps(&dir).len(), 0, "the window is still open");
    assert!(fr.flush_triggers(FLUSH));
    fr.stop().unwrap();
    let logs = read_dumps(&dir, "after");
    assert_eq!(logs.len(), 1);
    assert!(has_log(&logs[0], "phase", "before"), "{:?}", logs[0]);
    assert!(has_log(&logs[0], "phase", "after"), "{:?}", logs[0]);
    let m = manifest(&dir);
    assert!(m.contains("\"reason\": \"operator\""), "{m}");
    assert!(m.contains("\"kind\": \"window\""), "{m}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rule_window_reaches_past_the_generation_that_fired_it() {
    let _g = serial();
    let dir = scratch("rule_after");
    let mut t = TriggerConfig::new(&dir);
    t.rules = vec![Rule::log("error")];
    t.lookforward = HOUR;
    let fr = FlightRecorder::with_triggers(FlightRecorderConfig::default(), t);
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "error", "disk full");
    trace_runtime::advance().unwrap();
    assert_eq!(fr.trigger_stats().windows, 1);
    for _ in 0..3 {
        log(TaskId::BACKGROUND, "phase", "after");
        trace_runtime::advance().unwrap();
    }
    assert_eq!(fr.trigger_stats().dumps_written, 0, "the window is open");
    assert!(fr.flush_triggers(FLUSH));
    fr.stop().unwrap();
    let logs = read_dumps(&dir, "rule_after");
    assert_eq!(logs.len(), 1);
    assert!(has_log(&logs[0], "error", "disk full"));
    assert_eq!(logs[0].iter().filter(|(_, m)| m == "after").count(), 3);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dump_window_waits_for_its_lookforward() {
    let _g = serial();
    let fr = FlightRecorder::default();
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "phase", "before");
    trace_runtime::advance().unwrap();
    let done = AtomicBool::new(false);
    let window = thread::scope(|s| {
        let logger = s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                log(TaskId::BACKGROUND, "phase", "during");
                thread::sleep(Duration::from_millis(1));
            }
        });
        let w = fr.dump_window(HOUR, Duration::from_millis(200), "test");
        done.store(true, Ordering::SeqCst);
        logger.join().unwrap();
        w
    })
    .unwrap();
    fr.stop().unwrap();
    let mut bytes = Vec::new();
    window.write_to(&mut bytes).unwrap();
    save("dump_window", &bytes);
    let s = read_back(&bytes);
    assert!(has_log(&s.logs, "phase", "before"));
    let during = s.logs.iter().filter(|(_, m)| m == "during").count();
    // 200 ms of logs every millisecond or so.
    assert!(during > 20, "{during} logs during the lookforward");
    assert!(window.window() >= Duration::from_millis(200));
}

#[test]
fn pinned_generations_survive_eviction() {
    let _g = serial();
    const MAX: u64 = 1 << 20;
    let dir = scratch("pinned");
    let mut t = TriggerConfig::new(&dir);
    t.lookback = HOUR;
    t.lookforward = HOUR;
    let fr = FlightRecorder::with_triggers(
        FlightRecorderConfig {
            max_bytes: MAX,
            // The ring keeps about 20 ms: the marker's generation ages out.
            min_age: Duration::from_millis(20),
        },
        t,
    );
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "marker", "the trigger's generation");
    trace_runtime::advance().unwrap();
    assert!(fr.trigger("pin").unwrap());
    for _ in 0..10 {
        for j in 0..500u32 {
            log(
                TaskId::BACKGROUND,
                "load",
                if j % 2 == 0 { "a" } else { "b" },
            );
        }
        trace_runtime::advance().unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    let stats = fr.stats();
    assert!(stats.generations_evicted > 0, "{stats:?}");
    assert!(stats.peak_retained_bytes <= MAX, "{stats:?}");
    let mut now = Vec::new();
    fr.write_to(&mut now).unwrap();
    assert!(
        !has_log(&read_back(&now).logs, "marker", "the trigger's generation"),
        "the ring itself evicted the marker"
    );
    let pinned = fr.trigger_stats().pinned_bytes;
    assert!(pinned > 0 && pinned <= MAX / 2, "{pinned}");
    assert!(fr.flush_triggers(FLUSH));
    fr.stop().unwrap();
    let logs = read_dumps(&dir, "pinned");
    assert_eq!(logs.len(), 1);
    assert!(has_log(&logs[0], "marker", "the trigger's generation"));
    assert!(has_log(&logs[0], "load", "a"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pins_stay_within_their_share_under_a_flood() {
    let _g = serial();
    const MAX: u64 = 1 << 20;
    let dir = scratch("flood");
    let mut t = TriggerConfig::new(&dir);
    t.lookback = HOUR;
    t.lookforward = HOUR;
    let fr = FlightRecorder::with_triggers(
        FlightRecorderConfig {
            max_bytes: MAX,
            min_age: HOUR,
        },
        t,
    );
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "marker", "first");
    trace_runtime::advance().unwrap();
    assert!(fr.trigger("flood").unwrap());
    // Far more than max_bytes goes through the ring; the window outgrows
    // its share, ends early and is written.
    for i in 0..40 {
        for j in 0..5_000u32 {
            log(
                TaskId::BACKGROUND,
                "flood",
                if j % 2 == 0 { "a" } else { "b" },
            );
        }
        if i % 4 == 0 {
            trace_runtime::advance().unwrap();
        }
        assert!(fr.trigger_stats().pinned_bytes <= MAX / 2);
    }
    assert!(fr.flush_triggers(FLUSH));
    let stats = fr.stats();
    fr.stop().unwrap();
    assert!(stats.generations_evicted > 0, "{stats:?}");
    assert!(stats.peak_retained_bytes <= MAX, "{stats:?}");
    let logs = read_dumps(&dir, "flood");
    assert_eq!(logs.len(), 1);
    assert!(has_log(&logs[0], "marker", "first"));
    let size = fs::metadata(&dumps(&dir)[0]).unwrap().len();
    assert!(size <= MAX / 2 + 16, "{size}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn repeated_triggers_coalesce_into_one_dump() {
    let _g = serial();
    let dir = scratch("coalesce");
    let mut t = TriggerConfig::new(&dir);
    t.lookforward = HOUR;
    t.cooldown = HOUR;
    let fr = FlightRecorder::with_triggers(FlightRecorderConfig::default(), t);
    fr.start().unwrap();
    for i in 0..20 {
        log(TaskId::BACKGROUND, "burst", "x");
        assert!(fr.trigger(&format!("burst {}", i % 3)).unwrap());
    }
    assert!(fr.flush_triggers(FLUSH));
    // The cooldown after the window ignores the next trigger.
    assert!(!fr.trigger("late").unwrap());
    let stats = fr.trigger_stats();
    fr.stop().unwrap();
    assert_eq!(
        (
            stats.windows,
            stats.coalesced,
            stats.suppressed,
            stats.dumps_written
        ),
        (1, 19, 1, 1),
        "{stats:?}"
    );
    assert_eq!(dumps(&dir).len(), 1);
    read_dumps(&dir, "coalesce");
    let m = manifest(&dir);
    assert!(m.contains("\"triggers\": 20"), "{m}");
    assert!(
        m.contains(r#""reasons": ["burst 0", "burst 1", "burst 2"]"#),
        "{m}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_dump_directory_stays_within_its_caps() {
    let _g = serial();
    const CAP: u64 = 256 << 10;
    let dir = scratch("caps");
    let mut t = immediate(&dir);
    t.max_dumps = 3;
    t.max_dir_bytes = CAP;
    let fr = FlightRecorder::with_triggers(
        FlightRecorderConfig {
            max_bytes: 4 << 20,
            min_age: Duration::from_millis(40),
        },
        t,
    );
    fr.start().unwrap();
    for i in 0..10u32 {
        // Some windows are larger than others.
        for j in 0..(1_000 * (i % 4 + 1)) {
            log(
                TaskId::BACKGROUND,
                "work",
                if j % 2 == 0 { "a" } else { "b" },
            );
        }
        trace_runtime::advance().unwrap();
        assert!(fr.trigger(&format!("round {i}")).unwrap());
        assert!(fr.flush_triggers(FLUSH));
        let n = dumps(&dir).len();
        let bytes = dir_bytes(&dir);
        assert!(n <= 3, "{n} dumps");
        assert!(bytes <= CAP, "{bytes} bytes in the directory");
    }
    let stats = fr.trigger_stats();
    fr.stop().unwrap();
    assert_eq!(stats.dumps_written, 10, "{stats:?}");
    assert!(stats.dumps_rotated >= 7, "{stats:?}");
    // The manifest lists exactly the dumps in the directory, the newest.
    let m = manifest(&dir);
    let files = dumps(&dir);
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(m.contains(name), "{name} not in {m}");
    }
    assert_eq!(m.matches("\"file\"").count(), files.len(), "{m}");
    assert!(m.contains("round 9"), "{m}");
    assert!(!m.contains("round 0"), "{m}");
    read_dumps(&dir, "caps");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rules_fire_on_slow_regions_slow_tasks_and_log_categories() {
    let _g = serial();
    let dir = scratch("rules");
    let mut t = immediate(&dir);
    t.rules = vec![
        Rule::slow_region("db", Duration::from_millis(20)),
        Rule::slow_task("request", Duration::from_millis(20)),
        Rule::log("error"),
    ];
    let fr = FlightRecorder::with_triggers(FlightRecorderConfig::default(), t);
    fr.start().unwrap();
    let fired = |expected: u64| {
        trace_runtime::advance().unwrap();
        assert!(fr.flush_triggers(FLUSH));
        let stats = fr.trigger_stats();
        assert_eq!(stats.dumps_written, expected, "{stats:?}");
    };
    // Fast regions and tasks, other categories: nothing fires.
    for _ in 0..10 {
        trace_annotate::with_region("db", || ());
        trace_annotate::new_task("request").end();
        log(TaskId::BACKGROUND, "info", "fine");
    }
    trace_annotate::with_region("other", || thread::sleep(Duration::from_millis(30)));
    fired(0);
    trace_annotate::with_region("db", || thread::sleep(Duration::from_millis(30)));
    fired(1);
    let task = trace_annotate::new_task("request");
    let id = task.id();
    task.with_region("inner", || thread::sleep(Duration::from_millis(30)));
    task.end();
    fired(2);
    log(TaskId::BACKGROUND, "error", "disk full");
    fired(3);
    fr.stop().unwrap();
    read_dumps(&dir, "rules");
    let m = manifest(&dir);
    assert!(m.contains(r#"region \"db\" took"#), "{m}");
    assert!(m.contains(r#"task \"request\" took"#), "{m}");
    assert!(m.contains(&format!("\"task_ids\": [{id}]")), "{m}");
    assert!(m.contains(r#"log \"error\""#), "{m}");
    fs::remove_dir_all(&dir).unwrap();
}

/// A started recorder keeping the `n` slowest "request" tasks, dumping to
/// `dir` and writing them there every `kept_sync`.
fn keeping_slowest(dir: &Path, n: usize, kept_sync: Duration) -> Arc<FlightRecorder> {
    let mut t = TriggerConfig::new(dir);
    t.keep_slowest = vec![KeepSlowest::tasks("request", n)];
    t.kept_sync = kept_sync;
    let fr = Arc::new(FlightRecorder::with_triggers(
        FlightRecorderConfig {
            max_bytes: 2 << 20,
            min_age: Duration::from_millis(100),
        },
        t,
    ));
    fr.start().unwrap();
    fr
}

#[test]
fn the_slowest_tasks_are_retained_in_dumps() {
    let _g = serial();
    let dir = scratch("slowest");
    let fr = keeping_slowest(&dir, 3, TriggerConfig::new("").kept_sync);
    // Requests 7, 19 and 31 are the slowest; 12 is fourth; "batch" tasks
    // are slower still but of another type.
    let slow = |i: u32| match i {
        7 => 40,
        19 => 60,
        31 => 50,
        12 => 25,
        _ => 0,
    };
    let mut slowest = Vec::new();
    for i in 0..40u32 {
        let task = trace_annotate::new_task("request");
        task.log("request", &format!("request {i}"));
        let ms = slow(i);
        if ms > 0 {
            thread::sleep(Duration::from_millis(ms));
        }
        if ms >= 40 {
            slowest.push(task.id());
        }
        task.end();
        if i % 10 == 0 {
            let batch = trace_annotate::new_task("batch");
            thread::sleep(Duration::from_millis(80));
            batch.end();
        }
        // Load that the ring evicts long before the recorder stops.
        for j in 0..2_000u32 {
            log(
                TaskId::BACKGROUND,
                "load",
                if j % 2 == 0 { "a" } else { "b" },
            );
        }
        trace_runtime::advance().unwrap();
    }
    assert!(fr.stats().generations_evicted > 0, "{:?}", fr.stats());
    assert_eq!(fr.trigger_stats().kept, 3);
    fr.stop().unwrap();
    let logs = read_dumps(&dir, "slowest");
    assert!(!logs.is_empty());
    for i in [7, 19, 31] {
        let msg = format!("request {i}");
        assert!(
            logs.iter().any(|l| has_log(l, "request", &msg)),
            "{msg} not retained"
        );
    }
    assert!(!logs.iter().any(|l| has_log(l, "request", "request 12")));
    let m = manifest(&dir);
    for id in &slowest {
        assert!(m.contains(&id.to_string()), "task {id} not in {m}");
    }
    assert!(m.contains("\"kind\": \"slowest\""), "{m}");
    assert_eq!(m.matches("\"reason\": \"slowest task").count(), 3, "{m}");
    fs::remove_dir_all(&dir).unwrap();
}

/// With `kept_sync`, the slowest kept reach the directory while the
/// recorder runs (a crash would not lose them), each write replacing the
/// previous `slowest` dumps.
#[test]
fn the_slowest_reach_the_directory_before_the_recorder_stops() {
    let _g = serial();
    let dir = scratch("slowest-synced");
    let fr = keeping_slowest(&dir, 2, Duration::from_millis(20));
    // Each slow request is slower than the ones before: the kept set
    // changes after each, and each sync replaces the last.
    let slow = |i: u32| match i {
        3 => 10,
        9 => 20,
        15 => 30,
        21 => 40,
        _ => 0,
    };
    for i in 0..25u32 {
        let task = trace_annotate::new_task("request");
        task.log("request", &format!("request {i}"));
        let ms = slow(i);
        if ms > 0 {
            thread::sleep(Duration::from_millis(ms));
        }
        task.end();
        trace_runtime::advance().unwrap();
        // Time for a sync between the slow requests.
        if ms > 0 {
            thread::sleep(Duration::from_millis(60));
        }
    }
    // Still recording: the dumps on disk hold the two slowest.
    let slowest_files = |dir: &Path| -> Vec<PathBuf> {
        dumps(dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with("-slowest.trace"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let holds = |msg: &str| {
        slowest_files(&dir).iter().any(|p| {
            fs::read(p)
                .ok()
                .and_then(|b| std::panic::catch_unwind(|| read_back(&b).logs).ok())
                .is_some_and(|l| has_log(&l, "request", msg))
        })
    };
    // Settled: the last set written, the one it replaced removed (the
    // manifest lists replaced dumps until then).
    let settled = || {
        holds("request 15")
            && holds("request 21")
            && fs::read_to_string(dir.join("manifest.json")).is_ok_and(|m| !m.contains("replaced"))
    };
    while !settled() {
        assert!(Instant::now() < deadline, "never synced: {:?}", dumps(&dir));
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        fr.trigger_stats().dumps_written >= 2,
        "{:?}",
        fr.trigger_stats()
    );
    // The earlier sets were replaced: no dump holds request 3 any more,
    // and at most one dump per kept entry is left.
    assert!(!holds("request 3"), "{:?}", dumps(&dir));
    assert!(slowest_files(&dir).len() <= 2, "{:?}", dumps(&dir));
    let m = manifest(&dir);
    assert_eq!(m.matches("\"reason\": \"slowest task").count(), 2, "{m}");
    assert!(!m.contains("replaced"), "{m}");
    fr.stop().unwrap();
    // After the stop, the same two are there.
    let logs = read_dumps(&dir, "slowest_synced");
    for i in [15, 21] {
        let msg = format!("request {i}");
        assert!(logs.iter().any(|l| has_log(l, "request", &msg)), "{msg}");
    }
    fs::remove_dir_all(&dir).unwrap();
}
