//! The flight recorder's costs (`design.md` §5): snapshot latency for a
//! 10 MiB window (target ≤ 10 ms, writers not blocked), and the hot-path
//! cost of an annotation with a recorder running vs not, next to the floor
//! (one clock read) measured in the same run.
//!
//! Groups: `clock` (the floor), `hot_path` (a region begin+end pair: tracing
//! off, a flight recorder, a stream to `io::sink`, a recorder while another
//! thread snapshots it every 10 ms, a recorder whose rules and retention
//! watch that very region, so that its flusher reads every pair back), `snapshot` (`write_to` of a 10 MiB
//! window to `io::sink` and to a reused `Vec`, and `snapshot()` alone, which
//! shares the generations without copying).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use trace_annotate::start_region;
use trace_flight::{FlightRecorder, FlightRecorderConfig, KeepSlowest, Rule, TriggerConfig};

fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.bench_function("read", |b| b.iter(trace_runtime::timestamp));
    g.finish();
}

fn region_pair() {
    drop(start_region(black_box("region")));
}

fn hot_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot_path");
    assert!(!trace_annotate::is_enabled());
    g.bench_function("region_pair/off", |b| b.iter(region_pair));

    let recorder = Arc::new(FlightRecorder::default());
    recorder.start().unwrap();
    g.bench_function("region_pair/flight_recorder", |b| b.iter(region_pair));

    // The same, while another thread takes a snapshot every 10 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let snapshotter = {
        let (recorder, stop) = (recorder.clone(), stop.clone());
        thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                recorder.write_to(&mut std::io::sink()).unwrap();
                n += 1;
                thread::sleep(Duration::from_millis(10));
            }
            n
        })
    };
    g.bench_function("region_pair/flight_recorder_snapshotting", |b| {
        b.iter(region_pair)
    });
    stop.store(true, Ordering::Relaxed);
    let n = snapshotter.join().unwrap();
    eprintln!("hot_path: {n} snapshots taken during region_pair/flight_recorder_snapshotting");
    recorder.stop().unwrap();

    // Rules and retention on the benchmarked region: the flusher scans
    // every delivery; the recording thread does what it did without.
    let dir = std::env::temp_dir().join(format!("trace-flight-bench-{}", std::process::id()));
    let mut triggers = TriggerConfig::new(&dir);
    triggers
        .rules
        .push(Rule::slow_region("region", Duration::from_secs(1)));
    triggers
        .keep_slowest
        .push(KeepSlowest::regions("region", 5));
    let recorder = FlightRecorder::with_triggers(FlightRecorderConfig::default(), triggers);
    recorder.start().unwrap();
    g.bench_function("region_pair/flight_recorder_with_rules", |b| {
        b.iter(region_pair)
    });
    let stats = recorder.stats();
    recorder.stop().unwrap();
    eprintln!(
        "hot_path: with rules: {stats:?}, {:?}",
        recorder.trigger_stats()
    );
    let _ = std::fs::remove_dir_all(&dir);

    trace_runtime::start(std::io::sink()).unwrap();
    g.bench_function("region_pair/stream_to_sink", |b| b.iter(region_pair));
    trace_runtime::stop().unwrap();
    g.finish();
}

/// A recorder holding about `bytes` of complete generations.
fn filled(bytes: u64) -> FlightRecorder {
    let recorder = FlightRecorder::new(FlightRecorderConfig {
        max_bytes: bytes + bytes / 2,
        min_age: Duration::from_secs(3600),
    });
    recorder.start().unwrap();
    while recorder.stats().retained_bytes < bytes {
        for _ in 0..10_000 {
            trace_annotate::log("fill", "the quick brown fox");
        }
    }
    trace_runtime::advance().unwrap();
    recorder
}

fn snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(30);
    let recorder = filled(10 << 20);
    let first = recorder.snapshot().unwrap();
    eprintln!(
        "snapshot: window of {:.2} MiB in {} generations",
        first.size() as f64 / (1 << 20) as f64,
        first.generations()
    );
    drop(first);
    g.bench_function("10MiB/write_to_sink", |b| {
        b.iter(|| recorder.write_to(&mut std::io::sink()).unwrap())
    });
    let mut buf = Vec::with_capacity(16 << 20);
    g.bench_function("10MiB/write_to_vec", |b| {
        b.iter(|| {
            buf.clear();
            recorder.write_to(&mut buf).unwrap()
        })
    });
    g.bench_function("10MiB/snapshot_only", |b| {
        b.iter(|| recorder.snapshot().unwrap())
    });
    recorder.stop().unwrap();
    g.finish();
}

criterion_group!(benches, clock, hot_path, snapshot);
criterion_main!(benches);
