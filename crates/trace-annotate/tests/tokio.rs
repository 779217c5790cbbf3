//! The Tokio integration: parked workers block their goroutines ("idle"),
//! and `spawn` makes a goroutine named after the span.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use trace_annotate::TraceLayer;
use tracing_subscriber::prelude::*;

#[test]
fn idle_workers_block_and_spawned_futures_are_named_goroutines() {
    let _g = common::serial();
    let subscriber = tracing_subscriber::registry().with(TraceLayer::new());
    let lines = common::record("tokio_hooks", || {
        tracing::subscriber::with_default(subscriber, || {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2).enable_all().thread_name("worker");
            let rt = trace_annotate::tokio::instrument(&mut builder)
                .build()
                .unwrap();
            trace_annotate::tokio::block_on(&rt, async {
                let mut handles = Vec::new();
                for id in 0..4 {
                    let span = tracing::info_span!("request", id);
                    let _e = span.enter();
                    handles.push(trace_annotate::tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        id * 2
                    }));
                }
                let mut sum = 0;
                for h in handles {
                    sum += h.await.unwrap();
                }
                assert_eq!(sum, 12);
                // Let the workers park.
                tokio::time::sleep(Duration::from_millis(20)).await;
            });
            drop(rt);
        });
    });
    let idle = lines
        .iter()
        .filter(|l| l.contains("Running->Waiting") && l.contains("Reason=\"idle\""))
        .count();
    assert!(idle >= 1, "no worker parked idle: {lines:#?}");
    // The thread in `block_on` (this test's) shows idle too.
    let main_g = lines
        .iter()
        .find(|l| l.contains("NotExist->Runnable") && l.contains("thread idle_workers"))
        .and_then(|l| l.split("GoID=").nth(1))
        .and_then(|s| s.split(' ').next())
        .expect("the test thread's goroutine")
        .to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("GoID={main_g} Running->Waiting"))
                && l.contains("Reason=\"idle\"")),
        "the block_on thread never waited idle: {lines:#?}"
    );
    // Four goroutines named after the span (Go names them by their start
    // function, the synthetic frame `task request`).
    let named = lines
        .iter()
        .filter(|l| l.contains("NotExist->Runnable") && l.contains("task request"))
        .count();
    assert_eq!(named, 4, "{lines:#?}");
}
