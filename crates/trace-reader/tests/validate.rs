//! The validator: every real trace and every successful Go test case passes
//! it, and hand-built traces that the reader accepts but that break a rule
//! are reported with Go's message.

mod common;

use std::fs;

use common::files;
use trace_reader::{validate, Report};
use trace_wire::text::text_to_bytes;
use trace_wire::SizeEncoding;

fn validate_text(text: &str) -> Report {
    let bytes = text_to_bytes(text.as_bytes(), SizeEncoding::Minimal).expect("valid text form");
    validate(&bytes[..])
}

#[test]
fn corpus_traces_are_valid() {
    let traces = files("traces", "trace");
    assert!(!traces.is_empty(), "no traces found");
    // The large trace is checked by the conformance test already and takes
    // a while in the test profile; every other trace is validated here.
    let mut n = 0;
    for (name, path) in &traces {
        if fs::metadata(path).map(|m| m.len()).unwrap_or(0) > 8 << 20 {
            continue;
        }
        let report = validate(std::io::BufReader::new(fs::File::open(path).unwrap()));
        assert!(report.is_valid(), "{name}: {report}");
        assert!(
            report.n_events > 0 && report.n_generations > 0,
            "{name}: {report}"
        );
        n += 1;
    }
    eprintln!("{n} traces valid");
}

#[test]
fn go_success_tests_pass_the_validator() {
    let mut n = 0;
    for (name, path) in files("tests", "test") {
        let archive = fs::read_to_string(&path).unwrap();
        let expect = archive.split("-- expect --\n").nth(1).unwrap_or_default();
        if !expect.starts_with("SUCCESS") {
            continue;
        }
        let text = archive
            .split("-- trace --\n")
            .nth(1)
            .expect("a trace section");
        let report = validate_text(text);
        assert!(report.is_valid(), "{name}: {report}");
        n += 1;
    }
    assert!(n >= 18, "only {n} SUCCESS cases found");
}

/// A generation-1 preamble: frequency, and empty stacks and strings
/// batches follow the event batches in each case.
const TAIL: &str = "EventBatch gen=1 m=18446744073709551615 time=0 size=5
Frequency freq=15625000
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Stacks
";

/// Builds a one-generation trace whose thread 1 emits `events` (text form,
/// one per line) with `strings` as string ids 1, 2, ..., and checks the
/// validator's findings.
#[track_caller]
fn check(events: &str, strings: &[&str], want: &[&str]) {
    // The text form is a plain transcoding, so the events alone encode to
    // the batch payload, which gives the batch size.
    let encoded = text_to_bytes(
        format!("Trace Go1.23\n{events}").as_bytes(),
        SizeEncoding::Minimal,
    )
    .expect("events parse");
    let payload_len = encoded.len() - trace_wire::HEADER_LEN;
    let mut text =
        format!("Trace Go1.23\nEventBatch gen=1 m=1 time=0 size={payload_len}\n{events}");
    text.push_str(TAIL);
    let mut strings_batch = String::from("Strings\n");
    let mut size = 1;
    for (i, s) in strings.iter().enumerate() {
        strings_batch.push_str(&format!("String id={}\n\tdata={s:?}\n", i + 1));
        size += 1
            + trace_wire::varint::encoded_len(i as u64 + 1)
            + trace_wire::varint::encoded_len(s.len() as u64)
            + s.len();
    }
    text.push_str(&format!(
        "EventBatch gen=1 m=18446744073709551615 time=0 size={size}\n{strings_batch}"
    ));
    let report = validate_text(&text);
    assert!(
        report.error.is_none(),
        "the reader must accept it: {report}\n{text}"
    );
    let got: Vec<&str> = report
        .violations
        .iter()
        .map(|v| v.message.as_str())
        .collect();
    assert_eq!(got, want, "\n{text}");
}

#[test]
fn valid_hand_built_trace() {
    check(
        "ProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=1 gstatus=2\nUserLog dt=1 task=0 key_string=1 value_string=2 stack=0\n",
        &["cat", "hello"],
        &[],
    );
}

#[test]
fn status_zero_is_undetermined() {
    // Go's reader accepts a status of 0 (Bad); the validator rejects it.
    check(
        "ProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=1 gstatus=0\n",
        &[],
        &["transition to undetermined state for goroutine 1"],
    );
}

#[test]
fn sweep_active_scope_bug() {
    // GCSweepActive for another P is recorded on the emitting thread's P
    // (a Go 1.23 quirk), so a later sweep on that P "begins again".
    check(
        "ProcStatus dt=1 p=0 pstatus=1\nProcStatus dt=1 p=5 pstatus=2\nGCSweepActive dt=1 p=5\nGCSweepBegin dt=1 stack=0\n",
        &[],
        &["already active range \"GC incremental sweep\" on Proc(0) begun again"],
    );
}

#[test]
fn empty_label() {
    check(
        "ProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=1 gstatus=2\nGoLabel dt=1 label_string=0\n",
        &[],
        &["invalid label \"\""],
    );
}

#[test]
fn task_id_zero() {
    check(
        "ProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=1 gstatus=2\nUserTaskBegin dt=1 task=0 parent_task=0 name_string=1 stack=0\n",
        &["t"],
        &["found invalid task ID for task of type t"],
    );
}

#[test]
fn every_problem_of_an_event_is_reported() {
    // A goroutine dying inside a mark assist: one event, one finding; and a
    // mark assist begun twice on another goroutine is caught by the reader,
    // not the validator, so it is not built here.
    check(
        "ProcStatus dt=1 p=0 pstatus=1\nGoStatus dt=1 g=1 m=1 gstatus=2\nGCMarkAssistBegin dt=1 stack=0\nGoDestroy dt=1\n",
        &[],
        &["goroutine 1 died with active ranges"],
    );
}
