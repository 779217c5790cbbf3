//! The analysis subcommands end to end: `stats`, `pprof`, `convert`,
//! `check`, run as the real binary on curated traces.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{stdout, testdata, tool};
use trace_analysis::pprof::Profile;

fn trace(name: &str) -> PathBuf {
    testdata().join("traces").join(format!("{name}.trace"))
}

/// How many events Go 1.27's `go tool trace -d=parsed` printed for a trace.
fn go_parsed_events(name: &str) -> usize {
    use std::io::Read;
    let gz = fs::read(testdata().join(format!("expected/{name}.parsed.txt.gz"))).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines().filter(|l| l.starts_with("M=")).count()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trace-tool-analysis-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn stats_prints_tables_and_json() {
    let t = trace("go123-nestedtasks");
    let o = tool(&["stats", t.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    for section in [
        "Trace",
        "Garbage collection",
        "Tasks",
        "Regions",
        "Goroutines by start function",
    ] {
        assert!(text.contains(section), "no {section} in\n{text}");
    }
    assert!(text.contains("level1"));

    let o = tool(&["stats", "--json", t.to_str().unwrap()]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["events"], go_parsed_events("go123-nestedtasks"));
    // A Go 1.23 trace has no clock snapshot to date it by.
    assert!(v.get("start_wall_unix_ns").is_none());
    assert!(!text.contains("started"));
    assert!(v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["type"] == "level1"));
}

#[test]
fn pprof_writes_go_s_profile() {
    for kind in ["sync", "sched"] {
        let out = tmp(&format!("misc.{kind}.pb.gz"));
        let t = trace("go123-misc");
        let o = tool(&[
            "pprof",
            "--kind",
            kind,
            t.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = fs::read(&out).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzipped");
        let got = Profile::from_pprof(&bytes).unwrap().canonical_text();
        let want =
            fs::read_to_string(testdata().join(format!("pprof/go123-misc.{kind}.txt"))).unwrap();
        assert_eq!(got, want, "{kind}");
        // --text prints the same canonical form.
        let o = tool(&["pprof", "--kind", kind, "--text", t.to_str().unwrap()]);
        assert_eq!(stdout(&o), want);
    }
    // Not a kind: clap lists the kinds.
    let o = tool(&[
        "pprof",
        "--kind",
        "heap",
        trace("go123-misc").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[possible values: sync, net, syscall, sched, cpu]"),
        "{err}"
    );
    // A trace without CPU samples has an empty CPU profile.
    let o = tool(&[
        "pprof",
        "--kind",
        "cpu",
        "--text",
        trace("go123-misc").to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("note: the trace has no CPU samples"),
        "{o:?}"
    );
}

#[test]
fn convert_writes_chrome_json() {
    let out = tmp("nested.json");
    let t = trace("go123-nestedtasks");
    let o = tool(&[
        "convert",
        "--to",
        "chrome",
        t.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(&out).unwrap()).expect("valid JSON");
    let events = v["traceEvents"].as_array().unwrap();
    assert!(events
        .iter()
        .any(|e| e["ph"] == "B" && e["name"] == "leaf-work"));
    assert!(events.iter().any(|e| e["ph"] == "b" && e["cat"] == "task"));
}

#[test]
fn convert_closes_the_json_of_a_broken_trace() {
    let bytes = fs::read(trace("go123-testprog-gomaxprocs-advance0")).unwrap();
    let cut = tmp("cut.trace");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = tmp("cut.json");
    let o = tool(&[
        "convert",
        "--to",
        "chrome",
        cut.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!o.stderr.is_empty());
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(&out).unwrap()).expect("valid JSON");
    assert!(v["traceEvents"].as_array().unwrap().len() > 100);
}

#[test]
fn check_exit_status_follows_the_bounds() {
    let t = trace("go123-nestedtasks");
    let t = t.to_str().unwrap();
    // leaf-work regions take at most 272 µs; level1 tasks p99 610 µs.
    let ok = tool(&[
        "check",
        t,
        "--max-region",
        "leaf-work=1ms",
        "--p99-task",
        "level1=1ms",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).lines().all(|l| l.starts_with("ok")));

    let fail = tool(&[
        "check",
        t,
        "--max-region",
        "leaf-work=100us",
        "--p99-task",
        "level1=1ms",
    ]);
    assert_eq!(fail.status.code(), Some(1));
    assert!(stdout(&fail).contains("FAIL  region max \"leaf-work\""));
    // The FAIL line names the slowest region: its task, goroutine, start
    // and duration, which is the maximum the line reports.
    let line = stdout(&fail)
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .unwrap()
        .to_string();
    let max = line.split(" = ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(
        line.contains("; slowest: region of task ")
            && line.contains(" on goroutine ")
            && line.contains(" into the trace, took ")
            && line.ends_with(&format!("took {max}")),
        "{line}"
    );

    // A type that is not in the trace (a typo) fails, unless allowed.
    let typo = tool(&["check", t, "--max-task", "levell=100ms"]);
    assert_eq!(typo.status.code(), Some(1), "{}", stdout(&typo));
    assert_eq!(
        stdout(&typo).trim(),
        "FAIL  task max \"levell\": no task of this type in the trace (a typo? --allow-missing lets it pass)"
    );
    let allowed = tool(&["check", t, "--max-task", "levell=100ms", "--allow-missing"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stdout(&allowed));

    let quiet = tool(&[
        "check",
        t,
        "--rule",
        "region:p50:*=1s",
        "--rule",
        "task:max:level2=1us",
        "-q",
    ]);
    assert_eq!(quiet.status.code(), Some(1));
    assert_eq!(stdout(&quiet).lines().count(), 1, "{}", stdout(&quiet));

    // An unfinished region that has been open longer than the bound fails.
    let open = tool(&["check", t, "--max-region", "never-ended-region=1ns"]);
    assert_eq!(open.status.code(), Some(1), "{}", stdout(&open));
    assert!(stdout(&open).contains("at least"));

    assert_eq!(
        tool(&["check", t, "--max-region", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(tool(&["check", t]).status.code(), Some(2));
    assert_eq!(
        tool(&["check", "/nonexistent.trace", "--max-region", "x=1ms"])
            .status
            .code(),
        Some(2)
    );
}

/// `stats` on a trace that breaks off: the summary of what came before, its
/// doctor line saying so, and the reader's error line on standard error
/// after it; exit status 0, as `view` and `pprof` use what came before.
#[test]
fn stats_of_a_trace_that_breaks_off() {
    let whole = fs::read(trace("go123-testprog-gomaxprocs-advance0")).unwrap();
    let cut = tmp("stats-cut.trace");
    fs::write(&cut, &whole[..whole.len() * 2 / 3]).unwrap();
    let o = tool(&["stats", cut.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout(&o).contains("truncated in generation"),
        "{}",
        stdout(&o)
    );
    let want = format!("trace-tool stats: {}: ", cut.display());
    assert!(stderr.starts_with(&want), "{stderr}");
    assert!(stderr.trim_end().ends_with("events before it"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
    let _ = fs::remove_file(&cut);
}
