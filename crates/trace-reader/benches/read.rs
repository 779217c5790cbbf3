//! Reading a whole trace: every event, nothing else (the counterpart of Go's
//! `parseonly`). Reports bytes/s and events/s, with the default threading
//! (a background thread for large traces) and on the caller's thread only,
//! then the peak RSS of the process.
//!
//! The trace is `go123-large-mixedload` (26 MB, 4.9 M events) from the
//! shared corpus beside the workspace, or else the largest trace in
//! `testdata/traces`.
//!
//! ```sh
//! cargo bench -p trace-reader --bench read
//! ```

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trace_reader::{Reader, Threading};

const LARGE: &str = "go123-large-mixedload.trace";

/// The trace to read.
fn trace() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = workspace.join("../shared/go-traces/traces").join(LARGE);
    if shared.is_file() {
        return shared;
    }
    let dir = workspace.join("testdata/traces");
    fs::read_dir(&dir)
        .expect("testdata/traces")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .max_by_key(|p| fs::metadata(p).map_or(0, |m| m.len()))
        .expect("a trace in testdata/traces")
}

/// Reads every event of the trace at `path`; returns how many there were.
fn read(path: &Path, threading: Threading) -> u64 {
    let file = fs::File::open(path).expect("the trace");
    let mut reader = Reader::with_threading(file, threading).expect("a trace header");
    let mut events = 0;
    while let Some(event) = reader.read_event().expect("a valid trace") {
        black_box(&event);
        events += 1;
    }
    events
}

/// A line of `/proc/self/status` (Linux), e.g. `VmHWM`.
fn status(key: &str) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line[key.len() + 1..].trim().to_string())
}

fn bench(c: &mut Criterion) {
    let path = trace();
    let bytes = fs::metadata(&path).expect("the trace").len();
    let events = read(&path, Threading::Auto);
    let name = path.file_stem().unwrap_or_default().to_string_lossy();
    eprintln!("{name}: {bytes} bytes, {events} events");

    let mut g = c.benchmark_group(format!("read/{name}"));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    for (label, threading) in [("auto", Threading::Auto), ("one_thread", Threading::Never)] {
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(format!("{label}/bytes"), |b| {
            b.iter(|| read(&path, threading))
        });
        g.throughput(Throughput::Elements(events));
        g.bench_function(format!("{label}/events"), |b| {
            b.iter(|| read(&path, threading))
        });
    }
    g.finish();
    if let Some(hwm) = status("VmHWM") {
        eprintln!("peak RSS of the benchmark process (VmHWM): {hwm}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
