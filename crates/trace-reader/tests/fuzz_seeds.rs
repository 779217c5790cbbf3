//! Go's `FuzzReader` seed corpus (`fuzz/derived/NAME.trace`): for each seed,
//! our output, error and exit status are Go 1.27's `-d=parsed`
//! (`testdata/go127/fuzz/NAME.parsed.txt`, `NAME.parsed.err.txt`), and, read
//! as Go 1.23 reads it, Go 1.23's `-d=1` (`NAME.d1.txt`, `RESULTS.tsv`) with
//! the first line of its error message.
//!
//! Traces in the pre-1.22 format (which Go reads with a separate parser and
//! converter, out of scope here) are rejected as unsupported versions.
//!
//! Where Go's tool panics (exit status 2: Go's reader accepts an event that
//! its `Event.String()` then crashes on), we must not panic: we may stop with
//! an error or go on, but what Go printed before its crash must match.

mod common;

use std::fs;

use common::{dump_file, files, first_difference, go127_dir, roots, Go, Outcome};

/// Whether a trace is in the pre-1.22 format.
fn old_format(path: &std::path::Path) -> bool {
    fs::read(path)
        .unwrap()
        .get(..7)
        .is_some_and(|h| h.starts_with(b"go 1.1") || h == b"go 1.20" || h == b"go 1.21")
}

#[test]
fn fuzz_seeds_behave_as_in_go127() {
    let traces = files("fuzz/derived", "trace");
    assert!(!traces.is_empty(), "no fuzz seeds found");
    let dir = go127_dir().join("fuzz");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, path) in &traces {
        let (out, outcome) = dump_file(path, Go::V127);
        if old_format(path) {
            match outcome {
                Outcome::Failure(e) if e.starts_with("unknown or unsupported trace version") => {}
                o => failures.push(format!("{name}: a pre-1.22 trace gave {o:?}")),
            }
            continue;
        }
        compared += 1;
        let want = fs::read(dir.join(format!("{name}.parsed.txt")))
            .unwrap_or_else(|e| panic!("Go 1.27's output of {name}: {e} (`cargo xtask golden`)"));
        let err = fs::read_to_string(dir.join(format!("{name}.parsed.err.txt"))).ok();
        let problem = first_difference(&out, &want).or_else(|| match (&outcome, err) {
            (Outcome::Success, None) => None,
            (Outcome::Failure(e), Some(want)) if format!("{e}\n") == want => None,
            (o, want) => Some(format!("{o:?}, Go 1.27 printed {want:?}")),
        });
        if let Some(p) = problem {
            failures.push(format!("{name}: {p}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} seeds differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(compared > 10, "only {compared} seeds compared");
}

/// `RESULTS.tsv`: seed name → (d1 exit status, first line of d1 stderr).
fn results() -> Vec<(String, String, String)> {
    let mut res = Vec::new();
    for root in roots() {
        let Ok(tsv) = fs::read_to_string(root.join("fuzz/derived/RESULTS.tsv")) else {
            continue;
        };
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (name, exit, stderr) = (col("name"), col("d1_exit"), col("d1_stderr_first_line"));
        for line in lines {
            let f: Vec<&str> = line.split('\t').collect();
            res.retain(|(n, _, _)| n != f[name]);
            res.push((f[name].to_owned(), f[exit].to_owned(), f[stderr].to_owned()));
        }
    }
    res
}

#[test]
fn fuzz_seeds_behave_as_in_go123() {
    let traces = files("fuzz/derived", "trace");
    let results = results();
    assert!(!results.is_empty(), "no fuzz seeds found");
    let mut failures = Vec::new();
    for (name, exit, stderr) in &results {
        let path = &traces[name];
        let want = fs::read(path.with_extension("d1.txt")).unwrap();
        let (out, outcome) = dump_file(path, Go::V123);
        let old_format = old_format(path);
        let problem = match (exit.as_str(), &outcome) {
            ("0", Outcome::Success) | ("1", Outcome::Failure(_)) => first_difference(&out, &want)
                .or_else(|| match &outcome {
                    Outcome::Failure(e)
                        if !old_format && e.lines().next() != Some(stderr.as_str()) =>
                    {
                        Some(format!("error {e:?}, Go's starts with {stderr:?}"))
                    }
                    _ => None,
                }),
            ("2", _) => (!out.starts_with(&want)).then(|| {
                first_difference(&out[..want.len().min(out.len())], &want).unwrap_or_default()
            }),
            _ => Some(format!(
                "Go's exit status is {exit}, our outcome {outcome:?}"
            )),
        };
        if let Some(p) = problem {
            failures.push(format!("{name}: {p}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds differ:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
}
