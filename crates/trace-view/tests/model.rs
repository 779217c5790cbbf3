//! The timeline built from real traces: invariants over every test trace,
//! and what the annotations trace must show.

mod common;

use common::{testdata, timeline};
use trace_view::{LaneKind, SliceKind, Timeline};

fn check_invariants(name: &str, tl: &Timeline) {
    assert!(tl.span() >= 0);
    for lane in tl.lanes() {
        assert!(!lane.rows.is_empty(), "{name}: {} has no row", lane.name);
        for (r, row) in lane.rows.iter().enumerate() {
            for s in &row.slices().unwrap() {
                assert!(s.start <= s.end, "{name}: {} row {r}: {s:?}", lane.name);
                assert!(
                    s.start >= 0 && s.end <= tl.span(),
                    "{name}: {} row {r}: {s:?} outside 0..{}",
                    lane.name,
                    tl.span()
                );
            }
            for w in row.slices().unwrap().windows(2) {
                assert!(
                    w[0].end <= w[1].start,
                    "{name}: {} row {r} overlaps: {w:?}",
                    lane.name
                );
            }
        }
        for w in lane.marks.windows(2) {
            assert!(w[0].time <= w[1].time);
        }
        if let LaneKind::Goroutine(_) = lane.kind {
            assert!(lane.rows[0].slices().unwrap().iter().all(|s| matches!(
                s.kind,
                SliceKind::Running | SliceKind::Runnable | SliceKind::Waiting | SliceKind::Syscall
            )));
        }
    }
    // Every running slice of a goroutine has a proc slice or thread slice at
    // the same time, and the counts match.
    let count = |k: SliceKind| -> usize {
        tl.lanes()
            .iter()
            .flat_map(|l| &l.rows)
            .flat_map(|r| r.slices().unwrap())
            .filter(|s| s.kind == k)
            .count()
    };
    assert!(
        count(SliceKind::ProcRun) <= count(SliceKind::Running),
        "{name}"
    );
    assert!(
        count(SliceKind::ThreadRun) <= count(SliceKind::Running),
        "{name}"
    );
    // The shared layout: a goroutine runs on a proc only while it runs on a
    // thread, so each proc slice lies within a thread slice of its goroutine.
    let mut on_threads: std::collections::BTreeMap<u64, Vec<(i64, i64)>> = Default::default();
    let slices = |kind: LaneKind| {
        tl.lanes()
            .iter()
            .filter(move |l| std::mem::discriminant(&l.kind) == std::mem::discriminant(&kind))
            .flat_map(|l| l.rows[0].slices().unwrap())
    };
    for s in slices(LaneKind::Thread(0)).filter(|s| s.kind == SliceKind::ThreadRun) {
        on_threads
            .entry(s.extra)
            .or_default()
            .push((s.start, s.end));
    }
    for s in slices(LaneKind::Proc(0)) {
        assert_eq!(s.kind, SliceKind::ProcRun, "{name}");
        let within = on_threads
            .get(&s.extra)
            .is_some_and(|v| v.iter().any(|&(a, b)| a <= s.start && s.end <= b));
        assert!(
            within,
            "{name}: proc slice {s:?} outside its goroutine's thread slices"
        );
    }
}

#[test]
fn every_test_trace_lays_out() {
    let dir = testdata("");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "trace") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let tl = timeline(&name);
        check_invariants(&name, &tl);
        assert!(tl.stats().events > 0);
        n += 1;
    }
    assert!(n >= 10, "only {n} traces in {}", dir.display());
}

/// The rows are in a temporary file, compactly: a few bytes a slice.
#[test]
fn rows_are_stored_compactly() {
    let tl = timeline("go123-testprog-gomaxprocs-advance0.trace");
    let st = tl.stats();
    assert!(st.on_disk, "no temporary file");
    assert!(st.slices > 10_000, "{} slices", st.slices);
    let per_slice = st.stored_bytes as f64 / st.slices as f64;
    assert!(
        (1.0..16.0).contains(&per_slice),
        "{} bytes for {} slices",
        st.stored_bytes,
        st.slices
    );
}

