//! Traced futures as goroutines on a tokio multi-thread runtime, read back
//! with `trace-reader`: every task's goroutine has a consistent state
//! history, and the goroutines are the traced futures plus the threads.

mod common;

use common::serial;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trace_annotate::TracedExt;

/// Records `f` into a validated trace; returns its event lines.
fn record(name: &str, f: impl FnOnce()) -> Vec<String> {
    common::record(&format!("futures_{name}"), f)
}

/// Per goroutine, its transitions `(from, to)` in order.
fn histories(lines: &[String]) -> BTreeMap<u64, Vec<(String, String)>> {
    let mut out: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
    for l in lines {
        let first = l.lines().next().unwrap();
        if !first.contains(" GoID=") {
            continue;
        }
        let id = first.split("GoID=").nth(1).unwrap();
        let mut parts = id.split(' ');
        let g: u64 = parts.next().unwrap().parse().unwrap();
        let (from, to) = parts.next().unwrap().split_once("->").unwrap();
        out.entry(g)
            .or_default()
            .push((from.to_owned(), to.to_owned()));
    }
    out
}

/// Threads (M ids) that wrote events.
fn threads(lines: &[String]) -> BTreeSet<i64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("M=")?.split(' ').next()?.parse().ok())
        .filter(|&m: &i64| m >= 0)
        .collect()
}

/// Checks each goroutine's history: every transition starts where the
/// previous one ended; tasks are created and destroyed.
fn check(lines: &[String], tasks: &BTreeSet<u64>) {
    let hist = histories(lines);
    for (g, h) in &hist {
        for pair in h.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "goroutine {g}: {h:?}");
        }
        if tasks.contains(g) {
            assert_eq!(h.first().unwrap().0, "NotExist", "goroutine {g}: {h:?}");
            assert_eq!(h.last().unwrap().1, "NotExist", "goroutine {g}: {h:?}");
        }
    }
    for g in tasks {
        assert!(hist.contains_key(g), "task goroutine {g} missing");
    }
    let ms = threads(lines);
    assert_eq!(
        hist.len(),
        tasks.len() + ms.len(),
        "goroutines = traced futures + threads"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn tasks_sleep_yield_migrate_and_complete() {
    let _g = serial();
    let ids = Arc::new(Mutex::new(BTreeSet::new()));
    let lines = record("tokio", || {
        let rt = runtime();
        let ids2 = Arc::clone(&ids);
        rt.block_on(async move {
            let mut handles = Vec::new();
            for i in 0..50u64 {
                let fut = async move {
                    trace_annotate::log("step", "start");
                    tokio::time::sleep(Duration::from_micros(100 * (i % 5))).await;
                    tokio::task::yield_now().await;
                    // Woken during its own poll: ends the poll runnable.
                    let mut woke = false;
                    std::future::poll_fn(|cx| {
                        if std::mem::replace(&mut woke, true) {
                            return std::task::Poll::Ready(());
                        }
                        cx.waker().wake_by_ref();
                        std::task::Poll::Pending
                    })
                    .await;
                    {
                        let _r = trace_annotate::start_region("work");
                    }
                    i
                }
                .traced("job");
                ids2.lock().unwrap().insert(fut.goroutine());
                handles.push(tokio::spawn(fut));
            }
            for h in handles {
                h.await.unwrap();
            }
        });
        drop(rt);
    });
    check(&lines, &ids.lock().unwrap());
    assert!(lines
        .iter()
        .any(|l| l.contains("Reason=\"future pending\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("Reason=\"woken during poll\"")));
}

#[test]
fn woken_from_outside_and_dropped_early() {
    let _g = serial();
    let mut ids = BTreeSet::new();
    let lines = record("outside", || {
        let rt = runtime();
        // Woken by plain threads outside the runtime.
        let mut handles = Vec::new();
        for _ in 0..10 {
            let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
            let fut = async move { rx.await.unwrap() }.traced("recv");
            ids.insert(fut.goroutine());
            handles.push(rt.spawn(fut));
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                tx.send(7).unwrap();
            })
            .join()
            .unwrap();
        }
        for h in handles {
            assert_eq!(rt.block_on(h).unwrap(), 7);
        }
        // Dropped while waiting, and aborted.
        let (_tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let pending = async move { rx.await.ok() }.traced("abandoned");
        ids.insert(pending.goroutine());
        let h = rt.spawn(pending);
        std::thread::sleep(Duration::from_millis(5));
        h.abort();
        let _ = rt.block_on(h);
        // Never polled.
        let never = async {}.traced("never");
        ids.insert(never.goroutine());
        drop(never);
        // Nested: traced futures polled inside a traced future.
        let outer = async {
            let a = async { tokio::time::sleep(Duration::from_millis(1)).await }.traced("a");
            let b = async { tokio::task::yield_now().await }.traced("b");
            let ids = (a.goroutine(), b.goroutine());
            tokio::join!(a, b);
            ids
        }
        .traced("outer");
        ids.insert(outer.goroutine());
        let (a, b) = rt.block_on(rt.spawn(outer)).unwrap();
        ids.insert(a);
        ids.insert(b);
        drop(rt);
    });
    check(&lines, &ids);
}

