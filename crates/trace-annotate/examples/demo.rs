//! Streams a multi-threaded workload to a trace file:
//!
//! ```text
//! cargo run --release -p trace-annotate --example demo -- OUT.trace [--format 1.23]
//! go tool trace OUT.trace
//! ```
//!
//! The trace is in the Go 1.26 format (`go 1.26 trace`, what Go 1.26 and
//! 1.27 write, with a clock snapshot per generation), or with
//! `--format 1.23` in Go 1.23's, for older tools.
//!
//! A dispatcher (the main thread) accepts "requests", each a task; four
//! named worker threads handle them in nested subtasks, regions and logs,
//! and end the request tasks they did not begin; short-lived helper threads
//! come and go; generations advance every 200 ms. CPU profile samples are
//! recorded at 100 Hz (Linux), so that
//! `trace-tool pprof --kind cpu --task request OUT.trace` says where the
//! requests' CPU went.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use trace_annotate::{log, logf, new_task, start_region, with_region, Config, Format, Task};

/// Busy work, so that regions have a visible length.
fn spin(micros: u64) -> u64 {
    let end = Instant::now() + Duration::from_micros(micros);
    let mut x = 0u64;
    while Instant::now() < end {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
    x
}

struct Request {
    id: usize,
    task: Task,
}

fn worker(index: usize, jobs: mpsc::Receiver<Request>) {
    while let Ok(Request { id, task }) = jobs.recv() {
        let _handle = task.start_region("handle");
        logf!(task = &task, "request", "worker-{index} took request {id}");
        let parse = task.new_child("parse");
        parse.with_region("tokenize", || spin(50 + (id as u64 % 7) * 20));
        parse.end();
        let compute = task.new_child("compute");
        {
            let _outer = compute.start_region("compute");
            for step in 0..3 {
                let _inner = compute.start_region("step");
                spin(30);
                if step == 1 {
                    compute.log("progress", "half way");
                }
            }
        }
        compute.end();
        if id % 10 == 0 {
            // Every tenth request spawns a short-lived helper thread.
            let helper = thread::Builder::new()
                .name(format!("helper-{id}"))
                .spawn(move || with_region("flush", || spin(100)))
                .expect("spawn helper");
            helper.join().expect("helper");
        }
        drop(_handle);
        // The dispatcher began this task; the worker ends it.
        task.end();
    }
}

const USAGE: &str = "usage: demo [OUT.trace] [--format 1.23|1.26]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, rest) = match args.split_first() {
        Some((path, rest)) if !path.starts_with("--") => (path.clone(), rest),
        _ => ("demo.trace".to_owned(), &args[..]),
    };
    let format = match rest {
        [] => Format::Go126,
        [flag, v] if flag == "--format" && v == "1.26" => Format::Go126,
        [flag, v] if flag == "--format" && v == "1.23" => Format::Go123,
        _ => return Err(USAGE.into()),
    };
    trace_annotate::configure(
        Config::default()
            .format(format)
            .cpu_profile(100)
            .generation_period(Duration::from_millis(200)),
    )?;
    // Recording until `trace` is dropped (also if `?` returns early).
    let trace = trace_annotate::start_file(&path)?;

    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for index in 0..4 {
        let (tx, rx) = mpsc::channel();
        senders.push(tx);
        workers.push(
            thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || worker(index, rx))?,
        );
    }

    let session = new_task("session");
    let start = Instant::now();
    let mut id = 0;
    while start.elapsed() < Duration::from_millis(900) {
        let _dispatch = start_region("dispatch");
        let task = session.new_child("request");
        logf!(task = &task, "dispatch", "request {id}");
        senders[id % senders.len()].send(Request { id, task })?;
        id += 1;
        drop(_dispatch);
        thread::sleep(Duration::from_micros(500));
    }
    log("dispatch", "shutting down");
    drop(senders);
    for w in workers {
        w.join().expect("worker");
    }
    session.end();

    trace.stop()?;
    println!("{id} requests traced to {path}");
    Ok(())
}
