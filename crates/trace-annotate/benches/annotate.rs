//! The costs of `design.md` §5, measured in one run next to the floor (one
//! clock read) and two peers doing the same work: fastrace's `LocalSpan` and
//! `tracing` spans recorded by `tracing-chrome`.
//!
//! `cargo xtask bench` runs this with frame pointers forced on (for the
//! stack benchmark) and prints a table of the figures and their ratios.
//!
//! Groups: `clock` (the floor), `off` (tracing off), `on` (tracing on, a
//! subscriber that discards the bytes), `peers`.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use trace_annotate::{log, new_task, start_region};
use trace_runtime::{Generation, StackMode, Subscriber};

/// A subscriber that drops everything: measures recording, not writing.
struct Discard;

impl Subscriber for Discard {
    fn on_batches(&self, _: Generation, batches: &[u8]) {
        black_box(batches);
    }
    fn on_generation_end(&self, _: Generation) {}
}

fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.bench_function("read", |b| b.iter(trace_runtime::timestamp));
    g.bench_function("instant_now", |b| b.iter(Instant::now));
    // How the machine itself scales: the same clock reads on two threads.
    for threads in [1, 2] {
        g.bench_function(format!("read_{threads}_threads"), |b| {
            b.iter_custom(|iters| parallel(threads, iters, clock_read))
        });
    }
    g.finish();
}

fn off(c: &mut Criterion) {
    assert!(!trace_annotate::is_enabled());
    let mut g = c.benchmark_group("off");
    g.bench_function("is_enabled", |b| b.iter(trace_annotate::is_enabled));
    g.bench_function("region_pair", |b| {
        b.iter(|| drop(start_region(black_box("region"))))
    });
    g.bench_function("log", |b| b.iter(|| log(black_box("category"), "message")));
    g.bench_function("task", |b| b.iter(|| new_task(black_box("task")).end()));
    g.finish();
}

/// Recurses `depth` frames, then runs `f`.
#[inline(never)]
fn at_depth(depth: usize, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
    } else {
        at_depth(depth - 1, f);
    }
    black_box(depth);
}

/// Logs `iters` times from a fresh thread, [`STACK_DEPTH`] frames deep in
/// all (as recorded, without the recorder's own frames).
fn log_with_stack16(iters: u64) -> Duration {
    std::thread::spawn(move || {
        let mut elapsed = Duration::ZERO;
        at_depth(STACK_DEPTH - OTHER_FRAMES, &mut || {
            log("warm", "up"); // register the thread
            let start = Instant::now();
            for _ in 0..iters {
                log(black_box("category"), "message");
            }
            elapsed = start.elapsed();
        });
        elapsed
    })
    .join()
    .unwrap()
}

/// The stack depth of the stack benchmark.
const STACK_DEPTH: usize = 16;
/// Frames other than `at_depth(n)`'s `n`: `clone3`, `start_thread`, two in
/// std's thread start, the spawned closure, the innermost closure, and
/// `at_depth(0)` (checked with the unwinder).
const OTHER_FRAMES: usize = 7;

/// Runs `per_thread` iterations of `f` on each of `threads` threads at once;
/// returns the wall time (the per-thread cost when divided by `per_thread`).
fn parallel(threads: usize, per_thread: u64, f: fn()) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                f(); // register the thread outside the measurement
                barrier.wait();
                let start = Instant::now();
                for _ in 0..per_thread {
                    f();
                }
                start.elapsed()
            })
        })
        .collect();
    barrier.wait();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

fn clock_read() {
    black_box(trace_runtime::timestamp());
}

fn region_pair() {
    drop(start_region(black_box("region")));
}

fn on(c: &mut Criterion) {
    let sub = trace_runtime::subscribe(Arc::new(Discard)).unwrap();
    let mut g = c.benchmark_group("on");
    g.bench_function("region_pair", |b| b.iter(region_pair));
    g.bench_function("log", |b| b.iter(|| log(black_box("category"), "message")));
    g.bench_function("task", |b| b.iter(|| new_task(black_box("task")).end()));
    for threads in [1, 2] {
        g.bench_function(format!("region_pair_{threads}_threads"), |b| {
            b.iter_custom(|iters| parallel(threads, iters, region_pair))
        });
    }
    let config = trace_runtime::config();
    trace_runtime::configure(config.clone().stacks(StackMode::FramePointers)).unwrap();
    g.bench_function("log_stack16_frame_pointers", |b| {
        b.iter_custom(log_with_stack16)
    });
    trace_runtime::configure(config.clone().stacks(StackMode::Unwind)).unwrap();
    g.bench_function("log_stack16_unwind", |b| b.iter_custom(log_with_stack16));
    trace_runtime::configure(config).unwrap();
    g.finish();
    sub.unsubscribe().unwrap();
}

