//! `stats` against direct computations from the event stream: task
//! latencies from begin/end pairs (including tasks that cross generations,
//! unfinished tasks and tasks whose begin is not in the trace), region
//! latencies, event counts, and the JSON form.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use trace_analysis::stats::{self, TraceStats};
use trace_reader::{EventKind, Reader};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn traces() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(testdata().join("traces"))
        .expect("testdata/traces")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    v.sort();
    v
}

/// Tasks computed the obvious way: every begin and end, paired by id.
#[derive(Debug, Default)]
struct DirectTasks {
    /// Type → latencies of tasks with both ends, sorted.
    done: BTreeMap<String, Vec<Duration>>,
    /// Type → how many began and never ended.
    unfinished: BTreeMap<String, usize>,
    /// How many ended without a begin.
    without_begin: usize,
    /// How many complete tasks have a `Sync` between begin and end.
    crossing_generations: usize,
}

fn direct_tasks(path: &Path) -> DirectTasks {
    let mut begins: BTreeMap<u64, (i64, String, u64)> = BTreeMap::new();
    let mut out = DirectTasks::default();
    let mut syncs = 0u64;
    for ev in Reader::new(fs::File::open(path).unwrap()).unwrap() {
        let ev = ev.unwrap();
        match ev.kind() {
            EventKind::Sync => syncs += 1,
            EventKind::TaskBegin => {
                let t = ev.task().unwrap();
                begins.insert(
                    t.id.0,
                    (
                        ev.time().as_nanos(),
                        t.ty.to_string_lossy().into_owned(),
                        syncs,
                    ),
                );
            }
            EventKind::TaskEnd => {
                let t = ev.task().unwrap();
                match begins.remove(&t.id.0) {
                    Some((begin, ty, syncs_at_begin)) => {
                        let ns = ev.time().as_nanos() - begin;
                        out.done
                            .entry(ty)
                            .or_default()
                            .push(Duration::from_nanos(ns as u64));
                        if syncs > syncs_at_begin {
                            out.crossing_generations += 1;
                        }
                    }
                    None => out.without_begin += 1,
                }
            }
            _ => {}
        }
    }
    for (_, (_, ty, _)) in begins {
        *out.unfinished.entry(ty).or_default() += 1;
    }
    for v in out.done.values_mut() {
        v.sort();
    }
    out
}

fn nearest_rank(sorted: &[Duration], q: f64) -> Duration {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

fn stats_of(path: &Path) -> TraceStats {
    stats::stats(fs::File::open(path).unwrap()).unwrap()
}

#[test]
fn task_latencies_match_begin_end_pairs() {
    let (mut crossing, mut unfinished, mut without_begin, mut done) = (0, 0, 0, 0);
    for path in traces() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let want = direct_tasks(&path);
        let got = stats_of(&path);
        let by_type: BTreeMap<&str, _> = got.tasks.iter().map(|t| (&*t.ty, t)).collect();
        for (ty, latencies) in &want.done {
            let t = by_type
                .get(ty.as_str())
                .unwrap_or_else(|| panic!("{name}: no task type {ty:?}"));
            assert_eq!(t.latency.values(), &latencies[..], "{name} {ty}");
            for q in [0.5, 0.9, 0.99, 1.0] {
                assert_eq!(
                    t.latency.quantile(q),
                    Some(nearest_rank(latencies, q)),
                    "{name} {ty} q{q}"
                );
            }
            assert_eq!(t.latency.max(), latencies.last().copied());
            done += latencies.len();
        }
        for (ty, n) in &want.unfinished {
            assert_eq!(
                by_type[ty.as_str()].unfinished,
                *n,
                "{name} {ty} unfinished"
            );
        }
        let total_unfinished: usize = got.tasks.iter().map(|t| t.unfinished).sum();
        assert_eq!(
            total_unfinished,
            want.unfinished.values().sum::<usize>(),
            "{name}"
        );
        let total_without: usize = got.tasks.iter().map(|t| t.without_begin).sum();
        assert_eq!(total_without, want.without_begin, "{name}");
        let total_done: usize = got.tasks.iter().map(|t| t.latency.count()).sum();
        assert_eq!(
            total_done,
            want.done.values().map(Vec::len).sum::<usize>(),
            "{name}"
        );
        crossing += want.crossing_generations;
        unfinished += want.unfinished.values().sum::<usize>();
        without_begin += want.without_begin;
    }
    // The fixtures exercise every case.
    assert!(done > 100, "{done} complete tasks");
    assert!(crossing > 0, "no task crosses a generation boundary");
    assert!(unfinished > 0, "no unfinished task");
    assert!(without_begin > 0, "no task ends without its begin");
}

