//! Generation limits: a registered period or byte bound shortens
//! generations while its guard lives, and `request_advance` from a
//! subscriber callback completes the generation without waiting.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use trace_runtime::Format;
use trace_runtime::{
    configure, limit_generations, log, request_advance, subscribe, Config, Generation,
    GenerationLimits, Subscriber, TaskId,
};
use trace_testkit::serial;

/// The format the tests record in (`trace_testkit::format_minor`).
fn format() -> Format {
    match trace_testkit::format_minor() {
        23 => Format::Go123,
        _ => Format::Go126,
    }
}

/// Records the size of every complete generation.
#[derive(Default)]
struct Sizes {
    open: Mutex<u64>,
    done: Mutex<Vec<u64>>,
    /// Generations left for which `on_batches` asks for an advance.
    requests: AtomicUsize,
    /// Whether `on_batches` asked already in the current generation (it
    /// may be called several times per generation).
    asked: AtomicBool,
}

impl Subscriber for Sizes {
    fn on_batches(&self, _: Generation, batches: &[u8]) {
        *self.open.lock().unwrap() += batches.len() as u64;
        if !self.asked.swap(true, Ordering::SeqCst)
            && self
                .requests
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            request_advance();
        }
    }
    fn on_generation_end(&self, _: Generation) {
        let bytes = std::mem::take(&mut *self.open.lock().unwrap());
        self.done.lock().unwrap().push(bytes);
        self.asked.store(false, Ordering::SeqCst);
    }
}

impl Sizes {
    /// Waits (at most a minute) until `n` generations are complete.
    fn wait_for(&self, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let done = self.done.lock().unwrap().clone();
            if done.len() >= n {
                return done;
            }
            assert!(Instant::now() < deadline, "only {} generations", done.len());
            log(TaskId::BACKGROUND, "limits", "tick");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Generations that would otherwise last an hour.
fn hour_long_generations() {
    configure(
        Config::default()
            .format(format())
            .generation_period(Duration::from_secs(3600)),
    )
    .unwrap();
}

#[test]
fn a_period_limit_shortens_generations() {
    let _g = serial();
    hour_long_generations();
    let sizes = Arc::new(Sizes::default());
    let sub = subscribe(sizes.clone()).unwrap();
    let guard =
        limit_generations(GenerationLimits::default().max_period(Duration::from_millis(10)));
    sizes.wait_for(4);
    drop(guard);
    sub.unsubscribe().unwrap();
    configure(Config::default().format(format())).unwrap();
}

#[test]
fn a_byte_limit_bounds_generations() {
    let _g = serial();
    hour_long_generations();
    let sizes = Arc::new(Sizes::default());
    let sub = subscribe(sizes.clone()).unwrap();
    const LIMIT: u64 = 256 << 10;
    let guard = limit_generations(GenerationLimits::default().max_bytes(LIMIT));
    // About 12 MB of logs from two threads.
    let writers: Vec<_> = (0..2)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..800_000u32 {
                    log(
                        TaskId::BACKGROUND,
                        "limits",
                        if i % 2 == t { "a" } else { "b" },
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    trace_runtime::advance().unwrap();
    let done = sizes.wait_for(1);
    drop(guard);
    sub.unsubscribe().unwrap();
    configure(Config::default().format(format())).unwrap();
    // Generations that would last an hour were cut by size. (How close to
    // the bound they stay depends on how fast the flusher gets a CPU: on a
    // loaded machine some overshoot by megabytes.)
    let total: u64 = done.iter().sum();
    assert!(total > 16 * LIMIT, "{total} bytes in {done:?}");
    assert!(done.len() >= 3, "{done:?}");
}

#[test]
fn request_advance_from_a_callback_completes_the_generation() {
    let _g = serial();
    hour_long_generations();
    let sizes = Arc::new(Sizes {
        requests: AtomicUsize::new(3),
        ..Sizes::default()
    });
    let sub = subscribe(sizes.clone()).unwrap();
    sizes.wait_for(3);
    sub.unsubscribe().unwrap();
    configure(Config::default().format(format())).unwrap();
}
