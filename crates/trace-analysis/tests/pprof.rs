//! Our blocking profiles against Go's, without Go: the golden files under
//! `testdata/pprof/` hold what Go 1.27's `go tool trace -pprof=KIND` writes
//! for each curated trace, of Go 1.22–1.23 (`testdata/traces`) and of Go
//! 1.25–1.27 (`testdata/current/traces`) (see `testdata/pprof/README.md`;
//! `cargo xtask oracle-pprof` regenerates them and compares both corpora
//! with Go).

use std::fs;
use std::path::{Path, PathBuf};

use trace_analysis::pprof::{self, Profile, ProfileKind};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The curated traces in `dir` (below `testdata/`), by name.
fn traces_in(dir: &str) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = fs::read_dir(testdata().join(dir))
        .unwrap_or_else(|e| panic!("testdata/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no traces in testdata/{dir}");
    v
}

/// Every curated trace, old and current.
fn traces() -> Vec<(String, PathBuf)> {
    let mut v = traces_in("traces");
    v.extend(traces_in("current/traces"));
    v
}

#[test]
fn profiles_match_go_golden_files() {
    let mut failures = Vec::new();
    let mut checked = 0;
    let traces = traces();
    for (name, path) in &traces {
        for kind in ProfileKind::ALL {
            let golden = testdata().join(format!("pprof/{name}.{kind}.txt"));
            let want = fs::read_to_string(&golden).unwrap_or_else(|e| {
                panic!("{}: {e} (run `cargo xtask oracle-pprof`)", golden.display())
            });
            let profile = pprof::profile(fs::File::open(path).unwrap(), kind)
                .unwrap_or_else(|e| panic!("{name} {kind}: {e}"));
            // Through the encoder and back, so that the bytes are checked.
            let mut gz = Vec::new();
            profile.write_pprof(&mut gz).unwrap();
            let decoded = Profile::from_pprof(&gz).unwrap();
            assert_eq!(decoded, profile, "{name} {kind}: encoding round trip");
            if decoded.canonical_text() != want {
                failures.push(format!("{name} {kind}"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "profiles differ from Go's: {failures:?}"
    );
    assert_eq!(checked, traces.len() * ProfileKind::ALL.len());
}

#[test]
fn decodes_a_profile_written_by_go() {
    // The `sync` profile of go123-misc exactly as Go 1.23 wrote it (gunzipped):
    // Go packs repeated fields of more than two elements only.
    let hex: String = [
        "0a04080110020a0408031004120a0801080210011080c134120c0a050304050607100210c030120a08030808100110c0",
        "9902220d080118c7b39d02220408011076220d080218f1ffab02220408021054220e080318f1c881022205080310e903",
        "220e080418f38086022205080410ba0a220e08051884cb85022205080510b905220e080618ddc085022205080610f403",
        "220d080718a980ac0222040802105a220d080818e480ac0222040802105f2a0808011005180520062a08080210071807",
        "20082a08080310091809200a2a080804100b180b200c2a080805100d180d200c2a080806100e180e200c3200320b636f",
        "6e74656e74696f6e733205636f756e74320564656c6179320b6e616e6f7365636f6e6473321673796e632e282a576169",
        "7447726f7570292e5761697432262f7573722f6c69622f676f2d312e32332f7372632f73796e632f7761697467726f75",
        "702e676f32096d61696e2e6d61696e321b2f746d702f636f727075732d7372632f6f776e2f6d6973632e676f32117275",
        "6e74696d652e6368616e726563763132242f7573722f6c69622f676f2d312e32332f7372632f72756e74696d652f6368",
        "616e2e676f321c72756e74696d652e676342674d61726b5374617274576f726b65727332232f7573722f6c69622f676f",
        "2d312e32332f7372632f72756e74696d652f6d67632e676f320f72756e74696d652e67635374617274320a72756e7469",
        "6d652e4743320574726163655a04080f10026001",
    ]
    .concat();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let p = Profile::from_pprof(&bytes).unwrap();
    assert_eq!(p.samples.len(), 3);
    let want = fs::read_to_string(testdata().join("pprof/go123-misc.sync.txt")).unwrap();
    assert_eq!(p.canonical_text(), want);
}

#[test]
fn broken_traces_keep_the_events_before_their_last_sync() {
    // Many generations, in both the old framing (Go 1.23) and the Go 1.26
    // one (end-of-generation events): cut in the middle, the events before
    // the last sync are profiled, as Go does (`cargo xtask oracle-pprof`
    // compares cut traces with Go's tool).
    for trace in [
        "traces/go123-testprog-gomaxprocs-advance0.trace",
        "current/traces/go127-nestedtasks-advance0.trace",
    ] {
        let bytes = fs::read(testdata().join(trace)).unwrap();
        let whole = pprof::profile(&bytes[..], ProfileKind::Sched).unwrap();
        let half = pprof::profile(&bytes[..bytes.len() / 2], ProfileKind::Sched)
            .unwrap_or_else(|e| panic!("{trace} cut in half: {e}"));
        assert!(!half.samples.is_empty(), "{trace}");
        assert!(half.total_delay_ns() < whole.total_delay_ns(), "{trace}");
        // Cut inside the first generation: the reader yields a sync and
        // then fails, so no goroutine is known, and Go gives up.
        let err = pprof::profile(&bytes[..2000], ProfileKind::Sched).unwrap_err();
        assert!(matches!(err, pprof::Error::NoGoroutines), "{trace}: {err}");
    }
}

#[test]
fn unreadable_or_empty_traces_are_errors() {
    for input in [&b""[..], b"not a trace at all"] {
        let err = pprof::profile(input, ProfileKind::Sync).unwrap_err();
        assert!(matches!(err, pprof::Error::Read(_)), "{err}");
    }
    // A header and nothing else: a trace without goroutines.
    let err = pprof::profile(&b"go 1.26 trace\0\0\0"[..], ProfileKind::Sync).unwrap_err();
    assert!(matches!(err, pprof::Error::NoGoroutines), "{err}");
}

#[test]
fn events_without_a_stack_count_under_the_empty_stack() {
    // Go 1.27 profiles every goroutine transition, also those without a
    // stack (a goroutine's status at the start of a generation, say): their
    // time goes to a sample with no frames. The traces that have one are
    // those whose golden files have one.
    let mut seen = 0;
    for (name, path) in traces() {
        for kind in ProfileKind::ALL {
            let golden =
                fs::read_to_string(testdata().join(format!("pprof/{name}.{kind}.txt"))).unwrap();
            let go_has_empty = golden
                .split_inclusive('\n')
                .zip(golden.split_inclusive('\n').skip(1).chain([""]))
                .any(|(line, next)| !line.starts_with('\t') && !next.starts_with('\t'));
            let profile = pprof::profile(fs::File::open(&path).unwrap(), kind).unwrap();
            let ours_has_empty = profile.samples.iter().any(|s| s.stack.is_empty());
            assert_eq!(ours_has_empty, go_has_empty, "{name} {kind}");
            seen += usize::from(ours_has_empty);
        }
    }
    assert!(seen > 0, "no curated trace has a sample without a stack");
}
