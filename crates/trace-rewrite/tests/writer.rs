//! The event writer over every trace `cargo test` can see (the curated
//! copies in `testdata/`, and both shared corpora when present): read →
//! write → read gives the same events.
//!
//! "The same" means: the text of every event (Go 1.27's `Event.String()`,
//! what `go tool trace -d=parsed` prints) is identical, in the same order,
//! with these documented exceptions, which are normalized before comparing:
//!
//! - a sync event of a Go 1.22–1.24 trace has no clock snapshot, but every
//!   generation of Go 1.26's format has one: the output's syncs print the
//!   writer's (`Trace=`, `Mono=`, `Wall=`), which are dropped from the
//!   text;
//! - a trace the reader stops reading with an error gives the events before
//!   the error; the output of those ends with a sync of its own, which is
//!   dropped;
//! - experimental events keep their arguments, but the experimental
//!   batches of their generation (Go 1.23's alloc/free type tables) are not
//!   written, so their `Experimental` events print without data — they
//!   print no data anyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trace_reader::{validate, Reader};
use trace_rewrite::EventWriter;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every trace, by name; the shared corpora win over the curated copies.
fn traces() -> BTreeMap<String, PathBuf> {
    let ws = workspace();
    let mut res = BTreeMap::new();
    for dir in [
        ws.join("testdata/traces"),
        ws.join("testdata/current/traces"),
        ws.join("../shared/go-traces/traces"),
        ws.join("../shared/go-traces-current/traces"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "trace") {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                res.insert(name, p);
            }
        }
    }
    assert!(res.len() >= 20, "testdata/ has the curated traces");
    res
}

/// The events' text, normalized (see the module docs), and whether the
/// reader read to the end.
fn text(trace: &[u8]) -> (Vec<String>, bool) {
    let Ok(reader) = Reader::new(trace) else {
        return (Vec::new(), false);
    };
    let mut res = Vec::new();
    for ev in reader {
        match ev {
            Ok(ev) => res.push(ev.to_string()),
            Err(e) if e.is_go_eof() => return (res, true),
            Err(_) => return (res, false),
        }
    }
    (res, true)
}

/// Reads `input`, writes its events, and returns the output.
fn round_trip(input: &[u8]) -> Vec<u8> {
    let mut w = EventWriter::new(Vec::new()).unwrap();
    let Ok(reader) = Reader::new(input) else {
        return w.finish().unwrap().0;
    };
    for ev in reader {
        match ev {
            Ok(ev) => w.write(&ev).unwrap_or_else(|e| panic!("{e}: {ev}")),
            Err(_) => break,
        }
    }
    w.finish().unwrap().0
}

/// Drops the clock snapshot from a sync line.
fn strip_clock(line: &str) -> &str {
    match line.find(" Trace=") {
        Some(i) if line.contains(" Sync ") => &line[..i],
        _ => line,
    }
}

/// Compares the events of `input` and `output`; `None` if they are the
/// same (with the documented exceptions), else the first difference.
fn compare(input: &[u8], output: &[u8]) -> Option<String> {
    let (before, whole) = text(input);
    let (mut after, after_whole) = text(output);
    if !after_whole {
        return Some("the output does not read to the end".into());
    }
    if !whole && after.len() == before.len() + 1 {
        after.pop();
    }
    let clocks = before
        .iter()
        .any(|l| l.contains(" Sync ") && l.contains(" Trace="));
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let (b2, a2) = if clocks {
            (b.as_str(), a.as_str())
        } else {
            (strip_clock(b), strip_clock(a))
        };
        if b2 != a2 {
            return Some(format!("event {i}:\n  input:  {b}\n  output: {a}"));
        }
    }
    if before.len() != after.len() {
        return Some(format!("{} events in, {} out", before.len(), after.len()));
    }
    None
}

#[test]
fn round_trip_gives_the_same_events() {
    let mut failures = Vec::new();
    let mut n = 0;
    for (name, path) in traces() {
        let input = std::fs::read(&path).unwrap();
        let output = round_trip(&input);
        n += 1;
        if let Some(diff) = compare(&input, &output) {
            failures.push(format!("{name}: {diff}"));
            continue;
        }
        let report = validate(&output[..]);
        if !report.is_valid() {
            let first = report.violations.first().map(|v| v.to_string());
            failures.push(format!(
                "{name}: the validator: {first:?} {:?}",
                report.error
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} traces differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
