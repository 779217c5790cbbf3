//! Fuzzing harnesses. Not a stable API: for `fuzz/` targets and the
//! robustness tests only.
//!
//! The harness reads arbitrary bytes as a trace to the end, uses every
//! accessor of every event, and checks properties that must hold for every
//! input, panicking when one does not (which is what a fuzzer looks for).

use std::fmt::Write as _;

use crate::{Compat, Event, Options, Reader, Validator, Version};

/// Reads `data` as a trace, and also its tail under each format version's
/// header (so that short inputs reach the reader's inner layers), checking:
/// - nothing panics, whatever the input;
/// - event times strictly increase;
/// - `Display` and [`Event::write_go`] agree;
/// - errors point inside the input, and the reader stops after one;
/// - the validator copes with every event the reader yields.
///
/// The re-headed tail is read as Go 1.23 reads it when the first byte's top
/// bit is set, as today's Go reads it otherwise.
pub fn read(data: &[u8]) {
    read_trace(data, Compat::Current);
    if let Some((&v, body)) = data.split_first() {
        let version = Version::ALL[usize::from(v & 0x7f) % Version::ALL.len()];
        let mut trace = version.header().to_vec();
        trace.extend_from_slice(body);
        let compat = if v & 0x80 != 0 {
            Compat::Go123
        } else {
            Compat::Current
        };
        read_trace(&trace, compat);
    }
}

fn read_trace(data: &[u8], compat: Compat) {
    let Ok(mut reader) = Reader::with_options(data, Options::new().compat(compat)) else {
        return;
    };
    let mut validator = Validator::with_compat(reader.version(), compat);
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
                text.clear();
                bytes.clear();
                write!(text, "{}", ev.go123()).expect("formatting");
                ev.write_go123(&mut bytes).expect("writing to a vector");
                if let Ok(b) = std::str::from_utf8(&bytes) {
                    assert_eq!(b, text, "go123() and write_go123 differ");
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