#[test]
fn tasks_waiting_across_generations() {
    let _g = serial();
    let config = trace_runtime::config();
    trace_runtime::configure(config.clone().generation_period(Duration::from_millis(1))).unwrap();
    let mut ids = BTreeSet::new();
    let lines = record("generations", || {
        let rt = runtime();
        let mut handles = Vec::new();
        let mut senders = Vec::new();
        for i in 0..20u64 {
            let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
            senders.push(tx);
            let fut = async move {
                tokio::time::sleep(Duration::from_millis(2 + i % 4)).await;
                trace_annotate::log("step", "slept");
                let v = rx.await.unwrap();
                tokio::time::sleep(Duration::from_millis(3)).await;
                v
            }
            .traced("long");
            ids.insert(fut.goroutine());
            handles.push(rt.spawn(fut));
        }
        std::thread::sleep(Duration::from_millis(15));
        for (i, tx) in senders.into_iter().enumerate() {
            tx.send(i as u64).unwrap();
            if i % 5 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        for h in handles {
            rt.block_on(h).unwrap();
        }
        drop(rt);
    });
    trace_runtime::configure(config).unwrap();
    assert!(
        lines.iter().filter(|l| l.contains(" Sync ")).count() > 5,
        "several generations"
    );
    check(&lines, &ids);
}

/// A future whose first poll tells `entered` and then blocks its thread
/// until `release` fires: a long synchronous poll. The first poll returns
/// `Pending` (after waking itself if `wake`) or `Ready`.
fn long_poll(
    entered: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
    ready: bool,
    wake: bool,
) -> impl std::future::Future<Output = ()> + Send {
    let mut polls = 0;
    std::future::poll_fn(move |cx| {
        polls += 1;
        if polls > 1 {
            trace_annotate::log("poll", "again");
            return std::task::Poll::Ready(());
        }
        entered.send(()).unwrap();
        release.recv().unwrap();
        trace_annotate::log("poll", "released");
        if ready {
            return std::task::Poll::Ready(());
        }
        if wake {
            cx.waker().wake_by_ref();
        }
        std::task::Poll::Pending
    })
}

/// Polls `fut` on its own thread until it completes, with a waker that only
/// counts.
fn poll_on_thread<F: std::future::Future<Output = ()> + Send + 'static>(
    name: &str,
    fut: F,
) -> std::thread::JoinHandle<u32> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut fut = std::pin::pin!(fut);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let mut polls = 0;
            loop {
                polls += 1;
                if fut.as_mut().poll(&mut cx).is_ready() {
                    return polls;
                }
            }
        })
        .unwrap()
}

/// The goroutine history of `g` in `lines`.
fn history(lines: &[String], g: u64) -> Vec<(String, String)> {
    histories(lines).remove(&g).unwrap_or_default()
}

/// A poll that begins in one trace and lasts through the whole first
/// generation of the next one (tracing stops and starts again while it
/// runs): the second trace must state the task as running on the polling
/// thread before the poll ends.
#[test]
fn a_poll_spanning_the_first_generation_of_a_later_trace() {
    let _g = serial();
    for (ready, wake) in [(true, false), (false, false), (false, true)] {
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel();
        let fut = long_poll(entered_tx, release_rx, ready, wake).traced("long");
        let g = fut.goroutine();
        let mut poller = None;
        let first = record(&format!("span_first_{ready}_{wake}"), || {
            poller = Some(poll_on_thread("poller", fut));
            entered.recv().unwrap();
        });
        assert_eq!(
            history(&first, g).last().unwrap().1,
            "Running",
            "{first:#?}"
        );
        let second = record(&format!("span_second_{ready}_{wake}"), || {
            // The poll lasts through whole generations of this trace.
            trace_runtime::advance().unwrap();
            trace_runtime::advance().unwrap();
            release.send(()).unwrap();
            poller.take().unwrap().join().unwrap();
        });
        let h = history(&second, g);
        assert_eq!(
            h.first().unwrap(),
            &("Undetermined".into(), "Running".into()),
            "{second:#?}"
        );
        assert_eq!(h.last().unwrap().1, "NotExist", "{second:#?}");
        // The logs of the poll belong to the task.
        assert!(
            second
                .iter()
                .any(|l| l.contains(&format!(" G={g} Log")) && l.contains("released")),
            "{second:#?}"
        );
    }
}

/// A poll that begins while tracing is off, on a thread that never
/// recorded anything, and lasts through the whole first generation.
#[test]
fn a_poll_begun_while_tracing_is_off() {
    let _g = serial();
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let fut = long_poll(entered_tx, release_rx, false, false).traced("off");
    let g = fut.goroutine();
    let poller = poll_on_thread("off-poller", fut);
    entered.recv().unwrap();
    let lines = record("begun_off", || {
        trace_runtime::advance().unwrap();
        release.send(()).unwrap();
        assert_eq!(poller.join().unwrap(), 2);
    });
    let h = history(&lines, g);
    assert_eq!(h.last().unwrap().1, "NotExist", "{lines:#?}");
}

