//! Fuzzing harnesses. Not a stable API: for `fuzz/` targets and the
//! robustness tests only.
//!
//! The harness reads arbitrary bytes as a trace to the end, uses every
//! accessor of every event, and checks properties that must hold for every
//! input, panicking when one does not (which is what a fuzzer looks for).

use std::fmt::Write as _;

use crate::{Event, Reader, Validator, Version};

/// Reads `data` as a trace, and also its tail under each format version's
/// header (so that short inputs reach the reader's inner layers), checking:
/// - nothing panics, whatever the input;
/// - event times strictly increase;
/// - `Display` and [`Event::write_go`] agree;
/// - errors point inside the input, and the reader stops after one;
/// - the validator copes with every event the reader yields.
pub fn read(data: &[u8]) {
    read_trace(data);
    if let Some((&v, body)) = data.split_first() {
        let version = Version::ALL[usize::from(v) % Version::ALL.len()];
        let mut trace = version.header().to_vec();
        trace.extend_from_slice(body);
        read_trace(&trace);
    }
}

fn read_trace(data: &[u8]) {
    let Ok(mut reader) = Reader::new(data) else {
        return;
    };
    let mut validator = Validator::new(reader.version());
    let mut last = i64::MIN;
    let mut text = String::new();
    let mut bytes = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Some(ev)) => {
                assert!(ev.time().as_nanos() > last, "time goes back");
                last = ev.time().as_nanos();
                text.clear();
                bytes.clear();
                write!(text, "{ev}").expect("formatting");
                ev.write_go(&mut bytes).expect("writing to a vector");
                if let Ok(b) = std::str::from_utf8(&bytes) {
                    assert_eq!(b, text, "Display and write_go differ");
                }
                touch(&ev);
                // Findings are fine (the input is arbitrary); panics are not.
                validator.event(&ev);
            }
            Ok(None) => break,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                if let Some(o) = e.offset() {
                    assert!(o <= data.len() as u64, "error offset past the end");
                }
                assert!(matches!(reader.read_event(), Ok(None)), "reader goes on");
                break;
            }
        }
    }
}

/// Uses every accessor of `ev`.
fn touch(ev: &Event) {
    let _ = (
        ev.kind(),
        ev.goroutine(),
        ev.proc(),
        ev.thread(),
        format!("{ev:?}"),
    );
    if let Some(stack) = ev.stack() {
        let frames = stack.frames().count();
        assert_eq!(frames, stack.len());
    }
    let _ = ev.metric();
    let _ = ev.label().map(|l| l.label.to_string_lossy().len());
    let _ = ev.range().map(|r| r.name.to_string());
    let _ = ev.range_attributes().count();
    let _ = ev.task();
    let _ = ev.region();
    let _ = ev.log().map(|l| format!("{:?}", l.message));
    if let Some(t) = ev.state_transition() {
        if let Some(s) = t.stack {
            let _ = s.frames().last();
        }
        let _ = (t.goroutine(), t.proc(), t.resource.to_string());
    }
    if let Some(s) = ev.sync() {
        let _ = s.experimental_batches().count();
        let _ = s.clock_snapshot.map(|c| c.wall());
    }
    if let Some(x) = ev.experimental() {
        assert_eq!(x.args.len(), x.arg_names.len());
    }
}
