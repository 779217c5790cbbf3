//! Every trace of the corpus prints exactly what `go tool trace -d=1` printed
//! for it (`expected/NAME.d1.txt.gz`).
//!
//! The traces are the curated copies in `testdata/` and, when it is present,
//! the whole corpus in `../shared/go-traces`. The large trace has a test of
//! its own so that it runs in parallel with the rest.

mod common;

use common::{check_trace, files, roots, Outcome};

const LARGE: &str = "go123-large-mixedload";

/// Checks the traces whose names pass `names`; returns how many there were
/// and how many bytes of output were compared.
fn check(names: impl Fn(&str) -> bool) -> (usize, u64) {
    let traces = files("traces", "trace");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut bytes = 0;
    for (name, path) in &traces {
        if !names(name) {
            continue;
        }
        let expected = roots()
            .into_iter()
            .rev()
            .map(|r| r.join("expected").join(format!("{name}.d1.txt.gz")))
            .find(|p| p.is_file());
        let Some(expected) = expected else {
            continue;
        };
        checked += 1;
        match check_trace(path, &expected) {
            Ok((Outcome::Success, n)) => bytes += n,
            Ok((Outcome::Failure(e), _)) => failures.push(format!("{name}: unexpected error: {e}")),
            Err(diff) => failures.push(format!("{name}: {diff}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} traces differ:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    (checked, bytes)
}

#[test]
fn traces_print_as_go_does() {
    let (n, bytes) = check(|name| name != LARGE);
    eprintln!("{n} traces checked, {bytes} bytes of output");
    assert!(n > 0, "no traces found");
}

#[test]
fn large_trace_prints_as_go_does() {
    let (n, bytes) = check(|name| name == LARGE);
    eprintln!("{n} traces checked, {bytes} bytes of output");
}

/// The comparison itself catches differences (a guard against a harness that
/// compares nothing).
#[test]
fn a_different_trace_is_a_mismatch() {
    let traces = files("traces", "trace");
    let a = &traces["go123-testprog-annotations"];
    let b = roots()[0].join("expected/go122-testprog-annotations.d1.txt.gz");
    let diff = check_trace(a, &b).expect_err("different traces compared equal");
    assert!(
        diff.contains("first difference at byte 3 (line 1)"),
        "{diff}"
    );
}
