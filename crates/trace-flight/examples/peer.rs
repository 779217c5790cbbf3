//! Our side of `cargo xtask peer`: the workload of `xtask/src/peer/peer.go`
//! against our recorder, printed as the same key=value lines: the cost of a
//! region pair with tracing off and with a recorder on, then snapshot
//! latency and size every 50 ms while worker threads serve requests
//! (tasks, regions, logs).
//!
//! ```text
//! cargo run --release -p trace-flight --example peer -- [--seconds S] [--workers N] [--max-bytes B] [--pairs N]
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use trace_flight::{FlightRecorder, FlightRecorderConfig};

fn region_pair() {
    drop(trace_annotate::start_region(black_box("region")));
}

/// Times `n` region pairs on this thread.
fn ns_per_pair(n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        region_pair();
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seconds = 3.0f64;
    let mut workers = 2usize;
    let mut max_bytes = 10u64 << 20;
    let mut pairs = 1_000_000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or("a flag without its value")?;
        match arg.as_str() {
            "--seconds" => seconds = value.parse()?,
            "--workers" => workers = value.parse()?,
            "--max-bytes" => max_bytes = value.parse()?,
            "--pairs" => pairs = value.parse()?,
            _ => return Err(format!("unknown flag {arg}").into()),
        }
    }

    println!("region_pair_off_ns={:.2}", ns_per_pair(pairs));
    let recorder = FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_secs(10),
        max_bytes,
    });
    recorder.start()?;
    println!("region_pair_on_ns={:.2}", ns_per_pair(pairs));

    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let task = trace_annotate::new_task("request");
                    drop(task.start_region("handle"));
                    task.log("request", "served");
                    task.end();
                }
            })
        })
        .collect();
    let mut buf = Vec::new();
    let (mut n, mut sum, mut max, mut largest) = (0u32, Duration::ZERO, Duration::ZERO, 0usize);
    // The capture alone (the advance and the shared references), which is
    // what holds the recorder; the rest is copying bytes to `buf`.
    let (mut capture_sum, mut capture_max) = (Duration::ZERO, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        buf.clear();
        let start = Instant::now();
        let snapshot = recorder.snapshot()?;
        let captured = start.elapsed();
        snapshot.write_to(&mut buf)?;
        let d = start.elapsed();
        capture_sum += captured;
        capture_max = capture_max.max(captured);
        n += 1;
        sum += d;
        max = max.max(d);
        largest = largest.max(buf.len());
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| "a worker panicked")?;
    }
    let stats = recorder.stats();
    recorder.stop()?;
    println!("snapshots={n}");
    println!(
        "snapshot_mean_ms={:.3}",
        sum.as_secs_f64() * 1e3 / f64::from(n.max(1))
    );
    println!("snapshot_max_ms={:.3}", max.as_secs_f64() * 1e3);
    println!(
        "capture_mean_ms={:.3}",
        capture_sum.as_secs_f64() * 1e3 / f64::from(n.max(1))
    );
    println!("capture_max_ms={:.3}", capture_max.as_secs_f64() * 1e3);
    println!("snapshot_largest_bytes={largest}");
    println!("max_bytes={max_bytes}");
    println!("peak_retained_bytes={}", stats.peak_retained_bytes);
    Ok(())
}
