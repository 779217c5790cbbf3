//! Window queries over a stored row (see `trace_view::Row`) against the
//! same slices in memory: a row of 1,000,000 short slices with a long one
//! every thousand, asked for the whole row at a screen's resolution
//! (blocks shorter than it are merged from the directory, unread), for a
//! zoomed-in window at full detail (blocks read and decoded), and for a
//! single slice by index.
//!
//! ```sh
//! cargo bench -p trace-view --bench window
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use trace_view::query::{decimate, decimate_row};
use trace_view::{Row, Slice, SliceKind};

fn row() -> Vec<Slice> {
    let mut out = Vec::with_capacity(1_000_000);
    let mut t = 0i64;
    for i in 0..1_000_000i64 {
        let dur = if i % 1000 == 0 {
            2_000_000
        } else {
            200 + i % 700
        };
        out.push(Slice {
            start: t,
            end: t + dur,
            extra: (i % 50) as u64,
            arg: (i % 7) as u32,
            stack0: (i % 300) as u32,
            stack1: (i % 200) as u32,
            kind: SliceKind::from_code((i % 4 + 1) as u8).unwrap_or(SliceKind::Running),
        });
        t += dur + 100;
    }
    out
}

fn bench(c: &mut Criterion) {
    let slices = row();
    let stored = Row::from_slices(&slices);
    let span = slices.last().map_or(1, |s| s.end);
    let screen = span / 2000;
    let mut g = c.benchmark_group("window");
    let mut items = Vec::new();
    g.bench_function("whole row at a screen's resolution, stored", |b| {
        b.iter(|| {
            items.clear();
            decimate(&stored, 0, span + 1, screen, &mut items).unwrap();
            black_box(items.len())
        })
    });
    g.bench_function("whole row at a screen's resolution, in memory", |b| {
        b.iter(|| {
            items.clear();
            decimate_row(&slices, 0, span + 1, screen, &mut items);
            black_box(items.len())
        })
    });
    let (t0, t1) = (span / 2, span / 2 + span / 1000);
    g.bench_function("0.1% of the row at full detail, stored", |b| {
        b.iter(|| {
            items.clear();
            decimate(&stored, t0, t1, 0, &mut items).unwrap();
            black_box(items.len())
        })
    });
    g.bench_function("0.1% of the row at full detail, in memory", |b| {
        b.iter(|| {
            items.clear();
            decimate_row(&slices, t0, t1, 0, &mut items);
            black_box(items.len())
        })
    });
    g.bench_function("one slice by index, stored", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % slices.len();
            black_box(stored.get(i).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
