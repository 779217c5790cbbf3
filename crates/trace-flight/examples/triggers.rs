//! Trigger windows and keep-the-slowest on a service-like workload:
//! workers serve requests (tasks with regions and logs), a few are slow,
//! now and then one fails and logs an error. Rules dump a window around
//! every request slower than 100 ms and every error log (coalesced,
//! throttled); the five slowest requests of the run are kept and written
//! when the recorder stops. The dump directory is capped in count and
//! bytes, and described by its `manifest.json`.
//!
//! ```text
//! cargo run --release -p trace-flight --example triggers -- OUTDIR [--seconds N] [--format 1.23]
//! go tool trace OUTDIR/flight-000001-window.trace
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use trace_flight::{FlightRecorder, FlightRecorderConfig, KeepSlowest, Rule, TriggerConfig};

const WORKERS: usize = 2;
const KEEP: usize = 5;
const SLOW: Duration = Duration::from_millis(100);
const MAX_DUMPS: usize = 12;
const MAX_DIR_BYTES: u64 = 8 << 20;

/// Busy work standing in for parsing, computing, serializing.
fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A small deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Serves one request; returns its task id.
fn serve(request: u64, rng: &mut Rng) -> u64 {
    let task = trace_annotate::new_task("request");
    let id = task.id();
    task.log_fmt("request", format_args!("GET /items/{request}"));
    task.with_region("parse", || spin(Duration::from_micros(20)));
    let roll = rng.next() % 1000;
    task.with_region("handle", || {
        if roll < 4 {
            // A slow path: 60 to 400 ms, a different time each.
            task.log("cache", "miss");
            thread::sleep(Duration::from_millis(60 + rng.next() % 340));
        } else {
            spin(Duration::from_micros(20));
            thread::sleep(Duration::from_micros(300));
        }
    });
    if roll == 999 {
        task.log("error", "upstream timed out");
    }
    id
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut seconds = 8u64;
    let mut format = trace_runtime::Format::Go126;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().ok_or("--seconds N")?.parse()?,
            "--format" => {
                format = match args.next().as_deref() {
                    Some("1.23") => trace_runtime::Format::Go123,
                    Some("1.26") => trace_runtime::Format::Go126,
                    _ => return Err("--format 1.23|1.26".into()),
                }
            }
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    let dir = dir.ok_or("usage: triggers OUTDIR [--seconds N] [--format 1.23]")?;
    trace_runtime::configure(trace_runtime::Config::default().format(format))?;

    let mut triggers = TriggerConfig::new(&dir);
    triggers.rules = vec![Rule::slow_task("request", SLOW), Rule::log("error")];
    triggers.keep_slowest = vec![KeepSlowest::tasks("request", KEEP)];
    triggers.lookback = Duration::from_millis(500);
    triggers.lookforward = Duration::from_millis(200);
    triggers.cooldown = Duration::from_millis(500);
    triggers.max_dumps = MAX_DUMPS;
    triggers.max_dir_bytes = MAX_DIR_BYTES;
    let recorder = FlightRecorder::with_triggers(
        FlightRecorderConfig {
            min_age: Duration::from_secs(2),
            max_bytes: 4 << 20,
        },
        triggers,
    );
    recorder.start()?;

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    // (latency, task id) of every request.
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (stop, served, latencies) = (stop.clone(), served.clone(), latencies.clone());
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1));
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let request = served.fetch_add(1, Ordering::Relaxed);
                        let start = Instant::now();
                        let id = serve(request, &mut rng);
                        mine.push((start.elapsed(), id));
                    }
                    latencies.lock().unwrap().extend(mine);
                })
        })
        .collect::<Result<_, _>>()?;
    thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().map_err(|_| "a worker panicked")?;
    }
    let stats = recorder.stats();
    recorder.stop()?;
    let triggered = recorder.trigger_stats();

    // The slowest requests as the workload measured them.
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort_by_key(|l| std::cmp::Reverse(l.0));
    let slow = latencies.iter().filter(|(d, _)| *d > SLOW).count();

    // What the directory holds, from the manifest (one dump per line).
    let manifest = std::fs::read_to_string(dir.join("manifest.json"))?;
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut retained = Vec::new();
    for line in manifest.lines().filter(|l| l.contains("\"file\"")) {
        let kind = if line.contains("\"kind\": \"slowest\"") {
            "slowest"
        } else if line.contains("\"kind\": \"window\"") {
            "window"
        } else {
            "earlier"
        };
        *kinds.entry(kind).or_default() += 1;
        if kind == "slowest" {
            if let Some(ids) = line.split("\"task_ids\": [").nth(1) {
                let ids = ids.split(']').next().unwrap_or("");
                retained.extend(ids.split(", ").filter_map(|s| s.parse::<u64>().ok()));
            }
        }
    }
    let mut dir_bytes = 0;
    let mut n_files = 0;
    for e in std::fs::read_dir(&dir)? {
        dir_bytes += e?.metadata()?.len();
        n_files += 1;
    }
    let top: Vec<(Duration, u64)> = latencies.iter().take(KEEP).copied().collect();
    let found = top.iter().filter(|(_, id)| retained.contains(id)).count();

    println!(
        "{} requests in {seconds} s, {slow} slower than {SLOW:?}; ring peak {} KiB of {} KiB",
        latencies.len(),
        stats.peak_retained_bytes >> 10,
        4 << 10
    );
    println!(
        "triggers: {} windows, {} coalesced, {} suppressed; dumps: {} written, {} rotated, {} failed",
        triggered.windows,
        triggered.coalesced,
        triggered.suppressed,
        triggered.dumps_written,
        triggered.dumps_rotated,
        triggered.dumps_failed
    );
    println!(
        "{}: {n_files} files ({kinds:?} + manifest.json), {} KiB of a {} KiB cap, at most {MAX_DUMPS} dumps",
        dir.display(),
        dir_bytes >> 10,
        MAX_DIR_BYTES >> 10
    );
    println!("the {KEEP} slowest requests (measured by the workload) and whether a kept dump holds them:");
    for (d, id) in &top {
        let kept = if retained.contains(id) {
            "kept"
        } else {
            "MISSING"
        };
        println!("  task {id:>6}  {d:>10.1?}  {kept}");
    }
    println!("{found}/{KEEP} of the slowest requests are in retained dumps");
    if found < KEEP || dir_bytes > MAX_DIR_BYTES {
        return Err(
            "the slowest requests were not all retained, or the directory is over its cap".into(),
        );
    }
    Ok(())
}