#[test]
fn counts_and_regions_of_nested_tasks() {
    let path = testdata().join("traces/go123-nestedtasks.trace");
    let s = stats_of(&path);
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let mut region_begins: BTreeMap<String, usize> = BTreeMap::new();
    for ev in Reader::new(fs::File::open(&path).unwrap()).unwrap() {
        let ev = ev.unwrap();
        *kinds.entry(ev.kind().name()).or_default() += 1;
        if ev.kind() == EventKind::RegionBegin {
            *region_begins
                .entry(ev.region().unwrap().ty.to_string_lossy().into_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(s.events, kinds.values().sum::<u64>());
    assert_eq!(s.events_by_kind, kinds.into_iter().collect::<Vec<_>>());
    // Every region that began is either done or unfinished.
    for r in &s.regions {
        let began = region_begins.get(&*r.ty).copied().unwrap_or(0);
        assert_eq!(r.latency.count() + r.unfinished, began, "{}", r.ty);
    }
    let leaf = s.regions.iter().find(|r| &*r.ty == "leaf-work").unwrap();
    assert_eq!(leaf.latency.count(), 48);
    assert!(s.regions.iter().any(|r| r.unfinished > 0));
    assert_eq!(s.duration.as_nanos() as i64, s.end_ns - s.start_ns);
    assert!(s.goroutine_groups.iter().any(|g| &*g.name == "main.main"));
}

#[test]
fn json_is_valid_and_complete() {
    let path = testdata().join("traces/go123-nestedtasks.trace");
    let s = stats_of(&path);
    let v: serde_json::Value = serde_json::from_str(&s.to_json()).expect("valid JSON");
    assert_eq!(v["events"], s.events);
    assert_eq!(v["tasks"].as_array().unwrap().len(), s.tasks.len());
    let level1 = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "level1")
        .unwrap();
    let t = s.tasks.iter().find(|t| &*t.ty == "level1").unwrap();
    assert_eq!(
        level1["latency"]["p99_ns"],
        t.latency.quantile(0.99).unwrap().as_nanos() as u64
    );
    assert_eq!(level1["latency"]["count"], 12);
    assert!(v["goroutine_groups"].as_array().unwrap().len() > 1);
    assert!(v["gc"]["stw"]["count"].as_u64().unwrap() >= 1);
}

/// A trace that breaks off: `stats` fails; `stats_partial` summarizes the
/// events the reader yielded before the error (counted here directly),
/// returns the error and has the doctor report it; nothing but a sync
/// before the error is still an error; a whole trace has no error.
#[test]
fn partial_stats_are_of_the_events_before_the_error() {
    use trace_analysis::doctor::Finding;
    let whole =
        fs::read(testdata().join("traces/go123-testprog-gomaxprocs-advance0.trace")).unwrap();
    let cut = &whole[..whole.len() * 2 / 3];
    let (mut before, mut error) = (0u64, None);
    for ev in Reader::new(cut).unwrap() {
        match ev {
            Ok(_) => before += 1,
            Err(e) => error = Some(e),
        }
    }
    let error = error.expect("the cut trace fails to read");
    assert_eq!(stats::stats(cut).unwrap_err(), error);
    let (st, stopped) = stats::stats_partial(cut).unwrap();
    assert_eq!(stopped, Some(error));
    assert_eq!(st.events, before);
    assert!(st
        .diagnosis
        .findings
        .iter()
        .any(|f| matches!(f, Finding::Truncated { .. })));

    let other =
        fs::read(testdata().join("current/traces/go127-testprog-many-start-stop-advance0.trace"))
            .unwrap();
    assert!(stats::stats_partial(&other[..3000]).is_err(), "a sync only");
    let (all, stopped) = stats::stats_partial(&whole[..]).unwrap();
    assert!(stopped.is_none());
    assert_eq!(all.to_json(), stats::stats(&whole[..]).unwrap().to_json());
}