#[test]
fn annotations() {
    let tl = timeline("go123-testprog-annotations.trace");
    let tasks = tl.tasks();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!((t.id, t.parent, tl.string(t.ty)), (1, u64::MAX, "task0"));
    assert!(t.start.is_some() && t.end.is_some());
    assert!(t.regions >= 3 && t.logs == 1, "{t:?}");
    assert_ne!(t.stack0, 0, "the task's begin stack");

    // G21 has three nested regions: "unended region" ⊃ "region0" ⊃ "region1".
    let g21 = tl
        .lanes()
        .iter()
        .find(|l| l.kind == LaneKind::Goroutine(21))
        .expect("G21");
    let rows: Vec<Vec<&str>> = g21.rows[1..]
        .iter()
        .map(|r| {
            r.slices()
                .unwrap()
                .iter()
                .map(|s| tl.string(s.arg))
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        vec![vec!["unended region"], vec!["region0"], vec!["region1"]]
    );
    let unended = g21.rows[1].slices().unwrap()[0];
    let region1 = g21.rows[3].slices().unwrap()[0];
    assert!(unended.start < region1.start && region1.end <= unended.end);
    assert_eq!(region1.extra, 1, "region1 belongs to task 1");
    assert_ne!(region1.stack0, 0);
    let frames: Vec<_> = tl.stack(region1.stack0).collect();
    assert!(
        frames.iter().any(|f| f.func.starts_with("main.")),
        "{frames:?}"
    );

    assert_eq!(g21.marks.len(), 1);
    let log = g21.marks[0];
    assert_eq!(
        (tl.string(log.category), tl.string(log.message)),
        ("key0", "0123456789abcdef")
    );
    assert!(region1.start < log.time && log.time < region1.end);

    // A waiting slice keeps the stack where the goroutine blocked.
    let blocked = tl
        .lanes()
        .iter()
        .flat_map(|l| l.rows[0].slices().unwrap())
        .find(|s| s.kind == SliceKind::Waiting && s.stack0 != 0 && !tl.string(s.arg).is_empty())
        .expect("a waiting slice with a reason and stack");
    assert!(tl.stack(blocked.stack0).len() > 0);

    let names: Vec<&str> = tl.charts().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Heap", "Goroutines", "GOMAXPROCS"]);
}

#[test]
fn gc_and_stw_ranges() {
    let tl = timeline("go123-testprog-gomaxprocs-advance0.trace");
    let gc = &tl.lanes()[tl.lane_index(LaneKind::Gc).unwrap()];
    let names: std::collections::BTreeSet<&str> = gc
        .rows
        .iter()
        .flat_map(|r| r.slices().unwrap())
        .map(|s| tl.string(s.arg))
        .collect();
    assert!(names.contains("GC concurrent mark phase"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("stop-the-world (")),
        "{names:?}"
    );
    // Sweeps are drawn on procs.
    let sweeps = tl
        .lanes()
        .iter()
        .filter(|l| matches!(l.kind, LaneKind::Proc(_)))
        .flat_map(|l| &l.rows)
        .flat_map(|r| r.slices().unwrap())
        .filter(|s| tl.string(s.arg) == "GC incremental sweep")
        .count();
    assert!(sweeps > 0);
}

/// Counting while building counts every event the timeline is made of,
/// and builds the same timeline.
#[test]
fn counting_build_counts_every_event() {
    let name = "go123-testprog-gomaxprocs-advance0.trace";
    let plain = timeline(name);
    let laid_out = std::sync::atomic::AtomicU64::new(0);
    let f = std::fs::File::open(testdata(name)).unwrap();
    let counted = Timeline::build(
        std::io::BufReader::new(f),
        name,
        trace_view::Options::default().count_into(&laid_out),
    )
    .unwrap();
    let n = laid_out.load(std::sync::atomic::Ordering::Relaxed);
    assert!(n > 8192, "{n} events: more than one batch");
    assert_eq!(n, plain.stats().events);
    assert_eq!(counted.stats(), plain.stats());
}

/// A trace that breaks off fails to lay out, unless asked for what came
/// before: then the timeline holds exactly the events the reader yielded
/// before its error, keeps the error, and the doctor reports it.
#[test]
fn a_trace_that_breaks_off_is_laid_out_up_to_there() {
    let name = "go123-testprog-gomaxprocs-advance0.trace";
    let whole = std::fs::read(testdata(name)).unwrap();
    let cut = &whole[..whole.len() * 2 / 3];
    let mut before = 0u64;
    let mut syncs = 0;
    let mut error = None;
    for ev in trace_reader::Reader::new(cut).unwrap() {
        match ev {
            Ok(ev) => {
                before += 1;
                syncs += u32::from(ev.kind() == trace_reader::EventKind::Sync);
            }
            Err(e) => error = Some(e),
        }
    }
    let error = error.expect("the cut trace fails to read");
    assert!(syncs >= 2, "{syncs} generations before the cut");

    match Timeline::from_reader(cut, name) {
        Err(trace_view::Error::Trace(e)) => assert_eq!(e, error),
        other => panic!("{other:?}"),
    }
    let partial = trace_view::Options::default().partial(true);
    let tl = Timeline::build(cut, name, partial).unwrap();
    assert_eq!(tl.stopped(), Some(&error));
    assert_eq!(tl.stats().events, before);
    assert!(tl.stats().slices > 0);
    let meta = trace_view::json::meta_json(&tl);
    assert!(meta.contains("truncated in generation"), "{meta}");
    assert!(meta.contains("\"ok\":false"), "{meta}");

    // Nothing but the first sync before the error (a generation cut in
    // its first batch): still an error, and so is no trace at all.
    let other = std::fs::read(testdata(
        "../current/traces/go127-testprog-many-start-stop-advance0.trace",
    ))
    .unwrap();
    let sync_only = &other[..3000];
    let events: Vec<_> = trace_reader::Reader::new(sync_only)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.kind())
        .collect();
    assert_eq!(events, [trace_reader::EventKind::Sync]);
    assert!(Timeline::build(sync_only, name, partial).is_err());
    for cut in [0, 10, 64] {
        assert!(Timeline::build(&whole[..cut], name, partial).is_err());
    }
    // A whole trace is whole.
    assert!(Timeline::build(&whole[..], name, partial)
        .unwrap()
        .stopped()
        .is_none());
}
