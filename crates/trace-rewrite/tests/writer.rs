//! The event writer over every trace `cargo test` can see (the curated
//! copies in `testdata/`, and both shared corpora when present): read →
//! write → read gives the same events.
//!
//! "The same" means: the text of every event (Go 1.27's `Event.String()`,
//! what `go tool trace -d=parsed` prints) is identical, in the same order,
//! with these documented exceptions, which are normalized before comparing:
//!
//! - a sync event of a Go 1.22–1.24 trace has no clock snapshot, but every
//!   generation of Go 1.26's format has one: the output's syncs print the
//!   writer's (`Trace=`, `Mono=`, `Wall=`), which are dropped from the
//!   text;
//! - a trace the reader stops reading with an error gives the events before
//!   the error; the output of those ends with a sync of its own, which is
//!   dropped;
//! - experimental events keep their arguments, but the experimental
//!   batches of their generation (Go 1.23's alloc/free type tables) are not
//!   written, so their `Experimental` events print without data — they
//!   print no data anyway.

mod common;

use common::{traces, workspace};
use std::path::PathBuf;

use trace_reader::{validate, Reader};
use trace_rewrite::EventWriter;

/// The events' text, normalized (see the module docs), and whether the
/// reader read to the end.
fn text(trace: &[u8]) -> (Vec<String>, bool) {
    let Ok(reader) = Reader::new(trace) else {
        return (Vec::new(), false);
    };
    let mut res = Vec::new();
    for ev in reader {
        match ev {
            Ok(ev) => res.push(ev.to_string()),
            Err(e) if e.is_go_eof() => return (res, true),
            Err(_) => return (res, false),
        }
    }
    (res, true)
}

/// Reads `input`, writes its events, and returns the output.
fn round_trip(input: &[u8]) -> Vec<u8> {
    let mut w = EventWriter::new(Vec::new()).unwrap();
    let Ok(reader) = Reader::new(input) else {
        return w.finish().unwrap().0;
    };
    for ev in reader {
        match ev {
            Ok(ev) => w.write(&ev).unwrap_or_else(|e| panic!("{e}: {ev}")),
            Err(_) => break,
        }
    }
    w.finish().unwrap().0
}

/// Drops the clock snapshot from a sync line.
fn strip_clock(line: &str) -> &str {
    match line.find(" Trace=") {
        Some(i) if line.contains(" Sync ") => &line[..i],
        _ => line,
    }
}

/// Compares the events of `input` and `output`; `None` if they are the
/// same (with the documented exceptions), else the first difference.
fn compare(input: &[u8], output: &[u8]) -> Option<String> {
    let (before, whole) = text(input);
    let (mut after, after_whole) = text(output);
    if !after_whole {
        return Some("the output does not read to the end".into());
    }
    if !whole && after.len() == before.len() + 1 {
        after.pop();
    }
    let clocks = before
        .iter()
        .any(|l| l.contains(" Sync ") && l.contains(" Trace="));
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let (b2, a2) = if clocks {
            (b.as_str(), a.as_str())
        } else {
            (strip_clock(b), strip_clock(a))
        };
        if b2 != a2 {
            return Some(format!("event {i}:\n  input:  {b}\n  output: {a}"));
        }
    }
    if before.len() != after.len() {
        return Some(format!("{} events in, {} out", before.len(), after.len()));
    }
    None
}

#[test]
fn round_trip_gives_the_same_events() {
    // Two threads take the traces in turn: this is the longest test of the
    // suite, and the others of this file are done long before it.
    let traces: Vec<(String, PathBuf)> = traces().into_iter().collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, path)) = traces.get(i) else {
                    break;
                };
                let input = std::fs::read(path).unwrap();
                let output = round_trip(&input);
                let failure = match compare(&input, &output) {
                    Some(diff) => Some(format!("{name}: {diff}")),
                    None => {
                        let report = validate(&output[..]);
                        (!report.is_valid()).then(|| {
                            let first = report.violations.first().map(|v| v.to_string());
                            format!("{name}: the validator: {first:?} {:?}", report.error)
                        })
                    }
                };
                if let Some(f) = failure {
                    failures.lock().unwrap().push(f);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} traces differ:\n{}",
        failures.len(),
        traces.len(),
        failures.join("\n")
    );
}

