//! Reads every event of a trace and prints nothing but totals: the Rust
//! counterpart of the corpus' `tools/parseonly.go`, for timing the reader.
//!
//! ```sh
//! cargo run --release -p trace-reader --example parse_only -- TRACE [ROUNDS] [auto|never|always]
//! ```
//!
//! Prints, per round, the events, the wall time and the CPU time of the
//! process (all threads), then the peak resident memory (`VmHWM`).

use std::time::Instant;

use trace_reader::{Reader, Threading};

/// The CPU time of the process so far (user + system), from
/// `/proc/self/stat`, if available.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux platform Rust supports.
    Some(ticks / 100.0)
}

/// A line of `/proc/self/status`, e.g. `VmHWM`.
fn status(key: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line[key.len() + 1..].trim().to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: parse_only TRACE [ROUNDS] [auto|never|always]";
    let path = args.next().ok_or(usage)?;
    let rounds: u32 = args.next().map_or(Ok(1), |r| r.parse())?;
    let threading = match args.next().as_deref() {
        None | Some("auto") => Threading::Auto,
        Some("never") => Threading::Never,
        Some("always") => Threading::Always,
        Some(_) => return Err(usage.into()),
    };
    let size = std::fs::metadata(&path)?.len();
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let cpu = cpu_secs();
        let start = Instant::now();
        let mut events = 0u64;
        let mut reader = Reader::with_threading(std::fs::File::open(&path)?, threading)?;
        while let Some(_event) = reader.read_event()? {
            events += 1;
        }
        drop(reader);
        let secs = start.elapsed().as_secs_f64();
        let cpu = match (cpu, cpu_secs()) {
            (Some(a), Some(b)) => format!(", {:.2} s CPU", b - a),
            _ => String::new(),
        };
        best = best.min(secs);
        println!(
            "{events} events in {secs:.3} s{cpu}: {:.1} M events/s, {:.1} MB/s",
            events as f64 / secs / 1e6,
            size as f64 / secs / 1e6
        );
    }
    if rounds > 1 {
        println!("best of {rounds}: {best:.3} s");
    }
    if let Some(hwm) = status("VmHWM") {
        println!("peak RSS (VmHWM): {hwm}");
    }
    Ok(())
}
