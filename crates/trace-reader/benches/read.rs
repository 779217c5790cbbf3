//! Reading a whole trace: every event, nothing else (the counterpart of Go's
//! `parseonly`), and validating it (what `trace-tool validate` does).
//! Reports bytes/s and events/s, with the default threading (a background
//! thread for large traces) and on the caller's thread only, then the peak
//! RSS of the process.
//!
//! The traces are the large ones of the shared corpora beside the workspace:
//! `go123-large-mixedload` (Go 1.23, 26 MB, 4.9 M events) and
//! `go127-large-mixedload` (Go 1.27, the 1.26 format, 10 MB, 1.9 M events);
//! without them, the largest trace in `testdata/traces`.
//!
//! ```sh
//! cargo bench -p trace-reader --bench read
//! ```
//!
//! Go's side, for comparison: `parseonly.go` (`../shared/go-traces/tools`)
//! built inside Go 1.27's tree (`go build -overlay` standing in for a
//! command under `src/internal/trace`), run on the same files.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trace_reader::{validate, Options, Reader, Threading};

/// The traces to read.
fn traces() -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared: Vec<PathBuf> = [
        "../shared/go-traces/traces/go123-large-mixedload.trace",
        "../shared/go-traces-current/traces/go127-large-mixedload.trace",
    ]
    .iter()
    .map(|p| workspace.join(p))
    .filter(|p| p.is_file())
    .collect();
    if !shared.is_empty() {
        return shared;
    }
    let dir = workspace.join("testdata/traces");
    let largest = fs::read_dir(&dir)
        .expect("testdata/traces")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .max_by_key(|p| fs::metadata(p).map_or(0, |m| m.len()))
        .expect("a trace in testdata/traces");
    vec![largest]
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

/// Reads every event with [`Reader::read_event_ref`].
fn read_lent(path: &Path) -> u64 {
    let file = fs::File::open(path).expect("the trace");
    let mut reader = Reader::with_options(file, Options::new()).expect("a trace header");
    let mut events = 0;
    while let Some(event) = reader.read_event_ref().expect("a valid trace") {
        black_box(event);
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
    for path in traces() {
        let bytes = fs::metadata(&path).expect("the trace").len();
        let events = read(&path, Threading::Auto);
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        eprintln!("{name}: {bytes} bytes, {events} events");

        let mut g = c.benchmark_group(format!("read/{name}"));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(4));
        g.throughput(Throughput::Bytes(bytes));
        for (label, threading) in [("auto", Threading::Auto), ("one_thread", Threading::Never)] {
            g.bench_function(label, |b| b.iter(|| read(&path, threading)));
        }
        g.bench_function("lent", |b| b.iter(|| read_lent(&path)));
        g.bench_function("validate", |b| {
            b.iter(|| {
                let report = validate(std::io::BufReader::new(
                    fs::File::open(&path).expect("the trace"),
                ));
                assert!(report.is_valid(), "{report}");
                report.n_events
            })
        });
        g.finish();
    }
    if let Some(hwm) = status("VmHWM") {
        eprintln!("peak RSS of the benchmark process (VmHWM): {hwm}");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
