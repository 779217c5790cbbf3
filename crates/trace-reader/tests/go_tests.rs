//! Go's synthetic reader tests (`tests/*.test`, txtar archives): a trace in
//! text form and the expected result, `SUCCESS` or `FAILURE "<regexp>"`.
//!
//! The binary traces are the `tests/derived/NAME.trace` conversions made with
//! Go's own tools; a test without one (`go125-sync`) is converted with
//! `trace_wire::text`. Our output must equal Go 1.27's `-d=parsed`
//! (`testdata/go127/tests/NAME.parsed.txt`, and its standard error) and,
//! read with `Compat::Go123`, Go 1.23's `-d=1` when it is known
//! (`tests/derived/NAME.d1.txt.gz`); when Go 1.23 failed a test that newer
//! Go passes (`go123-sync`), Go 1.23's partial output must be a prefix of
//! ours.

mod common;

use std::fs;
use std::path::Path;

use common::{dump_file, files, first_difference, go127_dir, gunzip, roots, Go, Outcome};
use trace_reader::Reader;

/// A section of a txtar archive.
fn section<'a>(archive: &'a str, name: &str) -> &'a str {
    let marker = format!("-- {name} --\n");
    let start = archive.find(&marker).expect("missing section") + marker.len();
    let rest = &archive[start..];
    let end = rest.find("\n-- ").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// The expected outcome: `None` for success, else the error regexp.
fn expectation(archive: &str) -> Option<regex::Regex> {
    let line = section(archive, "expect")
        .lines()
        .next()
        .unwrap_or_default();
    match line.split_once(' ') {
        None if line == "SUCCESS" => None,
        Some(("FAILURE", quoted)) => {
            let pattern = quoted
                .trim()
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .expect("quoted pattern")
                .replace("\\\"", "\"");
            Some(regex::Regex::new(&pattern).unwrap())
        }
        _ => panic!("bad expectation {line:?}"),
    }
}

/// The first existing `tests/derived/{name}{suffix}` in the corpus roots,
/// preferring the shared corpus.
fn derived(name: &str, suffix: &str) -> Option<std::path::PathBuf> {
    roots()
        .into_iter()
        .rev()
        .map(|r| r.join("tests/derived").join(format!("{name}{suffix}")))
        .find(|p| p.is_file())
}

/// Dumps the test's trace as `go` does.
fn dump_test(name: &str, archive: &str, go: Go) -> Result<(Vec<u8>, Outcome), String> {
    match derived(name, ".trace") {
        Some(trace) => Ok(dump_file(&trace, go)),
        None => {
            let text = section(archive, "trace");
            let bytes = trace_wire::text::text_to_bytes(text.as_bytes(), Default::default())
                .map_err(|e| format!("converting the text form: {e}"))?;
            let mut out = Vec::new();
            let outcome = common::dump(&bytes[..], &mut out, go).unwrap();
            Ok((out, outcome))
        }
    }
}

fn check(name: &str, path: &Path) -> Result<(), String> {
    let archive = fs::read_to_string(path).unwrap();
    let expect = expectation(&archive);
    let (out, outcome) = dump_test(name, &archive, Go::V127)?;
    match (&expect, &outcome) {
        (None, Outcome::Failure(e)) => return Err(format!("expected success, got error: {e}")),
        (Some(re), Outcome::Success) => return Err(format!("expected an error matching {re}")),
        (Some(re), Outcome::Failure(e)) if !re.is_match(e) => {
            return Err(format!("error {e:?} does not match {re}"))
        }
        _ => {}
    }
    // Go 1.27's output, when the test has a binary trace.
    if derived(name, ".trace").is_some() {
        let dir = go127_dir().join("tests");
        let want = fs::read(dir.join(format!("{name}.parsed.txt")))
            .map_err(|e| format!("Go 1.27's output: {e} (run `cargo xtask golden`)"))?;
        if let Some(diff) = first_difference(&out, &want) {
            return Err(format!("differs from Go 1.27: {diff}"));
        }
        let err = fs::read_to_string(dir.join(format!("{name}.parsed.err.txt"))).ok();
        match (&outcome, err) {
            (Outcome::Success, None) => {}
            (Outcome::Failure(e), Some(want)) if format!("{e}\n") == want => {}
            (outcome, want) => {
                return Err(format!("{outcome:?}, Go 1.27 printed {want:?}"));
            }
        }
    }
    if let Some(d1) = derived(name, ".d1.txt.gz") {
        let (out, _) = dump_test(name, &archive, Go::V123)?;
        let want = gunzip(&d1);
        let go_failed = derived(name, ".err.txt").is_some();
        if go_failed && expect.is_none() {
            // Go 1.23 fails a test newer Go passes: it printed a prefix.
            if !out.starts_with(&want) {
                return Err(format!(
                    "Go 1.23's partial output is not a prefix of ours:\n{}",
                    first_difference(&out[..want.len().min(out.len())], &want).unwrap_or_default()
                ));
            }
        } else if let Some(diff) = first_difference(&out, &want) {
            return Err(format!("differs from Go 1.23: {diff}"));
        }
    }
    Ok(())
}

