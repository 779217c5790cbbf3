//! Records traces through the public API and reads them back.

mod common;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use common::{both_formats, check_sequences, parse, save, serial, Capture};
use trace_runtime::{
    advance, configure, log, new_task_id, region_begin, region_end, start, stop, stream_state,
    task_begin, task_end, Error, Format, StackMode, StreamState, TaskId,
};
use trace_wire::ty;

fn config(period_ms: u64) {
    configure(common::config().generation_period(Duration::from_millis(period_ms))).unwrap();
}

/// Runs `f` while streaming into memory; returns the trace.
fn record(name: &str, f: impl FnOnce()) -> Vec<u8> {
    let out = Capture::default();
    start(out.clone()).unwrap();
    f();
    stop().unwrap();
    let trace = out.bytes();
    save(name, &trace);
    trace
}

#[test]
fn threads_tasks_regions_logs() {
    let _g = serial();
    for format in both_formats() {
        configure(common::config().format(format)).unwrap();
        threads_tasks_regions_logs_in(format);
    }
    config(1000);
}

fn threads_tasks_regions_logs_in(format: Format) {
    let trace = record(&format!("threads_tasks_regions_logs_{format:?}"), || {
        let task = new_task_id();
        task_begin(task, TaskId::BACKGROUND, "job");
        let workers: Vec<_> = (0..4)
            .map(|i| {
                thread::Builder::new()
                    .name(format!("worker-{i}"))
                    .spawn(move || {
                        for j in 0..100 {
                            region_begin(task, "step");
                            log(task, "progress", &format!("w:{i}:{j}"));
                            region_end(task, "step");
                        }
                    })
                    .unwrap()
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        task_end(task);
    });
    assert!(trace.starts_with(&format.header()));
    let t = parse(&trace);
    assert_eq!(t.version, format.version());
    check_sequences(&t, "w", 4, 100);
    assert_eq!(t.count(ty::USER_REGION_BEGIN), 400);
    assert_eq!(t.count(ty::USER_REGION_END), 400);
    assert_eq!(t.count(ty::USER_TASK_BEGIN), 1);
    assert_eq!(t.count(ty::USER_TASK_END), 1);
    // Each worker was created, named, and recorded its exit.
    let names: Vec<String> = t
        .gens
        .iter()
        .flat_map(|g| g.stacks.values().map(|f| f[0].1.clone()))
        .collect();
    for i in 0..4 {
        assert!(names.contains(&format!("thread worker-{i}")), "{names:?}");
    }
    assert!(t.count(ty::GO_DESTROY) >= 4);
}

#[test]
fn start_twice_and_stop_without_start() {
    let _g = serial();
    assert!(matches!(stop(), Err(Error::NotStreaming)));
    start(io::sink()).unwrap();
    assert!(matches!(start(io::sink()), Err(Error::AlreadyStreaming)));
    assert_eq!(stream_state(), StreamState::Active);
    assert!(trace_runtime::is_enabled());
    stop().unwrap();
    assert_eq!(stream_state(), StreamState::Off);
    assert!(!trace_runtime::is_enabled());
}

#[test]
fn start_stop_cycles() {
    let _g = serial();
    config(1000);
    // A thread that lives across all the traces.
    let (tx, rx) = std::sync::mpsc::channel::<Option<usize>>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let helper = thread::spawn(move || {
        while let Ok(Some(c)) = rx.recv() {
            log(TaskId::BACKGROUND, "helper", &format!("h:0:{c}"));
            done_tx.send(()).unwrap();
        }
    });
    let mut last_gen = 0;
    for cycle in 0..20 {
        // Sessions alternate between the formats.
        let format = both_formats()[cycle % 2];
        configure(common::config().format(format)).unwrap();
        let trace = record(&format!("cycle_{cycle}"), || {
            log(TaskId::BACKGROUND, "main", &format!("m:0:{cycle}"));
            tx.send(Some(0)).unwrap();
            done_rx.recv().unwrap();
            if cycle % 3 == 0 {
                advance().unwrap();
                log(TaskId::BACKGROUND, "main", "after advance");
            }
        });
        let t = parse(&trace);
        assert_eq!(t.version, format.version(), "cycle {cycle}");
        let first = t.gens.first().unwrap().gen;
        assert!(
            first > last_gen,
            "generation numbers continue across traces"
        );
        last_gen = t.gens.last().unwrap().gen;
        let logs = t.logs();
        assert!(logs.iter().any(|l| l.2 == format!("m:0:{cycle}")));
        assert!(logs.iter().any(|l| l.1 == "helper"));
    }
    tx.send(None).unwrap();
    helper.join().unwrap();
    config(1000);
}

#[test]
fn many_short_lived_threads() {
    let _g = serial();
    config(5);
    let trace = record("many_short_lived_threads", || {
        for batch in 0..20 {
            let threads: Vec<_> = (0..50)
                .map(|k| {
                    let i = batch * 50 + k;
                    thread::spawn(move || {
                        for j in 0..3 {
                            log(TaskId::BACKGROUND, "", &format!("s:{i}:{j}"));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
    });
    let t = parse(&trace);
    check_sequences(&t, "s", 1000, 3);
    assert!(t.count(ty::GO_DESTROY) >= 1000);
    // P ids come from a free list, so they stay small.
    let max_p = t
        .gens
        .iter()
        .flat_map(|g| g.events())
        .filter(|(_, e)| e.ty == ty::PROC_START)
        .map(|(_, e)| e.args[0])
        .max()
        .unwrap();
    assert!(max_p < 200, "P ids should be reused, max {max_p}");
}

#[test]
fn concurrent_annotation_while_generations_advance() {
    let _g = serial();
    config(1);
    const THREADS: usize = 4;
    const PER_THREAD: usize = 20_000;
    let stop_advancing = Arc::new(AtomicBool::new(false));
    let advances = Arc::new(AtomicUsize::new(0));
    let trace = record("concurrent_annotation", || {
        let advancer = {
            let (stop_advancing, advances) = (stop_advancing.clone(), advances.clone());
            thread::spawn(move || {
                while !stop_advancing.load(Ordering::Relaxed) {
                    advance().unwrap();
                    advances.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                let advances = advances.clone();
                thread::spawn(move || {
                    let task = new_task_id();
                    task_begin(task, TaskId::BACKGROUND, "loop");
                    for j in 0..PER_THREAD {
                        region_begin(task, "iteration");
                        log(task, "c", &format!("c:{i}:{j}"));
                        region_end(task, "iteration");
                        if j % 2000 == 0 {
                            // Let generations change under our feet.
                            let seen = advances.load(Ordering::Relaxed);
                            while advances.load(Ordering::Relaxed) == seen {
                                thread::yield_now();
                            }
                        }
                    }
                    task_end(task);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop_advancing.store(true, Ordering::Relaxed);
        advancer.join().unwrap();
    });
    let t = parse(&trace);
    assert!(t.gens.len() > 5, "generations advanced: {}", t.gens.len());
    check_sequences(&t, "c", THREADS, PER_THREAD);
    assert_eq!(t.count(ty::USER_REGION_BEGIN), THREADS * PER_THREAD);
    assert_eq!(t.count(ty::USER_REGION_END), THREADS * PER_THREAD);
}

struct FailingWriter {
    left: usize,
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_errors_are_reported_and_tracing_winds_down() {
    let _g = serial();
    config(2);
    start(FailingWriter { left: 100 }).unwrap();
    for j in 0..10_000 {
        log(TaskId::BACKGROUND, "", &format!("x:{j}"));
        if j % 1000 == 0 {
            thread::sleep(Duration::from_millis(3));
        }
    }
    // The stream leaves at a generation boundary; tracing turns off.
    for _ in 0..1000 {
        if !trace_runtime::is_enabled() {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert!(!trace_runtime::is_enabled());
    assert_eq!(stream_state(), StreamState::Failed);
    assert!(matches!(start(io::sink()), Err(Error::AlreadyStreaming)));
    match stop() {
        Err(Error::Writer(e)) => assert_eq!(e.to_string(), "disk full"),
        other => panic!("{other:?}"),
    }
    // A new stream works.
    let trace = record("after_writer_error", || {
        log(TaskId::BACKGROUND, "", "again")
    });
    assert_eq!(parse(&trace).logs().len(), 1);
}

struct SlowWriter;

impl Write for SlowWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        thread::sleep(Duration::from_millis(50));
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn slow_writers_are_cut_off() {
    let _g = serial();
    configure(
        common::config()
            .generation_period(Duration::from_millis(1))
            .stream_backlog(4096),
    )
    .unwrap();
    start(SlowWriter).unwrap();
    for j in 0..20_000 {
        log(TaskId::BACKGROUND, "", &format!("slow:{j}"));
    }
    let res = stop();
    config(1000);
    assert!(
        matches!(res, Err(Error::WriterTooSlow { backlog: 4096 })),
        "{res:?}"
    );
}

#[test]
fn long_strings_are_truncated() {
    let _g = serial();
    config(1000);
    let long = "y".repeat(2000);
    let trace = record("long_strings", || log(TaskId::BACKGROUND, &long, &long));
    let logs = parse(&trace).logs();
    assert_eq!(logs[0].1.len(), 1024);
    assert_eq!(logs[0].2.len(), 1024);
}

#[inline(never)]
fn a_function_with_a_recognizable_name() {
    log(TaskId::BACKGROUND, "stacks", "here");
    // Not a tail call, so that this frame is on the stack.
    std::hint::black_box(&mut 0u64);
}

#[test]
fn stacks() {
    let _g = serial();
    configure(common::config().stacks(StackMode::Unwind)).unwrap();
    let trace = record("stacks", a_function_with_a_recognizable_name);
    configure(common::config()).unwrap();
    let t = parse(&trace);
    let (g, ev) = t
        .gens
        .iter()
        .flat_map(|g| g.events().map(move |(_, e)| (g, e.clone())))
        .find(|(_, e)| e.ty == ty::USER_LOG)
        .unwrap();
    let frames = &g.stacks[&ev.args[3]];
    assert!(
        frames[0].1.contains("a_function_with_a_recognizable_name"),
        "innermost frame is the caller's, recorder frames trimmed: {frames:#?}"
    );
    assert!(frames.iter().any(|f| f.1.contains("record::stacks")));
}

#[test]
fn stacks_from_frame_pointers_are_valid_with_or_without_frame_pointers() {
    let _g = serial();
    for mode in [StackMode::FramePointers, StackMode::Auto] {
        configure(common::config().stacks(mode)).unwrap();
        let trace = record(&format!("stacks_{mode:?}"), || {
            for i in 0..10 {
                a_function_with_a_recognizable_name();
                region_begin(TaskId::BACKGROUND, "r");
                region_end(TaskId::BACKGROUND, "r");
                log(TaskId::BACKGROUND, "i", &i.to_string());
            }
        });
        configure(common::config()).unwrap();
        // Whatever the walk found, the tables are complete and consistent.
        let t = parse(&trace);
        assert_eq!(t.count(ty::USER_LOG), 20);
    }
}

/// The Go 1.26 format's clock snapshots: every generation's sync batch
/// holds one, taken when the generation began; the reader hands it out on
/// the Sync event that opens the generation, with a wall time close to
/// `SystemTime::now()`; the three clocks it holds advance alike from one
/// generation to the next (they were read together). The Go 1.23 format
/// has none.
#[test]
fn clock_snapshots_carry_the_wall_time() {
    let _g = serial();
    configure(common::config().format(Format::Go126)).unwrap();
    let before = SystemTime::now();
    let trace = record("clock_snapshots", || {
        for i in 0..5 {
            log(TaskId::BACKGROUND, "clock", &i.to_string());
            thread::sleep(Duration::from_millis(10));
            advance().unwrap();
        }
    });
    let after = SystemTime::now();
    let t = parse(&trace);
    assert!(t.gens.len() >= 5);
    for g in &t.gens {
        // The batch's time is the snapshot's trace time (`dt` 0).
        let (time, clock) = g.sync.expect("a sync batch");
        assert_eq!(clock.dt, 0, "{clock:?}");
        assert!(time != 0 && clock.mono != 0 && clock.sec != 0, "{clock:?}");
    }

    let mut snapshots = Vec::new();
    let mut syncs = 0;
    for event in trace_reader::Reader::new(&trace[..]).unwrap() {
        let event = event.unwrap();
        if let Some(sync) = event.sync() {
            syncs += 1;
            snapshots.extend(sync.clock_snapshot);
        }
    }
    // One Sync per generation, carrying its snapshot, and a last one.
    assert_eq!(syncs, t.gens.len() + 1);
    assert_eq!(snapshots.len(), t.gens.len());
    // Allowance for a loaded machine, where the flusher can be preempted
    // between two clock reads.
    let slack = Duration::from_millis(25);
    for s in &snapshots {
        let wall = s.wall().unwrap();
        assert!(
            wall + slack >= before && wall <= after + slack,
            "{wall:?} not within {before:?}..{after:?}"
        );
        let now = SystemTime::now();
        assert!(now.duration_since(wall).unwrap() < Duration::from_secs(10));
    }
    let slack = slack.as_nanos() as i64;
    for w in snapshots.windows(2) {
        let wall = w[1].wall().unwrap().duration_since(w[0].wall().unwrap());
        let wall = wall.unwrap().as_nanos() as i64;
        let mono = w[1].mono as i64 - w[0].mono as i64;
        let trace = w[1].trace.nanos_since(w[0].trace);
        assert!(mono >= 10_000_000, "generations last 10 ms: {mono} ns");
        assert!(
            (wall - mono).abs() < slack,
            "wall {wall} ns, mono {mono} ns"
        );
        assert!(
            (trace - mono).abs() < slack,
            "trace {trace} ns, mono {mono} ns"
        );
    }

    configure(common::config().format(Format::Go123)).unwrap();
    let trace = record("clock_snapshots_go123", || {
        log(TaskId::BACKGROUND, "clock", "none")
    });
    config(1000);
    let reader = trace_reader::Reader::new(&trace[..]).unwrap();
    for event in reader {
        if let Some(sync) = event.unwrap().sync() {
            assert!(sync.clock_snapshot.is_none());
        }
    }
}
