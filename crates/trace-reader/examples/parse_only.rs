//! Reads every event of a trace and prints nothing but totals: the Rust
//! counterpart of the corpus' `tools/parseonly.go`, for timing the reader.
//!
//! ```sh
//! cargo run --release -p trace-reader --example parse_only -- TRACE [ROUNDS]
//! ```

use std::time::Instant;

use trace_reader::Reader;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: parse_only TRACE [ROUNDS]")?;
    let rounds: u32 = args.next().map_or(Ok(1), |r| r.parse())?;
    let size = std::fs::metadata(&path)?.len();
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut events = 0u64;
        let mut reader = Reader::new(std::fs::File::open(&path)?)?;
        while let Some(_event) = reader.read_event()? {
            events += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "{events} events in {secs:.3} s: {:.1} M events/s, {:.1} MB/s",
            events as f64 / secs / 1e6,
            size as f64 / secs / 1e6
        );
    }
    if rounds > 1 {
        println!("best of {rounds}: {best:.3} s");
    }
    Ok(())
}