struct NullReporter;

impl fastrace::collector::Reporter for NullReporter {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

fn peers(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers");
    fastrace::set_reporter(NullReporter, fastrace::collector::Config::default());
    g.bench_function("fastrace_local_span", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                // One root per 1000 spans, inside fastrace's local queue size.
                let n = left.min(1000);
                left -= n;
                let root = fastrace::Span::root("root", fastrace::prelude::SpanContext::random());
                let guard = root.set_local_parent();
                let start = Instant::now();
                for _ in 0..n {
                    let _span = fastrace::local::LocalSpan::enter_with_local_parent("span");
                }
                elapsed += start.elapsed();
                drop(guard);
            }
            elapsed
        })
    });
    {
        use tracing_subscriber::layer::SubscriberExt;
        let (chrome, _flush) = tracing_chrome::ChromeLayerBuilder::new()
            .writer(std::io::sink())
            .build();
        let subscriber = tracing_subscriber::registry().with(chrome);
        tracing::subscriber::with_default(subscriber, || {
            g.bench_function("tracing_chrome_span", |b| {
                b.iter(|| {
                    let span = tracing::info_span!("span");
                    let _enter = span.enter();
                })
            });
        });
    }
    g.finish();
}

/// Span enter + exit through `TraceLayer` (a region pair), and a whole span
/// (task begin, region pair, task end), while recording.
fn layer(c: &mut Criterion) {
    use tracing_subscriber::layer::SubscriberExt;
    let sub = trace_runtime::subscribe(Arc::new(Discard)).unwrap();
    let mut g = c.benchmark_group("layer");
    // The floor of the layer's increment: the registry alone (no layer).
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = tracing::info_span!("span");
        g.bench_function("registry_span_enter_exit", |b| {
            b.iter(|| {
                let _enter = black_box(&span).enter();
            })
        });
        g.bench_function("registry_span_new_enter_exit_close", |b| {
            b.iter(|| {
                let span = tracing::info_span!("span");
                let _enter = span.enter();
            })
        });
    });
    // The same pair as `span_enter_exit` with the events written directly.
    g.bench_function("region_pair", |b| b.iter(region_pair));
    let subscriber = tracing_subscriber::registry().with(trace_annotate::TraceLayer::new());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("span");
        g.bench_function("span_enter_exit", |b| {
            b.iter(|| {
                let _enter = black_box(&span).enter();
            })
        });
        g.bench_function("span_new_enter_exit_close", |b| {
            b.iter(|| {
                let span = tracing::info_span!("span");
                let _enter = span.enter();
            })
        });
    });
    g.finish();
    sub.unsubscribe().unwrap();
}

/// Polls of traced futures while tracing is off, next to the same polls of
/// plain futures: `poll_pending` polls a future that stays pending (one
/// poll), `ready` wraps, polls to completion and drops a ready future.
fn future(c: &mut Criterion) {
    use std::future::Future;
    use std::task::{Context, Waker};
    use trace_annotate::TracedExt;
    assert!(!trace_annotate::is_enabled());
    let mut g = c.benchmark_group("future_off");
    let mut cx = Context::from_waker(Waker::noop());
    let mut plain = std::pin::pin!(std::future::pending::<()>());
    g.bench_function("poll_pending_plain", |b| {
        b.iter(|| black_box(plain.as_mut().poll(&mut cx)))
    });
    let mut traced = std::pin::pin!(std::future::pending::<()>().traced("pending"));
    g.bench_function("poll_pending_traced", |b| {
        b.iter(|| black_box(traced.as_mut().poll(&mut cx)))
    });
    g.bench_function("ready_plain", |b| {
        b.iter(|| {
            let mut f = std::pin::pin!(std::future::ready(black_box(1)));
            black_box(f.as_mut().poll(&mut cx))
        })
    });
    g.bench_function("ready_traced", |b| {
        b.iter(|| {
            let mut f = std::pin::pin!(std::future::ready(black_box(1)).traced("ready"));
            black_box(f.as_mut().poll(&mut cx))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = clock, off, on, peers, layer, future
}
criterion_main!(benches);
