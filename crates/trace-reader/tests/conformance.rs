//! Every trace of both corpora prints exactly what Go's `go tool trace`
//! printed for it: Go 1.27's `-d=parsed` (`expected/NAME.parsed.txt.gz`, or
//! `NAME.parsed.sha256` for outputs too large to keep) and, for the Go 1.22
//! and 1.23 traces, Go 1.23's `-d=1` (`expected/NAME.d1.txt.gz`) when read
//! with `Compat::Go123`.
//!
//! The traces are the curated copies in `testdata/` and, when they are
//! present, the whole corpora in `../shared`. The large traces have tests of
//! their own so that they run in parallel with the rest.

mod common;

use std::path::PathBuf;

use common::{check_trace, check_trace_sha256, current_roots, files_in, roots, Go, Outcome};

/// The large traces: a test each.
const LARGE: &[&str] = &[
    "go123-large-mixedload",
    "go127-large-mixedload",
    "go127-testprog-cpu-profile-adv20ms",
];

/// What one check compared.
#[derive(Debug, Default)]
struct Checked {
    traces: usize,
    outputs: usize,
    bytes: u64,
}

/// Checks the traces of the corpus at `roots` whose names pass `names`,
/// against the outputs of `go`.
fn check(roots: &[PathBuf], go: Go, names: impl Fn(&str) -> bool) -> Checked {
    let traces = files_in(roots, "traces", "trace");
    let mut failures = Vec::new();
    let mut done = Checked::default();
    let suffix = match go {
        Go::V127 => "parsed",
        Go::V123 => "d1",
    };
    let expected = |name: &str, ext: &str| {
        roots
            .iter()
            .rev()
            .map(|r| r.join("expected").join(format!("{name}.{suffix}.{ext}")))
            .find(|p| p.is_file())
    };
    for (name, path) in &traces {
        if !names(name) {
            continue;
        }
        let res = if let Some(gz) = expected(name, "txt.gz") {
            check_trace(path, &gz, go).map(|(o, n)| {
                done.bytes += n;
                o
            })
        } else if let (Go::V127, Some(sha)) = (go, expected(name, "sha256")) {
            check_trace_sha256(path, &sha)
        } else {
            continue;
        };
        done.outputs += 1;
        match res {
            Ok(Outcome::Success) => {}
            Ok(Outcome::Failure(e)) => failures.push(format!("{name}: unexpected error: {e}")),
            Err(diff) => failures.push(format!("{name}: {diff}")),
        }
    }
    done.traces = traces.keys().filter(|n| names(n)).count();
    assert!(
        failures.is_empty(),
        "{} of {} traces differ from Go's {suffix} output:\n\n{}",
        failures.len(),
        done.outputs,
        failures.join("\n")
    );
    done
}

fn small(name: &str) -> bool {
    !LARGE.contains(&name)
}

#[test]
fn go122_and_go123_traces_print_as_go127_does() {
    let done = check(&roots(), Go::V127, small);
    eprintln!("{done:?}");
    assert!(done.outputs > 0, "no traces found");
    assert_eq!(
        done.outputs, done.traces,
        "a trace without Go 1.27's output"
    );
}

#[test]
fn go122_and_go123_traces_print_as_go123_does() {
    let done = check(&roots(), Go::V123, small);
    eprintln!("{done:?}");
    assert!(done.outputs > 0, "no traces found");
    assert_eq!(
        done.outputs, done.traces,
        "a trace without Go 1.23's output"
    );
}

#[test]
fn current_traces_print_as_go127_does() {
    let done = check(&current_roots(), Go::V127, small);
    eprintln!("{done:?}");
    assert!(done.outputs >= 10, "too few traces found: {done:?}");
    assert_eq!(
        done.outputs, done.traces,
        "a trace without Go 1.27's output"
    );
}

#[test]
fn large_go123_trace_prints_as_go127_does() {
    eprintln!("{:?}", check(&roots(), Go::V127, |n| n == LARGE[0]));
}

#[test]
fn large_go123_trace_prints_as_go123_does() {
    eprintln!("{:?}", check(&roots(), Go::V123, |n| n == LARGE[0]));
}

#[test]
fn large_current_traces_print_as_go127_does() {
    eprintln!(
        "{:?}",
        check(&current_roots(), Go::V127, |n| LARGE[1..].contains(&n))
    );
}

/// The comparison itself catches differences (a guard against a harness that
/// compares nothing).
#[test]
fn a_different_trace_is_a_mismatch() {
    let traces = files_in(&roots(), "traces", "trace");
    let a = &traces["go123-testprog-annotations"];
    for (go, expected) in [
        (
            Go::V127,
            "expected/go122-testprog-annotations.parsed.txt.gz",
        ),
        (Go::V123, "expected/go122-testprog-annotations.d1.txt.gz"),
    ] {
        let b = roots()[0].join(expected);
        let diff = check_trace(a, &b, go).expect_err("different traces compared equal");
        assert!(diff.contains("first difference at byte"), "{diff}");
    }
    let current = files_in(&current_roots(), "traces", "trace");
    let a = &current["go127-testprog-iter-pull-allocfree"];
    let b = current_roots()[0].join("expected/go126-testprog-annotations-advance0.parsed.txt.gz");
    check_trace(a, &b, Go::V127).expect_err("different traces compared equal");
}
