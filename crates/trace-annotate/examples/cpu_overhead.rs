//! The cost of CPU profile samples: a fixed CPU-bound job (four threads,
//! each hashing for a fixed number of rounds), traced without samples and
//! with samples at 100 Hz (and 1000 Hz), alternating, several times; prints
//! the median wall time of each and the overhead.
//!
//! ```text
//! cargo run --release -p trace-annotate --example cpu_overhead [ROUNDS]
//! ```

use std::time::{Duration, Instant};

use trace_annotate::Config;

/// The job: `threads` threads, each `rounds` rounds of hashing, one region
/// per round so that the trace has events too.
fn job(threads: usize, rounds: u64) -> u64 {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let mut h = t as u64;
                for r in 0..rounds {
                    trace_annotate::with_region("round", || {
                        for i in 0..200_000u64 {
                            h = std::hint::black_box(h.rotate_left(5) ^ i ^ r);
                        }
                    });
                }
                h
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(0, |a, b| a ^ b)
}

fn timed(hz: u32, rounds: u64) -> Result<Duration, Box<dyn std::error::Error>> {
    trace_annotate::configure(Config::default().cpu_profile(hz))?;
    let out = std::io::sink();
    let trace = trace_annotate::start(out)?;
    let start = Instant::now();
    std::hint::black_box(job(2, rounds));
    let took = start.elapsed();
    trace.stop()?;
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reps: usize = std::env::args().nth(1).map_or(Ok(7), |a| a.parse())?;
    let rounds = 1600;
    let (mut off, mut at100, mut at1000) = (Vec::new(), Vec::new(), Vec::new());
    timed(0, rounds / 4)?; // warm up
                           // The order turns each round, so that no setting always runs first.
    for rep in 0..reps {
        for k in 0..3 {
            match (rep + k) % 3 {
                0 => off.push(timed(0, rounds)?),
                1 => at100.push(timed(100, rounds)?),
                _ => at1000.push(timed(1000, rounds)?),
            }
        }
    }
    let (off, at100, at1000) = (median(off), median(at100), median(at1000));
    let pct = |d: Duration| (d.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0;
    println!("median of {reps}: off {off:.3?}, 100 Hz {at100:.3?} ({:+.2}%), 1000 Hz {at1000:.3?} ({:+.2}%)", pct(at100), pct(at1000));
    println!("samples lost: {}", trace_annotate::cpu_samples_lost());
    Ok(())
}