type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>>;

/// Creates a traced future in its destructor (a thread-local destructor)
/// and sends it away.
struct CreateOnDrop(std::sync::mpsc::Sender<trace_annotate::Traced<Boxed>>);

impl Drop for CreateOnDrop {
    fn drop(&mut self) {
        let fut: Boxed = Box::pin(async { 7 });
        let _ = self.0.send(fut.traced("teardown"));
        // And one polled to completion and one dropped right here.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut done = std::pin::pin!(async { 1 }.traced("teardown-done"));
        assert!(done.as_mut().poll(&mut cx).is_ready());
        drop(async { 2 }.traced("teardown-dropped"));
    }
}

thread_local! {
    static CREATE_ON_DROP: std::cell::RefCell<Option<CreateOnDrop>> =
        const { std::cell::RefCell::new(None) };
}

/// Async tasks created while a thread is torn down (thread-local
/// destructors running, before and after the recorder's own), then kept
/// alive across generations and polled on another thread.
#[test]
fn tasks_created_during_thread_teardown() {
    let _g = serial();
    let mut ids = BTreeSet::new();
    let lines = record("teardown", || {
        // Not in the first generation, where a status may introduce a
        // goroutine.
        trace_annotate::log("main", "start");
        trace_runtime::advance().unwrap();
        for recorder_first in [false, true] {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                if recorder_first {
                    // The recorder's thread-local first: its destructor
                    // runs after ours.
                    trace_annotate::log("thread", "start");
                }
                CREATE_ON_DROP.with(|c| *c.borrow_mut() = Some(CreateOnDrop(tx)));
                trace_annotate::log("thread", "working");
            })
            .join()
            .unwrap();
            let fut = rx.recv().unwrap();
            ids.insert(fut.goroutine());
            trace_runtime::advance().unwrap();
            trace_runtime::advance().unwrap();
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let mut fut = std::pin::pin!(fut);
            assert_eq!(fut.as_mut().poll(&mut cx), std::task::Poll::Ready(7));
            trace_runtime::advance().unwrap();
        }
    });
    for g in ids {
        let h = history(&lines, g);
        assert_eq!(h.last().unwrap().1, "NotExist", "goroutine {g}: {lines:#?}");
    }
}

/// Keeps every generation it receives, in order.
#[derive(Default)]
struct Generations(Mutex<Vec<(u64, Vec<u8>)>>);

impl trace_runtime::Subscriber for Generations {
    fn on_batches(&self, gen: trace_runtime::Generation, batches: &[u8]) {
        let mut gens = self.0.lock().unwrap();
        match gens.last_mut() {
            Some((g, bytes)) if *g == gen.get() => bytes.extend_from_slice(batches),
            _ => gens.push((gen.get(), batches.to_vec())),
        }
    }
    fn on_generation_end(&self, _: trace_runtime::Generation) {}
}

/// Tasks polled and woken from several threads while generations advance
/// every millisecond: a trace may begin at any generation (a flight
/// recorder's snapshot does), so every suffix of the generations must be a
/// valid trace. A task silent in a generation but touched early in the next
/// one (before the advancer's sweep) must still be stated in the first.
#[test]
fn every_generation_can_begin_a_trace() {
    let _g = serial();
    let config = trace_runtime::config();
    trace_runtime::configure(config.clone().generation_period(Duration::from_millis(1))).unwrap();
    let gens = Arc::new(Generations::default());
    let sub = trace_runtime::subscribe(gens.clone()).unwrap();
    let format = sub.format();
    let tasks: Arc<Vec<trace_runtime::AsyncTask>> = Arc::new(
        (0..64)
            .map(|_| trace_runtime::AsyncTask::new("churn"))
            .collect(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3u64)
        .map(|w| {
            let (tasks, stop) = (Arc::clone(&tasks), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut x = w + 1;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // xorshift: which task, and what to do to it.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Each worker owns the tasks it polls (a task is polled
                    // by one thread at a time), and wakes any.
                    let mine = (x % 21) as usize * 3 + w as usize;
                    let any = (x >> 8) as usize % tasks.len();
                    if x & 0x100 != 0 {
                        tasks[any].wake();
                    } else {
                        tasks[mine]
                            .poll_begin()
                            .end(trace_runtime::PollOutcome::Pending);
                    }
                    if x % 64 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    drop(tasks);
    sub.unsubscribe().unwrap();
    trace_runtime::configure(config).unwrap();
    let gens = gens.0.lock().unwrap();
    assert!(gens.len() > 20, "{} generations", gens.len());
    for k in 0..gens.len() {
        let mut trace = format.header().to_vec();
        for (_, bytes) in &gens[k..] {
            trace.extend_from_slice(bytes);
        }
        if k % 10 == 0 {
            common::save(&format!("futures_from_generation_{k}"), &trace);
        }
        let report = trace_reader::validate(&trace[..]);
        assert!(
            report.is_valid(),
            "from generation {} of {}..={}: {report}",
            gens[k].0,
            gens[0].0,
            gens[gens.len() - 1].0
        );
    }
}
