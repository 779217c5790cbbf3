//! Fuzzing harnesses. Not a stable API: for `fuzz/` targets and the
//! robustness tests only.
//!
//! The harness rewrites arbitrary bytes and reads both input and output with
//! `trace-reader`, panicking when a property does not hold (which is what a
//! fuzzer looks for).

use trace_reader::Reader;
use trace_wire::fuzzing::under_a_header;

use crate::{rewrite, Generation, RedactOptions, Redactor};

/// Rewrites `data` (and its tail under each version's header, so that short
/// inputs reach the inner layers) three ways, checking:
/// - nothing panics, whatever the input;
/// - the identity copies the input exactly;
/// - re-encoding every batch gives a trace the reader reads to exactly the
///   same events (and the same error, if any) as the input;
/// - redaction keeps the number of events of a trace the reader reads
///   whole.
pub fn rewrite_round_trip(data: &[u8]) {
    check(data);
    if let Some(trace) = under_a_header(data) {
        check(&trace);
    }
}

/// The events the reader yields, as text, and whether it read to the end.
fn events(data: &[u8]) -> (Vec<String>, bool) {
    let Ok(reader) = Reader::new(data) else {
        return (Vec::new(), false);
    };
    let mut res = Vec::new();
    for ev in reader {
        match ev {
            Ok(ev) => res.push(ev.to_string()),
            Err(_) => return (res, false),
        }
    }
    (res, true)
}

fn check(data: &[u8]) {
    let mut identity = Vec::new();
    if rewrite(data, &mut |_: &mut Generation<'_>| Ok(()), &mut identity).is_ok() {
        assert_eq!(identity, data, "the identity changed the trace");
    }
    let mut out = Vec::new();
    let reencoded = rewrite(
        data,
        &mut |g: &mut Generation<'_>| g.reencode_all(),
        &mut out,
    );
    let (before, whole) = events(data);
    if reencoded.is_ok() && whole {
        let (after, after_whole) = events(&out);
        assert!(after_whole, "the re-encoded trace does not read to the end");
        assert_eq!(before, after, "re-encoding changed the events");
    }
    let mut redactor = Redactor::new(RedactOptions::default());
    let mut out = Vec::new();
    if rewrite(data, &mut redactor, &mut out).is_ok() && whole {
        let (after, after_whole) = events(&out);
        assert!(after_whole, "the redacted trace does not read to the end");
        assert_eq!(before.len(), after.len(), "redaction changed the events");
    }
}

/// Reads `data` (and its tail under each version's header) with the reader,
/// writes the events it yields with [`EventWriter`](crate::EventWriter), and
/// reads the output, checking:
/// - nothing panics and the writer accepts every event the reader yields;
/// - the output reads to the end, to the same events (by their text, with
///   the exceptions `tests/writer.rs` documents: the clock snapshot of
///   syncs of traces that have none, the output's own last sync after a
///   reader error);
/// - a window of the middle third of the events gives a trace the reader
///   reads to the end.
pub fn write_round_trip(data: &[u8]) {
    check_writer(data);
    if let Some(trace) = under_a_header(data) {
        check_writer(&trace);
    }
}

/// Drops the clock snapshot from a sync event's text.
fn strip_clock(line: &str) -> &str {
    match line.find(" Trace=") {
        Some(i) if line.contains(" Sync ") => &line[..i],
        _ => line,
    }
}

fn check_writer(data: &[u8]) {
    let Ok(reader) = Reader::new(data) else {
        return;
    };
    let mut input = Vec::new();
    let mut whole = true;
    for ev in reader {
        match ev {
            Ok(ev) => input.push(ev),
            Err(e) => {
                whole = e.is_go_eof();
                break;
            }
        }
    }
    let mut w = crate::EventWriter::new(Vec::new()).expect("a Vec takes the header");
    for ev in &input {
        if let Err(e) = w.write(ev) {
            panic!("the writer rejects an event the reader yields: {e}: {ev}");
        }
    }
    let (out, summary) = w.finish().expect("a Vec takes the trace");
    assert_eq!(summary.synthesized, 0, "the writer added statuses");
    let (mut after, after_whole) = events(&out);
    assert!(after_whole, "the written trace does not read to the end");
    if !whole && after.len() == input.len() + 1 {
        after.pop();
    }
    let before: Vec<String> = input.iter().map(|e| e.to_string()).collect();
    let clocks = before
        .iter()
        .any(|l| l.contains(" Sync ") && l.contains(" Trace="));
    assert_eq!(
        before.len(),
        after.len(),
        "the written trace has other events"
    );
    for (b, a) in before.iter().zip(&after) {
        if clocks {
            assert_eq!(b, a, "the written trace has other events");
        } else {
            assert_eq!(
                strip_clock(b),
                strip_clock(a),
                "the written trace has other events"
            );
        }
    }
    if input.len() >= 3 {
        let (from, to) = (
            input[input.len() / 3].time(),
            input[2 * input.len() / 3].time(),
        );
        let filter = crate::EventFilter::new().window(from, to);
        if let Ok((out, _)) = crate::filter_events(data, &filter, Vec::new()) {
            let (_, whole) = events(&out);
            assert!(whole, "a window does not read to the end");
        }
    }
}
