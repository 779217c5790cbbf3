//! What our recorder does beyond Go's: a hard byte bound, fine windows,
//! several recorders at once, snapshots that never block recording threads
//! and outlive eviction.

mod common;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{read_back, save, serial};
use trace_flight::{Error, FlightRecorder, FlightRecorderConfig};
use trace_runtime::{log, TaskId};

const MINUTE: Duration = Duration::from_secs(60);

/// A writer that blocks on its first write until released.
struct Gate {
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
    opened: bool,
    bytes: Vec<u8>,
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.opened {
            let _ = self.entered.send(());
            self.release.recv_timeout(MINUTE).expect("released");
            self.opened = true;
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A gate, the receiver of "a write is blocked", and the sender that
/// releases it.
fn gate() -> (Gate, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let gate = Gate {
        entered: entered_tx,
        release: release_rx,
        opened: false,
        bytes: Vec::new(),
    };
    (gate, entered_rx, release_tx)
}

/// Logs from `n` threads until `stop` is set.
fn spawn_loggers(n: usize, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<u64>> {
    (0..n)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    log(
                        TaskId::BACKGROUND,
                        "load",
                        if i.is_multiple_of(2) { "even" } else { "odd" },
                    );
                    i += 1;
                    if i.is_multiple_of(4096) && t == 0 {
                        thread::yield_now();
                    }
                }
                i
            })
        })
        .collect()
}

#[test]
fn snapshots_never_block_recording_threads() {
    let _g = serial();
    let fr = Arc::new(FlightRecorder::default());
    fr.start().unwrap();
    let (gate, entered, release) = gate();
    let writer = {
        let fr = fr.clone();
        thread::spawn(move || {
            let mut gate = gate;
            let n = fr.write_to(&mut gate).unwrap();
            (n, gate.bytes)
        })
    };
    entered
        .recv_timeout(MINUTE)
        .expect("the snapshot is being written");
    // The snapshot is stuck in its writer. Recording goes on, generations
    // complete, and a second snapshot bails out at once.
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        for i in 0..100_000u32 {
            log(
                TaskId::BACKGROUND,
                "while blocked",
                if i % 2 == 0 { "a" } else { "b" },
            );
        }
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(MINUTE)
        .expect("recording threads go on");
    trace_runtime::advance().unwrap();
    assert!(fr.stats().generations_completed >= 2);
    assert!(matches!(
        fr.write_to(&mut Vec::new()),
        Err(Error::SnapshotActive)
    ));
    release.send(()).unwrap();
    let (n, bytes) = writer.join().unwrap();
    assert_eq!(n, bytes.len() as u64);
    read_back(&bytes);
    fr.stop().unwrap();
}

#[test]
fn stop_waits_for_a_snapshot_in_progress() {
    let _g = serial();
    let fr = Arc::new(FlightRecorder::default());
    fr.start().unwrap();
    let (gate, entered, release) = gate();
    let released = Arc::new(AtomicBool::new(false));
    let writer = {
        let fr = fr.clone();
        thread::spawn(move || {
            let mut gate = gate;
            fr.write_to(&mut gate).unwrap();
            gate.bytes
        })
    };
    entered.recv_timeout(MINUTE).unwrap();
    let stopper = {
        let (fr, released) = (fr.clone(), released.clone());
        thread::spawn(move || {
            fr.stop().unwrap();
            released.load(Ordering::SeqCst)
        })
    };
    thread::sleep(Duration::from_millis(50));
    released.store(true, Ordering::SeqCst);
    release.send(()).unwrap();
    assert!(
        stopper.join().unwrap(),
        "stop returned before the snapshot was written"
    );
    read_back(&writer.join().unwrap());
    assert!(!fr.enabled());
}

