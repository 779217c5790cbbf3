//! The fuzzing harnesses (`fuzzing::rewrite_round_trip`: read → rewrite →
//! read, and `fuzzing::write_round_trip`: read → write events → read, never
//! a panic) on the curated traces and on damaged copies of them: cut short
//! at many points, and with bytes changed. What `cargo xtask fuzz rewrite`
//! and `cargo xtask fuzz writer` explore at random, here as a deterministic
//! test.

use std::path::Path;

use trace_testkit::damage::{small_traces, Damage};

use trace_rewrite::fuzzing::{rewrite_round_trip, write_round_trip};

#[test]
fn whole_traces() {
    for t in small_traces(64 << 10) {
        rewrite_round_trip(&t);
        write_round_trip(&t);
    }
}

#[test]
fn truncated_traces() {
    for t in small_traces(64 << 10) {
        let step = (t.len() / 40).max(1);
        for len in (0..t.len()).step_by(step) {
            rewrite_round_trip(&t[..len]);
            write_round_trip(&t[..len]);
        }
    }
}

#[test]
fn damaged_traces() {
    let mut damage = Damage::new(0x9e37_79b9_7f4a_7c15);
    for t in small_traces(64 << 10) {
        for _ in 0..30 {
            let d = damage.copy(&t);
            rewrite_round_trip(&d);
            write_round_trip(&d);
        }
    }
}

/// Inputs `cargo xtask fuzz rewrite` found, kept here rather than in
/// `testdata/fuzz/` (a mirror of the corpus that `cargo xtask golden`
/// maintains).
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        // empty-table-batches: a strings and a stacks batch with no entry,
        // the generation's earliest batches (time 0); re-encoding dropped
        // them, which moved the sync event's time and every event's.
        rewrite_round_trip(&std::fs::read(e.path()).unwrap());
        n += 1;
    }
    assert!(n > 0);
}
