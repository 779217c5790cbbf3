//! A tokio service instrumented with `tracing`, recorded by streaming:
//! request spans become tasks (with regions on the threads that poll them)
//! and every async task runs as a goroutine of its own, so Go's goroutine
//! analysis shows per task the time it ran, waited to be polled, and waited
//! for I/O.
//!
//! ```text
//! cargo run --release -p trace-annotate --example tokio_service -- OUT.trace
//! go tool trace OUT.trace
//! trace-tool stats OUT.trace
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::time::Duration;

use trace_annotate::layer::{Regions, Tasks};
use trace_annotate::TraceLayer;
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// Concurrent requests.
const REQUESTS: u64 = 400;

/// A "database" on a plain thread outside the runtime: answers after a
/// delay, waking the request's task from that thread.
fn database() -> std::sync::mpsc::Sender<(u64, tokio::sync::oneshot::Sender<u64>)> {
    let (tx, rx) = std::sync::mpsc::channel::<(u64, tokio::sync::oneshot::Sender<u64>)>();
    std::thread::Builder::new()
        .name("database".into())
        .spawn(move || {
            for (key, reply) in rx {
                std::thread::sleep(Duration::from_micros(50));
                let _ = reply.send(key * 2);
            }
        })
        .expect("spawn the database thread");
    tx
}

/// Some CPU work.
fn checksum(n: u64) -> u64 {
    (0..20_000 + n % 1000).fold(n, |h, i| h.rotate_left(5) ^ i)
}

async fn handle(
    id: u64,
    db: std::sync::mpsc::Sender<(u64, tokio::sync::oneshot::Sender<u64>)>,
) -> u64 {
    tracing::debug!(id, "accepted");
    // Network read.
    tokio::time::sleep(Duration::from_micros(200 + (id % 7) * 100)).await;
    let parsed = tracing::debug_span!("parse").in_scope(|| checksum(id));
    // A query answered from another thread.
    let (tx, rx) = tokio::sync::oneshot::channel();
    db.send((parsed % 100, tx)).expect("database is up");
    let row = rx
        .instrument(tracing::debug_span!("query"))
        .await
        .expect("database replied");
    // A sub-task of its own.
    let render = {
        let _span = tracing::debug_span!("render").entered();
        trace_annotate::tokio::spawn(async move {
            tokio::task::yield_now().await;
            checksum(row)
        })
    };
    let body = render.await.expect("render task");
    if id.is_multiple_of(50) {
        tracing::info!(id, body, "slow path taken");
    }
    body
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tokio_service.trace".into());
    // The trace records DEBUG; the console prints INFO. Each request's root
    // span is a task (one per request, however often its future is
    // polled), the spans inside it are regions, span fields are logs.
    let layer = TraceLayer::builder()
        .tasks(Tasks::Roots)
        .regions(Regions::NonTasks)
        .span_fields(true)
        .build();
    tracing_subscriber::registry()
        .with(layer.with_filter(LevelFilter::DEBUG))
        .with(tracing_subscriber::fmt::layer().with_filter(LevelFilter::INFO))
        .init();
    trace_runtime::configure(
        trace_runtime::Config::default()
            .generation_period(Duration::from_millis(20))
            .cpu_profile(100),
    )?;
    trace_runtime::start(BufWriter::new(File::create(&path)?))?;

    // Parked workers show as idle, not running.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(4)
        .thread_name("tokio-worker")
        .enable_time();
    let rt = trace_annotate::tokio::instrument(&mut builder).build()?;
    let db = database();
    let total = trace_annotate::tokio::block_on(&rt, async {
        let requests: Vec<_> = (0..REQUESTS)
            .map(|id| {
                let db = db.clone();
                // A goroutine named after its span, `task request`.
                let _span = tracing::info_span!("request", id).entered();
                trace_annotate::tokio::spawn(handle(id, db))
            })
            .collect();
        let mut total = 0u64;
        for r in requests {
            total = total.wrapping_add(r.await.expect("request task"));
        }
        total
    });
    drop(rt);
    trace_runtime::stop()?;
    println!("{REQUESTS} requests (checksum {total:x}), trace written to {path}");
    Ok(())
}
