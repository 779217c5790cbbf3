//! Builds the timeline of a trace and prints how long it took and what is
//! in it; with `--json`, also times the answers the page asks for first.
//!
//! ```sh
//! cargo run --release -p trace-view --example timeline_stats -- TRACE [--json]
//! ```

use std::time::Instant;

use trace_view::json::{charts_json, meta_json, window_json, WindowQuery};
use trace_view::{standalone_html, Timeline, DEFAULT_EMBED_BUDGET};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: timeline_stats TRACE [--json]")?;
    let json = args.next().as_deref() == Some("--json");
    let start = Instant::now();
    let tl = Timeline::from_reader(std::io::BufReader::new(std::fs::File::open(&path)?), &path)?;
    println!(
        "built in {:.3} s: {:?}",
        start.elapsed().as_secs_f64(),
        tl.stats()
    );
    let mut kinds = std::collections::BTreeMap::new();
    for l in tl.lanes() {
        *kinds.entry(l.kind.name()).or_insert(0) += 1;
    }
    println!(
        "lanes {kinds:?}, tasks {}, span {} ns",
        tl.tasks().len(),
        tl.span()
    );
    let mut by_kind = std::collections::BTreeMap::new();
    for l in tl.lanes() {
        for r in &l.rows {
            for s in &r.slices().unwrap() {
                *by_kind.entry(s.kind.name()).or_insert(0u64) += 1;
            }
        }
    }
    println!("slices by kind: {by_kind:?}");
    for c in tl.charts() {
        for s in &c.series {
            println!("chart {} / {}: {} points", c.name, s.name, s.points.len());
        }
    }
    if json {
        let t = Instant::now();
        let meta = meta_json(&tl);
        println!(
            "meta: {} B in {:.3} s",
            meta.len(),
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let lanes: Vec<usize> = (0..tl.lanes().len().min(60)).collect();
        let span = tl.span();
        let w = window_json(
            &tl,
            &WindowQuery {
                lanes,
                t0: -span,
                t1: 2 * span,
                res: span / 1500,
            },
        )?;
        println!(
            "window (60 lanes, whole trace): {} B in {:.3} s",
            w.len(),
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let c = charts_json(&tl, -span, 2 * span, span / 1500)?;
        println!(
            "charts: {} B in {:.3} s",
            c.len(),
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let (html, res) = standalone_html(&tl, DEFAULT_EMBED_BUDGET)?;
        println!(
            "standalone: {} B at {res} ns in {:.3} s",
            html.len(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
