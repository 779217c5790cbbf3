//! Reads a trace and writes its events again with `EventWriter` (Go 1.26's
//! format): `write_events IN OUT [GENERATION_BYTES]`. Prints the events
//! written and the time the reader and the writer took, for throughput
//! figures. `WRITE_FORMAT=1.23` writes Go 1.23's format.

use std::time::{Duration, Instant};

use trace_reader::Reader;
use trace_rewrite::{EventWriter, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output, opts) = match &args[..] {
        [i, o] => (i, o, WriterOptions::new()),
        [i, o, n] => (i, o, WriterOptions::new().generation_bytes(n.parse()?)),
        _ => return Err("usage: write_events IN OUT [GENERATION_BYTES]".into()),
    };
    let data = std::fs::read(input)?;
    let start = Instant::now();
    let events: Vec<_> = Reader::new(&data[..])?
        .take_while(|e| e.is_ok())
        .map(|e| e.expect("checked"))
        .collect();
    let read = start.elapsed();
    let start = Instant::now();
    let opts = match std::env::var("WRITE_FORMAT").as_deref() {
        Ok("1.23") => opts.version(trace_reader::Version::Go123),
        _ => opts,
    };
    let mut w = EventWriter::with_options(Vec::with_capacity(data.len()), opts)?;
    for ev in &events {
        w.write(ev)?;
    }
    let (out, summary) = w.finish()?;
    let write = start.elapsed();
    std::fs::write(output, &out)?;
    let rate = |d: Duration| events.len() as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{} events, {} -> {} bytes; read {:.3} s ({:.2} M events/s), write {:.3} s ({:.2} M events/s, {:.1} MB/s of output); {summary:?}",
        events.len(),
        data.len(),
        out.len(),
        read.as_secs_f64(),
        rate(read),
        write.as_secs_f64(),
        rate(write),
        out.len() as f64 / write.as_secs_f64() / 1e6,
    );
    Ok(())
}
