//! Benchmarks of the annotation API (filled in below).
use criterion::{criterion_group, criterion_main, Criterion};

fn off(c: &mut Criterion) {
    c.bench_function("off/region_pair", |b| {
        b.iter(|| trace_annotate::with_region("r", || ()))
    });
}

criterion_group!(benches, off);
criterion_main!(benches);
