//! The subcommands on the curated Go 1.25–1.27 traces (`testdata/current`),
//! run as the real binary: `validate`, `stats`, `convert --to chrome`,
//! `check` and `view --html`. What they report is checked against what Go
//! 1.27 printed for the same traces (`testdata/current/expected`, and the
//! counts of `testdata/current/MANIFEST.tsv`).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::Output;

use common::{stdout, testdata, tool};

fn current() -> PathBuf {
    testdata().join("current")
}

/// The curated current traces, by name.
fn traces() -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = fs::read_dir(current().join("traces"))
        .expect("testdata/current/traces")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trace-tool-current-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The manifest's `events_parsed` and `generations` of a trace.
fn manifest(name: &str) -> (u64, u64) {
    let text = fs::read_to_string(current().join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |c: &str| header.iter().position(|h| *h == c).unwrap();
    let (events, gens) = (col("events_parsed"), col("generations"));
    let row: Vec<&str> = lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|r| r[0] == name)
        .unwrap_or_else(|| panic!("{name} not in the manifest"));
    (row[events].parse().unwrap(), row[gens].parse().unwrap())
}

/// Go 1.27's `go tool trace -d=parsed` output for a trace.
fn go_parsed(name: &str) -> String {
    let gz = fs::read(current().join(format!("expected/{name}.parsed.txt.gz"))).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The value of `key=` in one line of Go's output.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// Parses `2006-01-02T15:04:05.999999999Z` into nanoseconds since the Unix
/// epoch.
fn parse_rfc3339(s: &str) -> i64 {
    let s = s.strip_suffix('Z').expect("UTC");
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let t: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
    let nanos: i64 = format!("{frac:0<9}").parse().unwrap();
    // Howard Hinnant's days_from_civil.
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1_000_000_000) + nanos
}

#[test]
fn rfc3339_parser_agrees_with_known_instants() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    assert_eq!(
        parse_rfc3339("2000-03-01T00:00:01.5Z"),
        951_868_801_500_000_000
    );
}

#[test]
fn validate_reports_every_current_trace_valid() {
    for (name, path) in traces() {
        let o = tool(&["validate", path.to_str().unwrap()]);
        ok(&o, &name);
        let out = stdout(&o);
        let (events, gens) = manifest(&name);
        assert!(out.contains(": valid: "), "{name}: {out}");
        assert!(
            out.contains(&format!(" {events} events, {gens} generations,")),
            "{name}: Go counts {events} events, {gens} generations; we print {out}"
        );
    }
}

#[test]
fn stats_count_what_go_parsed_and_date_the_trace() {
    for (name, path) in traces() {
        let path = path.to_str().unwrap();
        let (events, gens) = manifest(&name);
        let parsed = go_parsed(&name);
        let first_sync = parsed
            .lines()
            .find(|l| l.starts_with("M=") && l.contains(" Sync "))
            .unwrap();
        let syncs = parsed
            .lines()
            .filter(|l| l.starts_with("M=") && l.contains(" Sync "))
            .count();
        // Go's first sync: its time, and the clock snapshot's trace and
        // wall clocks; the wall clock of the first event (the sync) follows.
        let time: i64 = field(first_sync, "Time").parse().unwrap();
        let trace_clock: i64 = field(first_sync, "Trace").parse().unwrap();
        let wall = parse_rfc3339(field(first_sync, "Wall")) + (time - trace_clock);

        let o = tool(&["stats", "--json", path]);
        ok(&o, &name);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
        assert_eq!(v["events"], events, "{name}");
        assert_eq!(v["generations"], gens, "{name}");
        assert_eq!(v["events_by_kind"]["Sync"], syncs, "{name}");
        assert_eq!(v["start_ns"], time, "{name}");
        assert_eq!(v["start_wall_unix_ns"], wall, "{name}");

        let o = tool(&["stats", path]);
        ok(&o, &name);
        let text = stdout(&o);
        let started = text
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("started"))
            .unwrap_or_else(|| panic!("{name}: no start time in\n{text}"));
        let started = started.trim().strip_suffix(" (wall clock)").unwrap();
        assert_eq!(parse_rfc3339(started), wall, "{name}: {started}");
        let generations = text
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("generations"))
            .unwrap();
        assert_eq!(generations.trim(), gens.to_string(), "{name}");
    }
}

/// The region and task types Go saw begin in a trace.
fn begun_types(parsed: &str, kind: &str) -> BTreeSet<String> {
    parsed
        .lines()
        .filter(|l| l.starts_with("M=") && l.contains(&format!(" {kind} ")))
        .map(|l| {
            let ty = l.split_once(" Type=").unwrap().1;
            ty.trim_matches('"').to_string()
        })
        .collect()
}

#[test]
fn convert_writes_chrome_json_of_every_current_trace() {
    for (name, path) in traces() {
        let out = tmp(&format!("{name}.json"));
        let o = tool(&[
            "convert",
            "--to",
            "chrome",
            path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        ok(&o, &name);
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(&out).unwrap()).expect("valid JSON");
        fs::remove_file(&out).unwrap();
        let events = v["traceEvents"].as_array().unwrap();
        assert!(!events.is_empty(), "{name}");
        // Every region type Go saw begin has a slice.
        let parsed = go_parsed(&name);
        for ty in begun_types(&parsed, "RegionBegin") {
            assert!(
                events.iter().any(|e| e["ph"] == "B" && e["name"] == ty),
                "{name}: no slice for region {ty}"
            );
        }
        if !begun_types(&parsed, "TaskBegin").is_empty() {
            assert!(
                events.iter().any(|e| e["ph"] == "b" && e["cat"] == "task"),
                "{name}: no task"
            );
        }
    }
}

#[test]
fn check_bounds_the_regions_and_tasks_of_current_traces() {
    let mut checked = 0;
    for (name, path) in traces() {
        let parsed = go_parsed(&name);
        let regions = begun_types(&parsed, "RegionBegin");
        let tasks = begun_types(&parsed, "TaskBegin");
        if regions.is_empty() || tasks.is_empty() {
            continue;
        }
        checked += 1;
        let path = path.to_str().unwrap();
        let o = tool(&[
            "check",
            path,
            "--rule",
            "region:max:*=60m",
            "--rule",
            "task:p99:*=60m",
        ]);
        ok(&o, &name);
        let out = stdout(&o);
        for ty in &regions {
            assert!(
                out.contains(&format!("ok    region max \"{ty}\"")),
                "{name}: region {ty} not checked in\n{out}"
            );
        }
        // No region takes a nanosecond or less: every bound fails.
        let o = tool(&["check", path, "--rule", "region:max:*=1ns", "-q"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        assert!(stdout(&o).lines().all(|l| l.starts_with("FAIL")));
    }
    assert!(
        checked > 0,
        "no curated current trace has regions and tasks"
    );
}

#[test]
fn view_writes_an_offline_page_of_every_current_trace() {
    for (name, path) in traces() {
        let out = tmp(&format!("{name}.html"));
        let o = tool(&[
            "view",
            "--html",
            out.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        ok(&o, &name);
        let html = fs::read_to_string(&out).unwrap();
        fs::remove_file(&out).unwrap();
        assert!(html.contains("id=\"trace-data\""), "{name}");
        assert!(
            html.contains(&format!("\"title\":\"{name}.trace\"")),
            "{name}"
        );
    }
}