/// Normalizes what a window changes by design: sync ordinals, the type and
/// parent of a task ended in the window, `NotExist` procs of the first
/// generation.
fn normalize(line: &str) -> String {
    let mut l = line.to_string();
    if l.contains(" Sync ") {
        if let Some(i) = l.find(" N=") {
            let end = l[i + 3..].find(' ').map_or(l.len(), |j| i + 3 + j);
            l.replace_range(i..end, "");
        }
    }
    if l.contains(" TaskEnd ") {
        if let Some(i) = l.find(" Parent=") {
            l.truncate(i);
        }
    }
    l.replace("NotExist->", "Undetermined->")
}

/// Checks a window `[from, to]` of `input`: the output is valid, and holds
/// a sync, the synthesized statuses, then exactly the input's events of the
/// window but the ends of stop-the-world ranges begun before it and the
/// re-announcements of ranges in flight that the writer's statuses made.
fn check_window(name: &str, input: &[u8], from: i64, to: i64) -> Result<(), String> {
    use trace_rewrite::{filter_events, EventFilter};
    let filter = EventFilter::new().window(trace_reader::Time(from), trace_reader::Time(to));
    let (output, summary) =
        filter_events(input, &filter, Vec::new()).map_err(|e| format!("{name}: {e}"))?;
    let report = validate(&output[..]);
    if !report.is_valid() {
        let first = report.violations.first().map(|v| v.to_string());
        return Err(format!(
            "{name} [{from}, {to}]: invalid: {first:?} {:?}",
            report.error
        ));
    }
    let mut window = Vec::new();
    for ev in Reader::new(input).unwrap() {
        let Ok(ev) = ev else { break };
        let t = ev.time().0;
        if t > to {
            break;
        }
        if t >= from {
            window.push(ev.to_string());
        }
    }
    let (mut out, _) = text(&output);
    let clocks = window
        .iter()
        .any(|l| l.contains(" Sync ") && l.contains(" Trace="));
    if !clocks {
        for l in &mut out {
            *l = strip_clock(l).to_string();
        }
    }
    if window.last().is_none_or(|l| !l.contains(" Sync ")) {
        out.pop();
    }
    // A sync opens the output: the window's first event, or the writer's.
    let opens = window.first().is_some_and(|l| l.contains(" Sync "));
    let untimed = |l: &str| {
        let l = normalize(l);
        match (l.find(" Time="), l.find(" Trace=")) {
            (Some(i), Some(j)) => format!("{}{}", &l[..i], &l[j..]),
            (Some(i), None) => l[..i].to_string(),
            _ => l,
        }
    };
    if opens && untimed(&window[0]) != untimed(&out[0]) {
        return Err(format!(
            "{name}: first sync:\n  in:  {}\n  out: {}",
            window[0], out[0]
        ));
    }
    // Then the statuses the writer wrote.
    let mut o = 1 + summary.synthesized as usize;
    let mut skipped = 0;
    for (i, w) in window.iter().enumerate() {
        if i == 0 && opens {
            continue;
        }
        if out.get(o).is_some_and(|x| normalize(x) == normalize(w)) {
            o += 1;
        } else if (w.contains("RangeEnd") && w.contains("stop-the-world"))
            || w.contains(" RangeActive ")
        {
            skipped += 1;
        } else {
            return Err(format!(
                "{name} [{from}, {to}]: window event {i}:\n  in:  {w}\n  out: {:?}",
                out.get(o)
            ));
        }
    }
    if o != out.len() {
        return Err(format!(
            "{name}: {} extra events at the end: {:?}",
            out.len() - o,
            out.get(o)
        ));
    }
    if skipped as u64 != summary.skipped {
        return Err(format!(
            "{name}: skipped {} but {skipped} STW ends and RangeActive",
            summary.skipped
        ));
    }
    Ok(())
}

