//! A service-like workload under an always-on flight recorder: workers
//! serve requests (tasks with regions and logs), one request in many is
//! slow, and the first slow one triggers a snapshot. The example then reads
//! the snapshot back and prints the slow request's task as found in it.
//!
//! ```text
//! cargo run --release -p trace-flight --example flight -- OUT.trace [--format 1.23]
//! go tool trace OUT.trace
//! ```
//!
//! The snapshot is in the Go 1.26 format (what Go 1.26 and 1.27 write),
//! or with `--format 1.23` in Go 1.23's.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use trace_flight::{FlightRecorder, FlightRecorderConfig};
use trace_reader::{EventKind, Reader};

/// One request in this many is slow.
const SLOW_EVERY: u64 = 500;
/// A request slower than this triggers the snapshot.
const SLOW: Duration = Duration::from_millis(25);
const WORKERS: usize = 4;

/// What the worker that saw the slow request reports.
struct Slow {
    request: u64,
    task: u64,
    latency: Duration,
    snapshot_bytes: u64,
}

/// Busy work standing in for parsing, computing, serializing.
fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Serves one request; returns its task id.
fn serve(request: u64) -> u64 {
    let task = trace_annotate::new_task("request");
    let id = task.id();
    task.log_fmt("request", format_args!("GET /items/{request}"));
    task.with_region("parse", || spin(Duration::from_micros(20)));
    task.with_region("handle", || {
        if request % SLOW_EVERY == SLOW_EVERY - 1 {
            // A cache miss: the slow path.
            task.log("cache", "miss");
            thread::sleep(Duration::from_millis(50));
        } else {
            // A cache hit: a little work and a short wait for I/O.
            spin(Duration::from_micros(20));
            thread::sleep(Duration::from_micros(200));
        }
    });
    task.with_region("respond", || spin(Duration::from_micros(10)));
    task.end();
    id
}

const USAGE: &str = "usage: flight OUT.trace [--format 1.23|1.26]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let format = match args.get(1..).unwrap_or_default() {
        [] => trace_runtime::Format::Go126,
        [flag, v] if flag == "--format" && v == "1.26" => trace_runtime::Format::Go126,
        [flag, v] if flag == "--format" && v == "1.23" => trace_runtime::Format::Go123,
        _ => return Err(USAGE.into()),
    };
    let out = args.first().ok_or(USAGE)?.clone();
    trace_runtime::configure(trace_runtime::Config::default().format(format))?;
    let recorder = Arc::new(FlightRecorder::new(FlightRecorderConfig {
        min_age: Duration::from_secs(2),
        max_bytes: 4 << 20,
    }));
    recorder.start()?;

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let slow: Arc<Mutex<Option<Slow>>> = Arc::default();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (next, done, slow) = (next.clone(), done.clone(), slow.clone());
            let (recorder, out) = (recorder.clone(), out.clone());
            thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn(move || {
                    while !done.load(Ordering::Relaxed) {
                        let request = next.fetch_add(1, Ordering::Relaxed);
                        let start = Instant::now();
                        let task = serve(request);
                        let latency = start.elapsed();
                        if latency > SLOW && !done.swap(true, Ordering::SeqCst) {
                            // The first slow request: snapshot the window.
                            let mut file = BufWriter::new(File::create(&out).expect("create OUT"));
                            let n = recorder.write_to(&mut file).expect("snapshot");
                            *slow.lock().unwrap() = Some(Slow {
                                request,
                                task,
                                latency,
                                snapshot_bytes: n,
                            });
                        }
                    }
                })
                .expect("spawn a worker")
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a worker panicked")?;
    }
    let stats = recorder.stats();
    recorder.stop()?;
    let slow = slow.lock().unwrap().take().ok_or("no slow request")?;
    println!(
        "request #{} took {:.1} ms: wrote a {:.2} MiB snapshot to {out} \
         ({} requests served, {} generations in the window)",
        slow.request,
        slow.latency.as_secs_f64() * 1e3,
        slow.snapshot_bytes as f64 / (1 << 20) as f64,
        next.load(Ordering::Relaxed),
        stats.generations,
    );
    report(&out, slow.task)?;
    println!("open it with: go tool trace {out}");
    Ok(())
}

/// Finds task `id` in the trace at `path` and prints its span, regions and
/// logs.
fn report(path: &str, id: u64) -> Result<(), Box<dyn std::error::Error>> {
    let reader = Reader::new(BufReader::new(File::open(path)?))?;
    let (mut begin, mut end) = (None, None);
    let mut regions: Vec<(String, i64, Option<i64>)> = Vec::new();
    let mut logs = Vec::new();
    let mut n_events = 0u64;
    for event in reader {
        let event = event?;
        n_events += 1;
        let t = event.time().0;
        match event.kind() {
            EventKind::TaskBegin if event.task().is_some_and(|k| k.id.0 == id) => {
                begin = Some((t, event.task().unwrap().ty.to_string_lossy().into_owned()));
            }
            EventKind::TaskEnd if event.task().is_some_and(|k| k.id.0 == id) => end = Some(t),
            EventKind::RegionBegin | EventKind::RegionEnd => {
                let Some(r) = event.region().filter(|r| r.task.0 == id) else {
                    continue;
                };
                let name = r.ty.to_string_lossy().into_owned();
                if event.kind() == EventKind::RegionBegin {
                    regions.push((name, t, None));
                } else if let Some(open) = regions
                    .iter_mut()
                    .rev()
                    .find(|o| o.0 == name && o.2.is_none())
                {
                    open.2 = Some(t);
                }
            }
            EventKind::Log => {
                if let Some(l) = event.log().filter(|l| l.task.0 == id) {
                    logs.push(format!(
                        "{}={}",
                        l.category.to_string_lossy(),
                        l.message.to_string_lossy()
                    ));
                }
            }
            _ => {}
        }
    }
    let (Some((begin, name)), Some(end)) = (begin, end) else {
        return Err(format!("task {id} is not in the snapshot ({n_events} events)").into());
    };
    let ms = |d: i64| d as f64 / 1e6;
    println!(
        "found task {id} ({name:?}) in the snapshot ({n_events} events): {:.3} ms",
        ms(end - begin)
    );
    for (region, b, e) in &regions {
        match e {
            Some(e) => println!("  region {region:<8} {:>9.3} ms", ms(e - b)),
            None => println!("  region {region:<8} (no end in the snapshot)"),
        }
    }
    println!("  logs: {}", logs.join(", "));
    Ok(())
}
