//! Records annotations and reads them back with `trace-reader`, whose event
//! lines are what `go tool trace -d=1` prints.

mod common;

use common::serial;
use std::thread;

use trace_annotate::{is_enabled, log, logf, new_task, start_region, with_region};

/// Records `f` into a validated trace; returns its event lines.
fn record(name: &str, f: impl FnOnce()) -> Vec<String> {
    common::record(&format!("annotate_{name}"), f)
}

/// The lines of one kind (`RegionBegin`, `Log`, ...), from the kind on.
fn of_kind(lines: &[String], kind: &str) -> Vec<String> {
    let pat = format!(" {kind} ");
    lines
        .iter()
        .filter_map(|l| l.find(&pat).map(|at| l[at + 1..].to_owned()))
        .collect()
}

/// `Type="..."` of region or task lines, in order.
fn types(lines: &[String], kind: &str) -> Vec<String> {
    of_kind(lines, kind)
        .iter()
        .map(|l| {
            let at = l.find("Type=\"").unwrap() + 6;
            l[at..l.len() - 1].to_owned()
        })
        .collect()
}

#[test]
fn regions_nest_and_out_of_order_ends_are_deferred() {
    let _g = serial();
    // In both formats: the same events.
    for format in common::both_formats() {
        common::use_format(format);
        let lines = record(&format!("regions_{format:?}"), || {
            let outer = start_region("outer");
            let middle = start_region("middle");
            let inner = start_region("inner");
            // Ended out of order: recorded when the regions inside end.
            drop(outer);
            drop(inner);
            with_region("sibling", || {});
            drop(middle);
            with_region("after", || {});
        });
        assert_eq!(
            types(&lines, "RegionBegin"),
            ["outer", "middle", "inner", "sibling", "after"]
        );
        assert_eq!(
            types(&lines, "RegionEnd"),
            ["inner", "sibling", "middle", "outer", "after"]
        );
    }
    common::use_format(common::format());
}

#[test]
fn tasks_span_threads() {
    let _g = serial();
    let lines = record("tasks", || {
        let request = new_task("request");
        let child = request.new_child("db.query");
        let worker = thread::Builder::new()
            .name("db".into())
            .spawn(move || {
                child.with_region("query", || child.log("rows", "3"));
                child.end();
                request.end();
            })
            .unwrap();
        worker.join().unwrap();
    });
    let begins = of_kind(&lines, "TaskBegin");
    assert_eq!(begins.len(), 2);
    assert!(begins[0].contains("Parent=18446744073709551615 Type=\"request\""));
    let parent_id = begins[0]
        .split("ID=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(begins[1].contains(&format!("Parent={parent_id} Type=\"db.query\"")));
    // Ends on the other thread still know the task's type.
    assert_eq!(types(&lines, "TaskEnd"), ["db.query", "request"]);
    let logs = of_kind(&lines, "Log");
    assert_eq!(logs.len(), 1);
    assert!(logs[0].ends_with("Category=\"rows\" Message=\"3\""));
    assert!(lines.iter().any(|l| l.contains("thread db @")));
}

#[test]
fn logs_and_formatted_logs() {
    let _g = serial();
    let lines = record("logs", || {
        log("", "plain");
        let n = 42;
        logf!("fmt", "n = {n}, twice {}", n * 2);
        let task = new_task("t");
        logf!(task = &task, "in task", "{}", "x".repeat(3));
        task.end();
    });
    let logs = of_kind(&lines, "Log");
    assert_eq!(logs.len(), 3);
    assert!(logs[0].ends_with("Task=0 Category=\"\" Message=\"plain\""));
    assert!(logs[1].ends_with("Category=\"fmt\" Message=\"n = 42, twice 84\""));
    assert!(logs[2].ends_with("Category=\"in task\" Message=\"xxx\""));
}

#[test]
fn annotations_made_while_off_stay_unrecorded() {
    let _g = serial();
    assert!(!is_enabled());
    let early_task = new_task("before");
    let early_region = start_region("before");
    assert_eq!(early_task.id(), 0);
    let lines = record("off", || {
        drop(early_region);
        early_task.end();
        with_region("during", || {});
    });
    assert_eq!(types(&lines, "RegionBegin"), ["during"]);
    assert_eq!(types(&lines, "RegionEnd"), ["during"]);
    assert!(of_kind(&lines, "TaskEnd").is_empty());
}

#[test]
fn regions_may_outlive_a_trace() {
    let _g = serial();
    let mut long = None;
    let first = record("first", || long = Some(start_region("long")));
    assert_eq!(types(&first, "RegionBegin"), ["long"]);
    let lines = record("second", || drop(long));
    // Begun before this trace: Go's reader accepts the lone end.
    assert_eq!(types(&lines, "RegionEnd"), ["long"]);
}