#[test]
fn max_bytes_is_a_hard_bound_under_load() {
    let _g = serial();
    const MAX: u64 = 256 << 10;
    let fr = FlightRecorder::new(FlightRecorderConfig {
        max_bytes: MAX,
        min_age: Duration::from_secs(3600),
    });
    fr.start().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let loggers = spawn_loggers(2, &stop);
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut n_snapshots = 0;
    while Instant::now() < deadline {
        let mut trace = Vec::new();
        fr.write_to(&mut trace).unwrap();
        assert!(
            trace.len() as u64 <= MAX + 16,
            "a {} byte snapshot",
            trace.len()
        );
        let s = read_back(&trace);
        if n_snapshots == 0 {
            save("hard_bound", &trace);
        }
        assert!(s.n_events > 0);
        n_snapshots += 1;
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let n_events: u64 = loggers.into_iter().map(|l| l.join().unwrap()).sum();
    let stats = fr.stats();
    fr.stop().unwrap();
    eprintln!("{stats:?} {n_snapshots} snapshots {n_events} events");
    assert!(n_snapshots > 0);
    assert!(stats.peak_retained_bytes <= MAX, "{stats:?}");
    assert!(
        stats.generations_completed > 2,
        "{stats:?}, {n_events} events"
    );
}

#[test]
fn min_age_below_a_second_shortens_generations() {
    let _g = serial();
    let min_age = Duration::from_millis(200);
    let fr = FlightRecorder::new(FlightRecorderConfig {
        min_age,
        ..FlightRecorderConfig::default()
    });
    fr.start().unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        log(TaskId::BACKGROUND, "tick", "");
        thread::sleep(Duration::from_millis(5));
    }
    let snapshot = fr.snapshot().unwrap();
    let stats = fr.stats();
    fr.stop().unwrap();
    // Generations of about 50 ms: the window reaches back at least
    // `min_age`, and not a whole second as with Go's generations.
    assert!(stats.generations_completed >= 5, "{stats:?}");
    assert!(snapshot.window() >= min_age, "{:?}", snapshot.window());
    assert!(
        snapshot.window() < Duration::from_millis(900),
        "{:?}",
        snapshot.window()
    );
    let mut trace = Vec::new();
    snapshot.write_to(&mut trace).unwrap();
    let s = read_back(&trace);
    assert_eq!(s.generations.len(), snapshot.generations());
}

#[test]
fn several_recorders_at_once() {
    let _g = serial();
    let wide = FlightRecorder::default();
    let narrow = FlightRecorder::new(FlightRecorderConfig {
        max_bytes: 16,
        ..FlightRecorderConfig::default()
    });
    wide.start().unwrap();
    log(TaskId::BACKGROUND, "recorders", "one");
    narrow.start().unwrap();
    for i in 0..3 {
        log(TaskId::BACKGROUND, "recorders", &format!("both {i}"));
        trace_runtime::advance().unwrap();
    }
    let (mut w, mut n) = (Vec::new(), Vec::new());
    wide.write_to(&mut w).unwrap();
    narrow.write_to(&mut n).unwrap();
    narrow.stop().unwrap();
    assert!(wide.enabled());
    log(TaskId::BACKGROUND, "recorders", "wide only");
    let mut w2 = Vec::new();
    wide.write_to(&mut w2).unwrap();
    wide.stop().unwrap();
    let (ws, ns, w2s) = (read_back(&w), read_back(&n), read_back(&w2));
    assert!(ws.logs.contains(&("recorders".into(), "one".into())));
    assert!(ws.generations.len() >= 4, "{:?}", ws.generations);
    assert_eq!(ns.generations.len(), 1);
    assert!(w2s.logs.contains(&("recorders".into(), "wide only".into())));
    assert!(w.len() > n.len());
    save("several_wide", &w2);
    save("several_narrow", &n);
}

#[test]
fn a_snapshot_outlives_eviction() {
    let _g = serial();
    let fr = FlightRecorder::new(FlightRecorderConfig {
        max_bytes: 128 << 10,
        ..FlightRecorderConfig::default()
    });
    fr.start().unwrap();
    log(TaskId::BACKGROUND, "old", "first");
    let snapshot = fr.snapshot().unwrap();
    // Enough data to evict every generation the snapshot holds.
    for i in 0..200_000u32 {
        log(
            TaskId::BACKGROUND,
            "new",
            if i % 3 == 0 { "x" } else { "y" },
        );
    }
    trace_runtime::advance().unwrap();
    let stats = fr.stats();
    assert!(
        stats.generations_evicted + stats.generations_dropped > 0,
        "{stats:?}"
    );
    fr.stop().unwrap();
    let mut trace = Vec::new();
    snapshot.write_to(&mut trace).unwrap();
    let s = read_back(&trace);
    assert!(s.logs.contains(&("old".into(), "first".into())));
}
