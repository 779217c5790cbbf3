//! The rewriting subcommands end to end: `redact`, `cut`, `filter`, run as
//! the real binary on curated traces, their outputs read back with
//! `trace-reader`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use common::{testdata, tool};
use trace_reader::Reader;

fn trace(name: &str) -> PathBuf {
    testdata().join("traces").join(format!("{name}.trace"))
}

fn current(name: &str) -> PathBuf {
    testdata()
        .join("current/traces")
        .join(format!("{name}.trace"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trace-tool-rewrite-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `trace-tool` and checks that it succeeded.
#[track_caller]
fn run_ok(args: &[&str]) -> String {
    let o = tool(args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?} failed:\n{stderr}");
    stderr
}

/// Every event as text; panics if the trace does not read to the end.
fn events(path: &PathBuf) -> Vec<String> {
    Reader::new(fs::File::open(path).unwrap())
        .unwrap()
        .map(|e| e.expect("reads to the end").to_string())
        .collect()
}

fn kinds(path: &PathBuf) -> BTreeMap<String, usize> {
    let mut res = BTreeMap::new();
    for e in events(path) {
        let kind = e.split(' ').nth(3).unwrap_or_default().to_string();
        *res.entry(kind).or_default() += 1;
    }
    res
}

#[test]
fn redact_replaces_user_strings_and_reports() {
    let input = trace("go123-testprog-annotations");
    let out = tmp("redacted.trace");
    let report = tmp("report.json");
    let stderr = run_ok(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(stderr.contains("region_name"), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["categories"]["task_name"]["distinct"], 1);
    assert_eq!(json["categories"]["region_name"]["distinct"], 5);
    assert_eq!(json["categories"]["log_message"]["distinct"], 1);
    assert!(json["categories"]["function"]["distinct"].as_u64().unwrap() > 0);

    assert_eq!(kinds(&out), kinds(&input));
    let text = events(&out).join("\n");
    assert!(text.contains("Type=\"redacted-1\""), "{text}");
    assert!(text.contains("redacted.func"), "{text}");
    // `main.*` functions are redacted by default, the runtime's kept.
    assert!(!text.contains("main.main"), "{text}");
    assert!(text.contains("runtime/trace.WithRegion"), "{text}");
    assert!(trace_reader::validate(fs::File::open(&out).unwrap()).is_valid());

    // Kept on request.
    let out2 = tmp("redacted-keep-main.trace");
    run_ok(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
        "--keep-func",
        "main.*",
    ]);
    assert!(events(&out2).join("\n").contains("main.main"));

    // And the runtime redacted too on request.
    let out3 = tmp("redacted-std.trace");
    run_ok(&[
        "redact",
        input.to_str().unwrap(),
        "-o",
        out3.to_str().unwrap(),
        "--redact-std",
    ]);
    let text = events(&out3).join("\n");
    assert!(!text.contains("runtime/trace.WithRegion"), "{text}");
    assert_eq!(kinds(&out3), kinds(&input));
}

#[test]
fn cut_keeps_whole_generations() {
    let input = current("go126-misc-p1-adv1ms");
    let all = events(&input);
    let n_gens = all.iter().filter(|e| e.contains(" Sync ")).count() - 1;
    assert!(n_gens >= 3, "{n_gens} generations");
    let out = tmp("cut.trace");
    let stderr = run_ok(&[
        "cut",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--gen",
        "2..3",
    ]);
    assert!(
        stderr.contains(&format!("kept generations 2..3 (2 of {n_gens})")),
        "{stderr}"
    );
    let cut = events(&out);
    assert_eq!(cut.iter().filter(|e| e.contains(" Sync ")).count(), 3);
    // The last generation of the cut is the input's third, event for event
    // (the first one's statuses start from nothing).
    let gen = |events: &[String], n: usize| -> Vec<String> {
        let mut k = 0;
        events
            .iter()
            .filter(|e| {
                k += usize::from(e.contains(" Sync "));
                k == n
            })
            .skip(1)
            .cloned()
            .collect()
    };
    assert_eq!(gen(&cut, 2), gen(&all, 3));

    // A window: the times of two events of the second generation.
    let times: Vec<i64> = gen(&all, 2)
        .iter()
        .filter_map(|e| e.split(" Time=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    let (from, to) = (times[1].to_string(), times[times.len() / 2].to_string());
    run_ok(&[
        "cut",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--from",
        &from,
        "--to",
        &to,
    ]);
    let cut = events(&out);
    assert_eq!(cut.iter().filter(|e| e.contains(" Sync ")).count(), 2);
    assert!(trace_reader::validate(fs::File::open(&out).unwrap()).is_valid());
}

#[test]
fn cut_errors() {
    let input = trace("go123-testprog-annotations");
    let input = input.to_str().unwrap();
    for (args, want) in [
        (vec!["cut", input], "give a window"),
        (vec!["cut", input, "--gen", "0..2"], "1 <= A <= B"),
        (
            vec!["cut", input, "--from", "0", "--to", "1"],
            "no generation",
        ),
        (
            vec!["cut", "/nonexistent.trace", "--gen", "1"],
            "nonexistent",
        ),
    ] {
        let o = tool(&args);
        assert!(!o.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.starts_with("trace-tool cut: "), "{stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn filter_without_predicates_is_the_identity() {
    for input in [
        trace("go122-testprog-stacks"),
        current("go127-testprog-iter-pull-allocfree"),
    ] {
        let out = tmp("filtered.trace");
        run_ok(&[
            "filter",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(fs::read(&out).unwrap(), fs::read(&input).unwrap());
        run_ok(&[
            "filter",
            "--reencode",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(events(&out), events(&input));
    }
}

#[test]
fn rewriting_a_broken_trace_is_an_error() {
    let bad = tmp("bad.trace");
    let mut bytes = fs::read(trace("go123-testprog-annotations")).unwrap();
    bytes.truncate(bytes.len() - 3);
    fs::write(&bad, &bytes).unwrap();
    for cmd in ["redact", "filter"] {
        let o = tool(&[
            cmd,
            bad.to_str().unwrap(),
            "-o",
            tmp("x.trace").to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("failed to read full batch"),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn filter_drops_stateless_kinds() {
    let input = current("go127-testprog-gomaxprocs-adv5ms");
    let out = tmp("dropped.trace");
    run_ok(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--drop",
        "log,metric,label",
    ]);
    let dropped = |e: &String| {
        let kind = e.split(' ').nth(3).unwrap_or_default();
        ["Log", "Metric", "Label"].contains(&kind)
    };
    let before = events(&input);
    assert!(before.iter().any(dropped));
    let after = events(&out);
    assert!(!after.iter().any(dropped));
    // Everything else is there, at the same times but for the reader's
    // monotonic fix-up: an event that had to be moved a nanosecond past a
    // dropped one of the same time no longer is.
    let rest: Vec<String> = before.into_iter().filter(|e| !dropped(e)).collect();
    assert_eq!(after.len(), rest.len());
    let split = |e: &str| -> (i64, String) {
        let (head, tail) = e.split_once(" Time=").unwrap();
        let (t, tail) = tail.split_once(' ').unwrap_or((tail, ""));
        (t.parse().unwrap(), format!("{head} {tail}"))
    };
    let mut n_moved = 0;
    for (a, b) in rest.iter().zip(&after) {
        let ((ta, a), (tb, b)) = (split(a), split(b));
        assert_eq!(a, b);
        assert!(tb <= ta && ta - tb <= 16, "{ta} -> {tb}: {a}");
        n_moved += usize::from(ta != tb);
    }
    assert!(
        n_moved * 100 < rest.len(),
        "{n_moved} of {} moved",
        rest.len()
    );
    assert!(trace_reader::validate(fs::File::open(&out).unwrap()).is_valid());
}

/// With `--key-file`, a name gets the same replacement in every trace
/// redacted with that key (dumps of a fleet can be joined), and another in
/// traces redacted with another key.
#[test]
fn keyed_redaction_is_the_same_across_traces() {
    // Two traces of the same test program, by Go 1.23 and Go 1.26: the
    // same task types.
    let a = trace("go123-testprog-annotations");
    let b = current("go126-testprog-annotations-advance0");
    let key = tmp("fleet.key");
    let other = tmp("other.key");
    fs::write(&key, "fleet secret\n").unwrap();
    fs::write(&other, "another secret\n").unwrap();
    let task_types = |path: &PathBuf| -> std::collections::BTreeSet<String> {
        events(path)
            .iter()
            .filter(|e| e.contains("TaskBegin"))
            .filter_map(|e| e.split("Type=").nth(1)?.lines().next().map(str::to_string))
            .collect()
    };
    let redact = |input: &PathBuf, key: &PathBuf, name: &str| {
        let out = tmp(name);
        run_ok(&[
            "redact",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ]);
        out
    };
    let (ta, tb) = (task_types(&a), task_types(&b));
    let common: Vec<_> = ta.intersection(&tb).collect();
    assert!(!common.is_empty(), "{ta:?} {tb:?}");
    let ra = task_types(&redact(&a, &key, "a.trace"));
    let rb = task_types(&redact(&b, &key, "b.trace"));
    let rc = task_types(&redact(&b, &other, "c.trace"));
    assert!(ra.iter().all(|t| t.starts_with("\"redacted-")), "{ra:?}");
    // As many shared types after as before, none with its old name.
    assert_eq!(ra.intersection(&rb).count(), common.len(), "{ra:?} {rb:?}");
    assert!(ra.intersection(&ta).next().is_none());
    assert_eq!(ra.intersection(&rc).count(), 0, "another key, other names");

    // An empty key is refused.
    let empty = tmp("empty.key");
    fs::write(&empty, "\n").unwrap();
    let o = tool(&[
        "redact",
        a.to_str().unwrap(),
        "-o",
        tmp("x.trace").to_str().unwrap(),
        "--key-file",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is empty"));
}

/// Splits an event's text into its time and the rest.
fn time_of(e: &str) -> i64 {
    let (_, tail) = e.split_once(" Time=").unwrap();
    tail.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn filter_window_holds_the_events_of_the_window() {
    let input = current("go127-testprog-gomaxprocs-adv5ms");
    let before = events(&input);
    let (from, to) = (
        time_of(&before[before.len() / 3]),
        time_of(&before[2 * before.len() / 3]),
    );
    let out = tmp("window.trace");
    let stderr = run_ok(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
    ]);
    let window: Vec<&String> = before
        .iter()
        .filter(|e| (from..=to).contains(&time_of(e)))
        .filter(|e| !e.contains(" RangeActive ") && !e.contains("stop-the-world"))
        .collect();
    let after = events(&out);
    // A sync, the statuses at the cut (before `from`), the window, a sync.
    let start = after.iter().position(|e| time_of(e) >= from).unwrap();
    assert!(after[0].contains(" Sync "));
    assert!(after[1..start]
        .iter()
        .all(|e| e.contains(" StateTransition ") || e.contains(" RangeActive ")));
    assert!(start > 5, "the statuses of the procs and goroutines");
    let kept: Vec<&String> = after[start..after.len() - 1]
        .iter()
        .filter(|e| !e.contains(" RangeActive ") && !e.contains("stop-the-world"))
        .collect();
    let norm = |e: &str| e.replace("NotExist->", "Undetermined->");
    assert_eq!(kept.len(), window.len(), "{stderr}");
    for (a, b) in kept.iter().zip(&window) {
        if b.contains(" Sync ") {
            continue;
        }
        assert_eq!(norm(a), norm(b));
    }
    let v = tool(&["validate", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn filter_goroutines_and_tasks() {
    let input = trace("go123-testprog-annotations");
    let out = tmp("goroutines.trace");
    run_ok(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--goroutine",
        "1",
    ]);
    let goroutines = |path: &PathBuf| -> std::collections::BTreeSet<String> {
        events(path)
            .iter()
            .filter_map(|e| Some(e.split(" GoID=").nth(1)?.split(' ').next()?.to_string()))
            .collect()
    };
    assert!(goroutines(&input).len() > 1);
    assert_eq!(goroutines(&out), ["1".to_string()].into());
    // A task keeps the goroutines that worked on it, and its own events.
    let out = tmp("task.trace");
    run_ok(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--task",
        "task0",
        "--kinds",
        "task,region,log",
    ]);
    let after = kinds(&out);
    assert_eq!(after.get("TaskBegin"), Some(&1));
    assert!(!after.contains_key("Metric"));
    let v = tool(&["validate", out.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn filter_events_is_the_round_trip() {
    let input = current("go127-testprog-gomaxprocs-adv5ms");
    let out = tmp("events.trace");
    run_ok(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--events",
    ]);
    assert_eq!(events(&out), events(&input));
    assert!(fs::read(&out).unwrap().starts_with(b"go 1.26 trace"));
}

#[test]
fn filter_writes_go123_format() {
    let input = trace("go123-testprog-annotations");
    let out = tmp("go123.trace");
    run_ok(&[
        "filter",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "1.23",
    ]);
    assert!(fs::read(&out).unwrap().starts_with(b"go 1.23 trace"));
    let strip = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|l| match l.find(" Trace=") {
                Some(i) if l.contains(" Sync ") => l[..i].to_string(),
                _ => l,
            })
            .collect()
    };
    assert_eq!(strip(events(&out)), strip(events(&input)));
}
