//! Fuzzing harness. Not a stable API: for the `view` target in `fuzz/` and
//! the robustness tests only.
//!
//! [`view`] lays out arbitrary bytes as a timeline and asks it everything
//! the page can ask, panicking when a property does not hold (which is what
//! a fuzzer looks for).

use trace_analysis::doctor::Finding;
use trace_wire::fuzzing::under_a_header;

use crate::server::{answer, Shared};
use crate::{standalone_html, LaneKind, Timeline};

/// Builds the timeline of `data` (and of its tail under each version's
/// header, so that short inputs reach the builder), checking, for every
/// trace the reader reads:
/// - nothing panics: not the layout (of what came before an error, too),
///   not any answer the server gives;
/// - a timeline of what came before an error has the doctor say so;
/// - every row's slices lie within the trace, in order, none overlapping,
///   and every lane has a row;
/// - the server answers every request the page makes, over the whole
///   trace, its halves and windows the input picks, with 200, 400 or 404
///   and never 500 (the rows' store does not fail);
/// - the offline page is written within its budget.
pub fn view(data: &[u8]) {
    check(data);
    if let Some(trace) = under_a_header(data) {
        check(&trace);
    }
}

/// What [`check`] laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Nothing: the reader read too little.
    Nothing,
    /// What came before the trace broke off.
    Partial,
    /// The whole trace.
    Whole,
}

/// [`view`]'s checks on `data` alone, laid out as `trace-tool view` does
/// (what came before an error, if anything did).
pub fn check(data: &[u8]) -> Checked {
    let options = crate::Options::default().partial(true);
    let Ok(tl) = Timeline::build(data, "fuzz", options) else {
        return Checked::Nothing;
    };
    let checked = if tl.stopped().is_some() {
        let said = tl
            .diagnosis()
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Truncated { .. }));
        assert!(said, "the doctor says nothing of the error");
        Checked::Partial
    } else {
        Checked::Whole
    };
    rows_hold(&tl);
    let (html, res) = standalone_html(&tl, 64).expect("the offline page");
    assert!(res >= 0 && html.contains("id=\"trace-data\""));
    let targets = targets(&tl, data);
    let shared = Shared::new(tl, 0);
    for target in &targets {
        let (status, body) = answer(&shared, target);
        assert!(
            matches!(status, "200 OK" | "400 Bad Request" | "404 Not Found"),
            "{target}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    checked
}

fn rows_hold(tl: &Timeline) {
    let span = tl.span();
    assert!(span >= 0, "span {span}");
    for lane in tl.lanes() {
        assert!(!lane.rows.is_empty(), "{}: no row", lane.name);
        for row in &lane.rows {
            let slices = row.slices().expect("rows read back");
            assert_eq!(slices.len(), row.len());
            for s in &slices {
                assert!(
                    0 <= s.start && s.start <= s.end && s.end <= span,
                    "{}: {s:?} outside 0..={span}",
                    lane.name
                );
            }
            for w in slices.windows(2) {
                assert!(w[0].end <= w[1].start, "{}: {w:?} overlap", lane.name);
            }
        }
        for w in lane.marks.windows(2) {
            assert!(w[0].time <= w[1].time, "{}: marks out of order", lane.name);
        }
    }
}

/// The requests to make: every kind the page makes, over the whole trace
/// and its halves, for some goroutines and tasks, and windows read from the
/// input's last bytes (anything, valid or not).
fn targets(tl: &Timeline, data: &[u8]) -> Vec<String> {
    let span = tl.span();
    let n = tl.lanes().len();
    let mut windows = vec![(0, span + 1), (0, span / 2 + 1), (span / 2, span + 1)];
    let tail: Vec<i64> = data
        .rchunks(8)
        .take(4)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            i64::from_le_bytes(b)
        })
        .collect();
    if let [a, b, ..] = tail[..] {
        windows.push((a, b));
        windows.push((a.rem_euclid(span + 1), b.rem_euclid(span + 1)));
    }
    let mut out = vec!["/".to_string(), "/api/meta".into(), "/api/mmu".into()];
    for &(t0, t1) in &windows {
        out.push(format!("/api/window?t0={t0}&t1={t1}&lanes=0-{n}"));
        out.push(format!("/api/window?t0={t0}&t1={t1}&lanes=0-{n}&res=0"));
        out.push(format!("/api/charts?t0={t0}&t1={t1}"));
        for kind in ["cpu", "block", "syscall"] {
            out.push(format!("/api/flame?kind={kind}&t0={t0}&t1={t1}"));
        }
    }
    let goroutines = tl.lanes().iter().filter_map(|l| match l.kind {
        LaneKind::Goroutine(g) => Some(g),
        _ => None,
    });
    for g in goroutines.take(8) {
        out.push(format!("/api/flame?kind=block&g={g}"));
        out.push(format!("/api/chain?g={g}&t={}", span / 2));
        out.push(format!("/api/chain?g={g}&t={span}"));
    }
    for t in tl.tasks().iter().take(8) {
        out.push(format!("/api/task?id={}", t.id));
        out.push(format!("/api/flame?kind=cpu&task={}", t.id));
        out.push(format!("/api/chain?task={}", t.id));
    }
    let stacks: Vec<String> = (0..tl.stats().stacks.min(64))
        .map(|i| i.to_string())
        .collect();
    out.push(format!("/api/stacks?ids={}", stacks.join(",")));
    out
}