#[test]
fn windows_hold_the_events_of_the_window() {
    let mut failures = Vec::new();
    let mut n = 0;
    for (name, path) in traces() {
        let input = std::fs::read(&path).unwrap();
        if input.len() > 4 << 20 {
            continue;
        }
        let times: Vec<(i64, bool)> = match Reader::new(&input[..]) {
            Ok(r) => r
                .map_while(Result::ok)
                .map(|e| (e.time().0, e.kind() == trace_reader::EventKind::Sync))
                .collect(),
            Err(_) => continue,
        };
        if times.len() < 10 {
            continue;
        }
        let k = times.len();
        let mut windows = vec![
            (times[k / 3].0, times[2 * k / 3].0),
            (times[k / 2].0, times[k - 1].0),
        ];
        // A window that starts at a generation's sync.
        if let Some(&(t, _)) = times[1..k - 1].iter().find(|(_, s)| *s) {
            windows.push((t, times[k - 2].0));
        }
        for (from, to) in windows {
            n += 1;
            if let Err(e) = check_window(&name, &input, from, to) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} windows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn goroutine_and_task_filters_give_valid_traces() {
    use trace_rewrite::{filter_events, EventFilter};
    let mut failures = Vec::new();
    for (name, path) in traces() {
        let input = std::fs::read(&path).unwrap();
        if input.len() > 4 << 20 {
            continue;
        }
        let Ok(reader) = Reader::new(&input[..]) else {
            continue;
        };
        let mut gs = std::collections::BTreeSet::new();
        let mut task_types = std::collections::BTreeSet::new();
        for ev in reader.map_while(Result::ok) {
            if ev.goroutine().0 != -1 {
                gs.insert(ev.goroutine().0);
            }
            if let Some(t) = ev.task() {
                task_types.insert(t.ty.to_string());
            }
        }
        let half: Vec<_> = gs
            .iter()
            .step_by(2)
            .map(|&g| trace_reader::GoId(g))
            .collect();
        let mut filters = vec![
            ("goroutines", EventFilter::new().goroutines(half)),
            (
                "kinds",
                EventFilter::new().kinds([trace_reader::EventKind::Log]),
            ),
        ];
        if let Some(t) = task_types.iter().find(|t| !t.is_empty()) {
            filters.push(("task", EventFilter::new().task_type(t)));
        }
        for (what, f) in filters {
            match filter_events(&input, &f, Vec::new()) {
                Ok((out, _)) => {
                    let report = validate(&out[..]);
                    if !report.is_valid() {
                        let first = report.violations.first().map(|v| v.to_string());
                        failures.push(format!("{name} {what}: {first:?} {:?}", report.error));
                    }
                }
                Err(trace_rewrite::Error::NothingSelected) => {}
                Err(e) => failures.push(format!("{name} {what}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The curated traces only.
fn curated() -> Vec<(String, Vec<u8>)> {
    let ws = workspace();
    let mut res = Vec::new();
    for dir in ["testdata/traces", "testdata/current/traces"] {
        for e in std::fs::read_dir(ws.join(dir)).unwrap().flatten() {
            let name = e.path().file_stem().unwrap().to_string_lossy().into_owned();
            res.push((name, std::fs::read(e.path()).unwrap()));
        }
    }
    res.sort();
    res
}

/// The events of `output` but syncs and the statuses the writer added,
/// against `input`'s but syncs and the re-announcements of ranges in
/// flight that it left out: the same, in the same order.
fn same_but_syncs_and_statuses(
    input: &[u8],
    output: &[u8],
    summary: &trace_rewrite::WriteSummary,
) -> Result<(), String> {
    let no_sync = |v: Vec<String>| -> Vec<String> {
        v.into_iter().filter(|l| !l.contains(" Sync ")).collect()
    };
    let (before, _) = text(input);
    let (after, whole) = text(output);
    if !whole {
        return Err("the output does not read to the end".into());
    }
    let norm = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|l| l.replace("NotExist->", "Undetermined->"))
            .collect()
    };
    let (before, after) = (norm(no_sync(before)), norm(no_sync(after)));
    let (mut extra, mut left_out) = (0, 0);
    let mut i = 0;
    for a in &after {
        while before
            .get(i)
            .is_some_and(|b| b != a && b.contains(" RangeActive "))
        {
            i += 1;
            left_out += 1;
        }
        if before.get(i) == Some(a) {
            i += 1;
        } else if a.contains(" StateTransition ") || a.contains(" RangeActive ") {
            extra += 1;
        } else {
            return Err(format!(
                "event {i}:\n  in:  {:?}\n  out: {a}",
                before.get(i)
            ));
        }
    }
    left_out += before[i..]
        .iter()
        .filter(|b| b.contains(" RangeActive "))
        .count() as u64;
    i = before.len().min(
        i + before[i..]
            .iter()
            .filter(|b| b.contains(" RangeActive "))
            .count(),
    );
    if i != before.len() || extra != summary.synthesized || left_out != summary.skipped {
        return Err(format!(
            "{i} of {} events, {extra} added ({summary:?}), {left_out} left out",
            before.len()
        ));
    }
    Ok(())
}

#[test]
fn generations_split_by_size_keep_the_events() {
    use trace_rewrite::WriterOptions;
    let mut failures = Vec::new();
    for (name, input) in curated() {
        let mut w =
            EventWriter::with_options(Vec::new(), WriterOptions::new().generation_bytes(4096))
                .unwrap();
        for ev in Reader::new(&input[..]).unwrap().map_while(Result::ok) {
            w.write(&ev).unwrap();
        }
        let (output, summary) = w.finish().unwrap();
        if let Err(e) = same_but_syncs_and_statuses(&input, &output, &summary) {
            failures.push(format!("{name}: {e}"));
        }
        let report = validate(&output[..]);
        if !report.is_valid() {
            let first = report.violations.first().map(|v| v.to_string());
            failures.push(format!("{name}: {first:?} {:?}", report.error));
        }
        let syncs = text(&input)
            .0
            .iter()
            .filter(|l| l.contains(" Sync "))
            .count();
        if input.len() > 200 << 10 && syncs > 3 && summary.split_generations == 0 {
            failures.push(format!("{name}: no generation was split"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn events_without_syncs_make_one_generation() {
    let mut failures = Vec::new();
    for (name, input) in curated() {
        let mut w = EventWriter::new(Vec::new()).unwrap();
        for ev in Reader::new(&input[..]).unwrap().map_while(Result::ok) {
            if ev.kind() != trace_reader::EventKind::Sync {
                w.write(&ev).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        let (output, summary) = w.finish().unwrap();
        if let Err(e) = same_but_syncs_and_statuses(&input, &output, &summary) {
            failures.push(format!("{name}: {e}"));
        }
        if !validate(&output[..]).is_valid() {
            failures.push(format!("{name}: invalid"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn round_trip_in_go123_format() {
    use trace_rewrite::WriterOptions;
    let mut failures = Vec::new();
    for (name, input) in curated() {
        let opts = WriterOptions::new().version(trace_reader::Version::Go123);
        let mut w = EventWriter::with_options(Vec::new(), opts).unwrap();
        let mut whole = true;
        for ev in Reader::new(&input[..]).unwrap() {
            match ev {
                Ok(ev) => w.write(&ev).unwrap(),
                Err(e) => {
                    whole = e.is_go_eof();
                    break;
                }
            }
        }
        let (output, _) = w.finish().unwrap();
        assert!(output.starts_with(b"go 1.23 trace"));
        let strip = |v: Vec<String>| -> Vec<String> {
            v.iter().map(|l| strip_clock(l).to_string()).collect()
        };
        let before = strip(text(&input).0);
        let (after, after_whole) = text(&output);
        let mut after = strip(after);
        if !whole && after.len() == before.len() + 1 {
            after.pop();
        }
        if !after_whole || before != after {
            let i = before.iter().zip(&after).position(|(a, b)| a != b);
            failures.push(format!(
                "{name}: first difference at {i:?} ({} vs {})",
                before.len(),
                after.len()
            ));
        }
        if !validate(&output[..]).is_valid() {
            failures.push(format!("{name}: invalid"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Events built by hand (`EventBuilder`, after Go's `MakeEvent`), written
/// and read back: the same events.
#[test]
fn built_events_round_trip() {
    use trace_reader::{
        ClockSnapshot, EventBuilder as B, FrameSpec, GoId, GoState as G, ProcId, ProcState as P,
        TaskId, ThreadId, Time, BACKGROUND_TASK, NO_TASK,
    };
    let at = |t: i64| B::new(Time(t)).thread(ThreadId(1)).proc(ProcId(0));
    let run = |t: i64, g: i64| at(t).goroutine(GoId(g));
    let main = [
        FrameSpec {
            pc: 0x1010,
            func: "main.work",
            file: "main.go",
            line: 12,
        },
        FrameSpec {
            pc: 0x1000,
            func: "main.main",
            file: "main.go",
            line: 5,
        },
    ];
    let clock = ClockSnapshot {
        trace: Time(1000),
        wall_sec: 1_700_000_000,
        wall_nsec: 5,
        mono: 77,
    };
    let events = vec![
        B::new(Time(1000)).sync(1, Some(clock)),
        B::new(Time(1001))
            .thread(ThreadId(1))
            .proc_transition(ProcId(0), P::Undetermined, P::Running)
            .unwrap(),
        at(1002)
            .goroutine_transition(GoId(1), G::Undetermined, G::Running, "")
            .unwrap(),
        B::new(Time(1003))
            .proc_transition(ProcId(1), P::Undetermined, P::Idle)
            .unwrap(),
        run(1010, 1)
            .stack(&main)
            .metric("/sched/gomaxprocs:threads", 2)
            .unwrap(),
        run(1020, 1)
            .stack(&main[1..])
            .goroutine_transition(GoId(2), G::NotExist, G::Runnable, "")
            .unwrap(),
        run(1030, 1)
            .task_begin(TaskId(1), NO_TASK, "request")
            .unwrap(),
        run(1040, 1).stack(&main).region(true, TaskId(1), "parse"),
        run(1050, 1).log(TaskId(1), "user", "alice"),
        run(1060, 1).region(false, TaskId(1), "parse"),
        run(1070, 1).label("worker"),
        run(1080, 1)
            .task_end(TaskId(1), NO_TASK, "request")
            .unwrap(),
        run(1090, 1).log(BACKGROUND_TASK, "", "done"),
        run(1100, 1)
            .stack(&main)
            .goroutine_transition(GoId(1), G::Running, G::Waiting, "sync")
            .unwrap(),
        at(1110)
            .goroutine_transition(GoId(2), G::Runnable, G::Running, "")
            .unwrap(),
        run(1120, 2)
            .goroutine_transition(GoId(1), G::Waiting, G::Runnable, "")
            .unwrap(),
        run(1130, 2)
            .goroutine_transition(GoId(2), G::Running, G::NotExist, "")
            .unwrap(),
        at(1140)
            .proc_transition(ProcId(0), P::Running, P::Idle)
            .unwrap(),
        B::new(Time(1141)).sync(2, None),
    ];
    let mut w = EventWriter::new(Vec::new()).unwrap();
    for ev in &events {
        w.write(ev).unwrap_or_else(|e| panic!("{e}: {ev}"));
    }
    let (output, summary) = w.finish().unwrap();
    assert_eq!(summary.synthesized, 0);
    let (after, whole) = text(&output);
    assert!(whole);
    let before: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    assert_eq!(before, after);
    assert!(validate(&output[..]).is_valid());
}
