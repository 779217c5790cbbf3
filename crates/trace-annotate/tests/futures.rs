//! Traced futures as goroutines on a tokio multi-thread runtime, read back
//! with `trace-reader`: every task's goroutine has a consistent state
//! history, and the goroutines are the traced futures plus the threads.

mod common;

use common::serial;
use std::collections::{BTreeMap, BTreeSet};
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
        if !first.contains("Resource=Goroutine(") {
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
