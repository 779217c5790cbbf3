//! Decoding throughput of the wire layer: whole traces (batch framing, every
//! timed event, every table entry) and varints.
//!
//! The trace is the corpus's large trace when `../shared/go-traces` is beside
//! the workspace, otherwise the largest curated trace in `testdata/`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trace_wire::{varint, BatchKind, Batches, CpuSamples, EventCursor, Stacks, Strings};

fn trace_path() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let large = root.join("../shared/go-traces/traces/go123-large-mixedload.trace");
    if large.exists() {
        return large;
    }
    let dir = root.join("testdata/traces");
    let mut traces: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/traces exists")
        .map(|e| e.expect("readable").path())
        .collect();
    traces.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    traces.pop().expect("testdata/traces is not empty")
}

/// Decodes everything in the trace; returns the number of events and entries.
fn decode_all(data: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut batches = Batches::new(data).expect("valid header");
    let version = batches.version();
    while let Some(batch) = batches.next_batch().expect("valid batch") {
        let base = batch.payload_offset;
        match batch.kind(version) {
            BatchKind::Events => {
                let mut events = EventCursor::new(batch.payload, version, base);
                while let Some(e) = events.next_event().expect("valid event") {
                    n += 1;
                    black_box(e);
                }
            }
            BatchKind::Strings => {
                let mut s = Strings::new(batch.payload, base).expect("strings");
                while let Some(e) = s.next_string().expect("valid string") {
                    n += 1;
                    black_box(e);
                }
            }
            BatchKind::Stacks => {
                let mut s = Stacks::new(batch.payload, base).expect("stacks");
                while let Some(stack) = s.next_stack().expect("valid stack") {
                    n += 1;
                    for frame in stack.frames() {
                        black_box(frame);
                    }
                }
            }
            BatchKind::CpuSamples => {
                let mut s = CpuSamples::new(batch.payload, base).expect("samples");
                while let Some(e) = s.next_sample().expect("valid sample") {
                    n += 1;
                    black_box(e);
                }
            }
            _ => {}
        }
    }
    n
}

fn bench_trace(c: &mut Criterion) {
    let path = trace_path();
    let data = std::fs::read(&path).expect("trace readable");
    let n = decode_all(&data);
    eprintln!(
        "{}: {} bytes, {} events and table entries",
        path.display(),
        data.len(),
        n
    );
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.bench_function("whole trace", |b| b.iter(|| decode_all(black_box(&data))));
    group.finish();
}

fn bench_varint(c: &mut Criterion) {
    let mut group = c.benchmark_group("varint");
    for (name, value) in [
        ("1 byte", 100u64),
        ("3 bytes", 1 << 20),
        ("10 bytes", u64::MAX),
    ] {
        let mut buf = Vec::new();
        for _ in 0..1000 {
            varint::encode(value, &mut buf);
        }
        group.throughput(Throughput::Elements(1000));
        group.bench_function(format!("decode {name}"), |b| {
            b.iter(|| {
                let mut pos = 0;
                let mut sum = 0u64;
                while pos < buf.len() {
                    let (v, n) = varint::decode(&buf[pos..]).expect("valid");
                    sum = sum.wrapping_add(v);
                    pos += n;
                }
                sum
            })
        });
        group.bench_function(format!("encode {name}"), |b| {
            let mut out = Vec::with_capacity(buf.len());
            b.iter(|| {
                out.clear();
                for _ in 0..1000 {
                    varint::encode(black_box(value), &mut out);
                }
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_trace, bench_varint);
criterion_main!(benches);
