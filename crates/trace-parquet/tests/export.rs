//! The exported tables, read back with the parquet crate, against what the
//! reader yields: every event, each task's and region's duration, stacks
//! frame by frame, and the fleet query of the crate docs (p99 of a task
//! type over a directory of exports).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use trace_reader::{EventKind, Reader};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// A scratch directory of its own per test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trace-parquet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A table's rows as column name → field.
fn rows(path: &Path) -> Vec<BTreeMap<String, Field>> {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

fn long(row: &BTreeMap<String, Field>, k: &str) -> Option<i64> {
    match &row[k] {
        Field::Long(v) => Some(*v),
        Field::Int(v) => Some(i64::from(*v)),
        Field::Null => None,
        other => panic!("{k}: {other:?}"),
    }
}

fn string(row: &BTreeMap<String, Field>, k: &str) -> String {
    match &row[k] {
        Field::Str(s) => s.clone(),
        other => panic!("{k}: {other:?}"),
    }
}

fn export(trace: &Path, dir: &Path, name: &str) -> trace_parquet::Summary {
    let mut reader = Reader::new(File::open(trace).unwrap()).unwrap();
    trace_parquet::export(&mut reader, dir, name).unwrap()
}

/// Task durations by type, straight from the reader (begin and end both in
/// the trace).
fn task_durations(trace: &Path) -> BTreeMap<String, Vec<i64>> {
    let mut begun = BTreeMap::new();
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for ev in Reader::new(File::open(trace).unwrap()).unwrap() {
        let ev = ev.unwrap();
        let Some(task) = ev.task() else { continue };
        let t = ev.time().as_nanos();
        match ev.kind() {
            EventKind::TaskBegin => {
                begun.insert(task.id, t);
            }
            EventKind::TaskEnd => {
                if let Some(start) = begun.remove(&task.id) {
                    out.entry(task.ty.to_string()).or_default().push(t - start);
                }
            }
            _ => {}
        }
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

/// A percentile as DuckDB's `quantile_disc` gives it: the value at rank
/// `ceil(q * n)` (`cargo xtask parquet-sql` checks DuckDB agrees).
fn quantile_disc(sorted: &[i64], q: f64) -> i64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1]
}

#[test]
fn tables_hold_what_the_reader_yields() {
    for name in [
        "traces/go123-testprog-annotations.trace",
        "current/traces/go126-testprog-annotations-advance0.trace",
        "current/traces/go127-nestedtasks-advance0.trace",
    ] {
        let trace = testdata(name);
        let dir = scratch("tables");
        let summary = export(&trace, &dir, name);

        // Every event, in order, with its kind.
        let kinds: Vec<String> = Reader::new(File::open(&trace).unwrap())
            .unwrap()
            .map(|e| e.unwrap().kind().name().to_owned())
            .collect();
        let events = rows(&dir.join("events.parquet"));
        assert_eq!(summary.events, kinds.len() as u64, "{name}");
        assert_eq!(summary.rows("events"), kinds.len() as u64, "{name}");
        assert_eq!(events.len(), kinds.len(), "{name}");
        for (row, kind) in events.iter().zip(&kinds) {
            assert_eq!(&string(row, "kind"), kind, "{name}");
            assert_eq!(string(row, "trace"), name);
        }
        let mut times: Vec<i64> = events.iter().map(|r| long(r, "time_ns").unwrap()).collect();
        assert_eq!(times[0], 0, "{name}: times from the first event");
        times.dedup();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{name}: in order");

        // Tasks: the same durations per type as the reader's.
        let mut by_type: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for row in rows(&dir.join("tasks.parquet")) {
            if let Some(d) = long(&row, "duration_ns") {
                assert_eq!(
                    d,
                    long(&row, "end_ns").unwrap() - long(&row, "start_ns").unwrap()
                );
                by_type.entry(string(&row, "type")).or_default().push(d);
            }
        }
        for v in by_type.values_mut() {
            v.sort_unstable();
        }
        let expected = task_durations(&trace);
        assert!(!expected.is_empty(), "{name} has tasks");
        assert_eq!(by_type, expected, "{name}");

        // Regions: each has a type and a non-negative duration; as many
        // ends as the trace has.
        let n_ends = kinds.iter().filter(|k| *k == "RegionEnd").count();
        let regions = rows(&dir.join("regions.parquet"));
        let ended = regions
            .iter()
            .filter(|r| long(r, "end_ns").is_some())
            .count();
        assert!(ended >= n_ends, "{name}: {ended} of {n_ends} region ends");
        assert!(regions
            .iter()
            .filter_map(|r| long(r, "duration_ns"))
            .all(|d| d >= 0));

        // Logs: one row per log event.
        let n_logs = kinds.iter().filter(|k| *k == "Log").count();
        assert_eq!(rows(&dir.join("logs.parquet")).len(), n_logs, "{name}");

        // Stacks: each event's stack, frame by frame, is the reader's.
        let mut frames: BTreeMap<i64, Vec<(String, String, i64)>> = BTreeMap::new();
        for row in rows(&dir.join("stacks.parquet")) {
            let id = long(&row, "stack").unwrap();
            let f = frames.entry(id).or_default();
            assert_eq!(long(&row, "depth").unwrap(), f.len() as i64, "{name}");
            f.push((
                string(&row, "func"),
                string(&row, "file"),
                long(&row, "line").unwrap(),
            ));
        }
        let reader = Reader::new(File::open(&trace).unwrap()).unwrap();
        for (row, ev) in events.iter().zip(reader) {
            let ev = ev.unwrap();
            let want: Vec<(String, String, i64)> = ev
                .stack()
                .map(|s| {
                    s.frames()
                        .map(|f| (f.func.to_string(), f.file.to_string(), f.line as i64))
                        .collect()
                })
                .unwrap_or_default();
            match long(row, "stack") {
                Some(id) => assert_eq!(frames[&id], want, "{name}: stack {id}"),
                None => assert!(want.is_empty(), "{name}"),
            }
        }

        // Goroutine states: non-negative stretches, consecutive per goroutine.
        let mut last_end: BTreeMap<i64, i64> = BTreeMap::new();
        for row in rows(&dir.join("goroutine_states.parquet")) {
            let (s, e) = (
                long(&row, "start_ns").unwrap(),
                long(&row, "end_ns").unwrap(),
            );
            assert!(s <= e, "{name}");
            assert_eq!(long(&row, "duration_ns").unwrap(), e - s);
            let _ = last_end.insert(long(&row, "goroutine").unwrap(), e);
        }
        assert!(!last_end.is_empty(), "{name}");

        let traces = rows(&dir.join("traces.parquet"));
        assert_eq!(traces.len(), 1);
        assert_eq!(long(&traces[0], "events").unwrap(), kinds.len() as i64);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The crate docs' query, computed over the exports of three traces in
/// one directory, equals the percentile of the durations the reader gives.
#[test]
fn p99_of_a_task_type_across_a_directory_of_exports() {
    let root = scratch("fleet");
    let traces = [
        "traces/go123-testprog-annotations.trace",
        "traces/go122-testprog-annotations.trace",
        "current/traces/go126-testprog-annotations-advance0.trace",
    ];
    let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (i, name) in traces.iter().enumerate() {
        export(&testdata(name), &root.join(format!("dump{i}")), name);
        for (ty, d) in task_durations(&testdata(name)) {
            expected.entry(ty).or_default().extend(d);
        }
    }
    // `FROM 'root/*/tasks.parquet' WHERE duration_ns IS NOT NULL GROUP BY type`
    let mut durations: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut per_trace = BTreeMap::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        for row in rows(&entry.unwrap().path().join("tasks.parquet")) {
            *per_trace.entry(string(&row, "trace")).or_insert(0) += 1;
            if let Some(d) = long(&row, "duration_ns") {
                durations.entry(string(&row, "type")).or_default().push(d);
            }
        }
    }
    assert_eq!(per_trace.len(), traces.len(), "{per_trace:?}");
    for v in durations.values_mut().chain(expected.values_mut()) {
        v.sort_unstable();
    }
    assert_eq!(
        durations.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (ty, d) in &durations {
        assert_eq!(
            quantile_disc(d, 0.99),
            quantile_disc(&expected[ty], 0.99),
            "p99 of {ty}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// A truncated trace: the error says so, and the tables of the events
/// before it are complete files.
#[test]
fn a_broken_trace_keeps_the_events_before_the_problem() {
    let bytes = std::fs::read(testdata("traces/go123-testprog-annotations.trace")).unwrap();
    let cut = &bytes[..bytes.len() * 2 / 3];
    let dir = scratch("broken");
    let mut reader = Reader::new(cut).unwrap();
    let err = trace_parquet::export(&mut reader, &dir, "cut").unwrap_err();
    assert!(matches!(err, trace_parquet::Error::Trace(_)), "{err}");
    let events = rows(&dir.join("events.parquet"));
    assert!(!events.is_empty());
    assert_eq!(rows(&dir.join("traces.parquet")).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An output directory that cannot be made is an I/O error naming it.
#[test]
fn an_unwritable_directory_is_an_error() {
    let trace = testdata("traces/go123-testprog-annotations.trace");
    let file = scratch("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let mut reader = Reader::new(File::open(trace).unwrap()).unwrap();
    let err = trace_parquet::export(&mut reader, &file.join("sub"), "x").unwrap_err();
    assert!(matches!(err, trace_parquet::Error::Io(..)), "{err}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    std::fs::remove_file(&file).unwrap();
}
