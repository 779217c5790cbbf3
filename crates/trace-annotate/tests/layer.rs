//! The `tracing` layer: spans as tasks and regions, events as logs, read
//! back with `trace-reader`.

mod common;

use common::serial;
use std::thread;

use trace_annotate::TraceLayer;
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// Records `f` into a validated trace; returns its event lines.
fn record(name: &str, f: impl FnOnce()) -> Vec<String> {
    common::record(&format!("layer_{name}"), f)
}

fn count(lines: &[String], pat: &str) -> usize {
    lines.iter().filter(|l| l.contains(pat)).count()
}

#[test]
fn spans_become_tasks_and_regions_and_events_logs() {
    let _g = serial();
    // A console printing INFO and up, next to the trace recording DEBUG.
    let console = common::Capture::default();
    let writer = console.clone();
    let console_layer = tracing_subscriber::fmt::layer()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_filter(LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry()
        .with(TraceLayer::new().with_filter(LevelFilter::DEBUG))
        .with(console_layer);
    let lines = record("basic", || {
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("request", id = 1);
            let _o = outer.enter();
            tracing::info!(user = "ada", "start");
            {
                let inner = tracing::debug_span!("parse");
                let _i = inner.enter();
                tracing::debug!(bytes = 512, "parsed");
                // Below the trace layer's level: recorded nowhere.
                tracing::trace!("hidden");
            }
        });
    });
    assert_eq!(count(&lines, "TaskBegin"), 2, "{lines:#?}");
    assert_eq!(count(&lines, "TaskEnd"), 2);
    assert_eq!(count(&lines, "Type=\"request\""), 4, "{lines:#?}");
    assert_eq!(count(&lines, "RegionBegin"), 2);
    assert_eq!(count(&lines, "RegionEnd"), 2);
    assert!(lines
        .iter()
        .any(|l| l.contains("Log") && l.contains("Message=\"parsed bytes=512\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("Log") && l.contains("Category=\"layer\"")));
    assert_eq!(count(&lines, " Log "), 2, "{lines:#?}");
    // The parent's task is the child's parent.
    let request = lines
        .iter()
        .find(|l| l.contains("TaskBegin") && l.contains("\"request\""))
        .unwrap();
    let id = request
        .split("ID=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(lines
        .iter()
        .any(|l| l.contains("Type=\"parse\"") && l.contains(&format!("Parent={id}"))));
    // The console saw INFO only.
    let console = String::from_utf8(console.0.lock().unwrap().clone()).unwrap();
    assert!(console.contains("start"), "{console}");
    assert!(!console.contains("parsed"), "{console}");
}

#[test]
fn spans_entered_on_many_threads_and_closed_elsewhere() {
    let _g = serial();
    let subscriber = tracing_subscriber::registry().with(TraceLayer::new());
    let dispatch = tracing::Dispatch::new(subscriber);
    let lines = record("threads", || {
        let span = tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("shared"));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let span = span.clone();
                let dispatch = dispatch.clone();
                thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _e = span.enter();
                        let child = tracing::info_span!("child", i);
                        let c = child.enter();
                        tracing::info!(i, "working");
                        drop(c);
                        child
                    })
                })
            })
            .collect();
        let children: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // Closed on this thread, entered on others (the registry closes
        // parents through the thread's default dispatcher).
        tracing::dispatcher::with_default(&dispatch, || {
            drop(children);
            drop(span);
        });
    });
    assert_eq!(count(&lines, "TaskBegin"), 5, "{lines:#?}");
    assert_eq!(count(&lines, "TaskEnd"), 5);
    assert_eq!(count(&lines, "RegionBegin"), 8);
    assert_eq!(count(&lines, "RegionEnd"), 8);
}

#[test]
fn instrumented_futures_on_tokio() {
    let _g = serial();
    let subscriber = tracing_subscriber::registry().with(TraceLayer::new());
    let dispatch = tracing::Dispatch::new(subscriber);
    let lines = record("instrument", || {
        let worker_dispatch = dispatch.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .on_thread_start(move || {
                // The workers' events go to this test's subscriber.
                std::mem::forget(tracing::dispatcher::set_default(&worker_dispatch));
            })
            .enable_time()
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            rt.block_on(async {
                let tasks: Vec<_> = (0..20)
                    .map(|i| {
                        tokio::spawn(
                            async move {
                                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                                tracing::info!(i, "slept");
                                tokio::task::yield_now().await;
                            }
                            .instrument(tracing::info_span!("req", i)),
                        )
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        });
        drop(rt);
    });
    assert_eq!(count(&lines, "TaskBegin"), 20);
    assert_eq!(count(&lines, "TaskEnd"), 20);
    assert_eq!(count(&lines, "RegionBegin"), count(&lines, "RegionEnd"));
    assert!(count(&lines, "RegionBegin") >= 40);
    assert_eq!(count(&lines, " Log "), 20);
}