#[test]
fn go_reader_tests() {
    let tests = files("tests", "test");
    assert!(!tests.is_empty(), "no tests found");
    let failures: Vec<String> = tests
        .iter()
        .filter_map(|(name, path)| check(name, path).err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} tests failed:\n\n{}",
        failures.len(),
        tests.len(),
        failures.join("\n\n")
    );
}

/// Go 1.25 traces: a sync before each generation (with its clock snapshot)
/// and one at the end; an empty generation is fine.
#[test]
fn go125_sync_events() {
    let tests = files("tests", "test");
    let archive = fs::read_to_string(&tests["go125-sync"]).unwrap();
    let text = section(&archive, "trace");
    let bytes = trace_wire::text::text_to_bytes(text.as_bytes(), Default::default()).unwrap();
    let events: Vec<_> = Reader::new(&bytes[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let lines: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        [
            "M=-1 P=-1 G=-1 Sync Time=9 N=1 Trace=10 Mono=99 Wall=2025-02-28T15:04:09.000000123Z",
            "M=1 P=-1 G=-1 StateTransition Time=16 ProcID=0 Undetermined->Running Reason=\"\"",
            "M=-1 P=-1 G=-1 Sync Time=38 N=2 Trace=40 Mono=199 Wall=2025-02-28T15:04:10.000000123Z",
            "M=-1 P=-1 G=-1 Sync Time=58 N=3 Trace=60 Mono=299 Wall=2025-02-28T15:04:11.000000123Z",
            "M=1 P=0 G=-1 StateTransition Time=82 ProcID=0 Running->Running Reason=\"\"",
            "M=-1 P=-1 G=-1 Sync Time=83 N=4",
        ]
    );
    let syncs: Vec<_> = events.iter().filter_map(|e| e.sync()).collect();
    assert_eq!(syncs.iter().map(|s| s.n).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let clock = syncs[0].clock_snapshot.expect("clock snapshot");
    assert_eq!(
        (
            clock.trace.as_nanos(),
            clock.mono,
            clock.wall_sec,
            clock.wall_nsec
        ),
        (10, 99, 1_740_755_049, 123)
    );
    assert_eq!(syncs[1].clock_snapshot.unwrap().trace.as_nanos(), 40);
    assert!(syncs[3].clock_snapshot.is_none());
}

/// Go 1.23 traces as Go 1.23 reads them: one sync after each generation;
/// the empty middle generation yields only its sync. (Today's reader puts
/// them before each generation, and one at the end.)
#[test]
fn go123_sync_events() {
    let trace = derived("go123-sync", ".trace").expect("derived go123-sync.trace");
    let (out, outcome) = dump_file(&trace, Go::V127);
    assert!(matches!(outcome, Outcome::Success), "{outcome:?}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "M=-1 P=-1 G=-1 Sync Time=10 N=1\n\
         M=1 P=-1 G=-1 StateTransition Time=16 ProcID=0 Undetermined->Running Reason=\"\"\n\
         M=-1 P=-1 G=-1 Sync Time=40 N=2\n\
         M=-1 P=-1 G=-1 Sync Time=60 N=3\n\
         M=1 P=0 G=-1 StateTransition Time=62 ProcID=0 Running->Running Reason=\"\"\n\
         M=-1 P=-1 G=-1 Sync Time=63 N=4\n"
    );
    let (out, outcome) = dump_file(&trace, Go::V123);
    assert!(matches!(outcome, Outcome::Success), "{outcome:?}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "M=1 P=-1 G=-1 StateTransition Time=16 Resource=Proc(0) Reason=\"\" ProcID=0 Undetermined->Running\n\
         M=-1 P=-1 G=-1 Sync Time=17\n\
         M=-1 P=-1 G=-1 Sync Time=18\n\
         M=1 P=0 G=-1 StateTransition Time=62 Resource=Proc(0) Reason=\"\" ProcID=0 Running->Running\n\
         M=-1 P=-1 G=-1 Sync Time=63\n"
    );
}
