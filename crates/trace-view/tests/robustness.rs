//! The fuzzing harness (`trace_view::fuzzing::view`: lay out arbitrary
//! bytes, check the rows, ask every question the page asks) on the curated
//! traces and on damaged copies of them: cut short at many points, and with
//! bytes changed. What `cargo xtask fuzz view` explores at random, here as a
//! deterministic test.

use std::path::Path;

use trace_testkit::damage::{small_traces, Damage};

use trace_view::fuzzing::{check, view, Checked};

#[test]
fn whole_traces() {
    for t in small_traces(64 << 10) {
        view(&t);
    }
}

/// Cut short: what came before the cut is laid out and answers (for some
/// cuts of most traces), or nothing is.
#[test]
fn truncated_traces() {
    let mut partial = 0;
    for t in small_traces(64 << 10) {
        let step = (t.len() / 25).max(1);
        for len in (0..t.len()).step_by(step) {
            view(&t[..len]);
            partial += usize::from(check(&t[..len]) == Checked::Partial);
        }
    }
    assert!(partial >= 50, "{partial} partial timelines");
}

#[test]
fn damaged_traces() {
    let mut damage = Damage::new(0x2545_f491_4f6c_dd1d);
    for t in small_traces(64 << 10) {
        for _ in 0..20 {
            let d = damage.copy(&t);
            view(&d);
        }
    }
}

/// Every curated trace and, when they are beside the workspace (as in CI),
/// every trace of both shared corpora lays out with rows in order and
/// answers every question the page asks (`fuzzing::check`).
#[test]
fn corpus_traces_lay_out_and_answer() {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![
        ws.join("testdata/traces"),
        ws.join("testdata/current/traces"),
    ];
    for shared in ["go-traces/traces", "go-traces-current/traces"] {
        let dir = ws.join("../shared").join(shared);
        if dir.is_dir() {
            dirs.push(dir);
        }
    }
    let mut n = 0;
    for dir in &dirs {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "trace") {
                let data = std::fs::read(&path).unwrap();
                assert_eq!(check(&data), Checked::Whole, "{}", path.display());
                n += 1;
            }
        }
    }
    assert!(n >= 20, "{n} traces");
    eprintln!("{n} traces from {} directories", dirs.len());
}

/// Inputs `cargo xtask fuzz view` found.
#[test]
fn fuzz_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        // flame-weight-overflow: a trace cut in a later generation whose
        // waiting slices, each shorter than the trace, add up to more than
        // i64::MAX ns in a blocking flame graph (overflowed in `weights`).
        view(&std::fs::read(e.path()).unwrap());
        n += 1;
    }
    assert!(n > 0);
}
