//! A task's details: its logs, regions, child tasks and goroutines, in the
//! model and from `/api/task`.

mod common;

use std::net::SocketAddr;

use common::{get, parse, timeline, JsonExt};
use trace_view::{LaneKind, Server, SliceKind, Timeline, MAX_TASK_ITEMS};

/// What the lanes say about task `id`, counted the slow way: its logs, its
/// regions, and the goroutines with either.
fn recount(tl: &Timeline, id: u64) -> (usize, usize, Vec<i64>) {
    let (mut logs, mut regions, mut gs) = (0, 0, Vec::new());
    for lane in tl.lanes() {
        let mut here = false;
        for m in &lane.marks {
            if m.task == id {
                logs += 1;
                here = true;
            }
        }
        if let LaneKind::Goroutine(_) = lane.kind {
            for row in lane.rows.iter().skip(1) {
                for s in &row.slices().unwrap() {
                    if s.kind == SliceKind::Region && s.extra == id {
                        regions += 1;
                        here = true;
                    }
                }
            }
        }
        if let (true, LaneKind::Goroutine(g)) = (here, lane.kind) {
            gs.push(g);
        }
    }
    (logs, regions, gs)
}

#[track_caller]
fn check_details(name: &str) -> Timeline {
    let tl = timeline(name);
    assert!(!tl.tasks().is_empty(), "{name} has tasks");
    for (i, t) in tl.tasks().iter().enumerate() {
        if tl.task_index(t.id) != Some(i) {
            continue;
        }
        let d = tl.task_detail(i).expect("details for every task");
        let (logs, regions, mut gs) = recount(&tl, t.id);
        assert_eq!(
            d.logs.len(),
            logs.min(MAX_TASK_ITEMS),
            "{name} task {}",
            t.id
        );
        assert_eq!(
            d.regions.len(),
            regions.min(MAX_TASK_ITEMS),
            "{name} task {}",
            t.id
        );
        if t.goroutine >= 0 && !gs.contains(&t.goroutine) {
            gs.push(t.goroutine);
        }
        let mut got = d.goroutines.clone();
        got.sort_unstable();
        gs.sort_unstable();
        assert_eq!(got, gs, "{name} task {} goroutines", t.id);
        assert_eq!(d.n_goroutines as usize, gs.len());
        let children: Vec<u64> = d
            .children
            .iter()
            .map(|&c| tl.tasks()[c as usize].id)
            .collect();
        let expected: Vec<u64> = tl
            .tasks()
            .iter()
            .filter(|c| c.parent == t.id && c.id != t.id)
            .map(|c| c.id)
            .collect();
        assert_eq!(children, expected, "{name} task {} children", t.id);
        // Logs and regions are listed in order of time.
        let times: Vec<i64> = d
            .logs
            .iter()
            .map(|&(l, m)| tl.lanes()[l as usize].marks[m as usize].time)
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    }
    tl
}

#[test]
fn details_match_the_lanes() {
    check_details("go123-testprog-annotations.trace");
    let tl = check_details("go123-nestedtasks.trace");
    assert!(
        tl.task_details_any(|d| !d.children.is_empty()),
        "nested tasks have children"
    );
    check_details("go122-testprog-annotations-stress.trace");
}

trait AnyDetail {
    fn task_details_any(&self, f: impl Fn(&trace_view::TaskDetail) -> bool) -> bool;
}

impl AnyDetail for Timeline {
    fn task_details_any(&self, f: impl Fn(&trace_view::TaskDetail) -> bool) -> bool {
        (0..self.tasks().len()).any(|i| self.task_detail(i).is_some_and(&f))
    }
}

fn serve(name: &str) -> trace_view::Handle {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Server::bind(timeline(name), addr)
        .expect("bind")
        .spawn()
        .expect("spawn")
}

#[test]
fn task_endpoint() {
    let h = serve("go123-testprog-annotations.trace");
    let addr = h.local_addr();
    let a = get(addr, "/api/task?id=1");
    assert_eq!(a.status, 200, "{}", a.text());
    let d = parse(a.text());
    assert_eq!(d.at("task").nums()[0], 1);
    let strings = d.at("strings");
    let logs = d.at("logs").arr();
    assert_eq!(logs.len() as f64, d.at("nLogs").num());
    assert!(!logs.is_empty(), "task0 logs");
    let log = logs[0].nums();
    assert_eq!(strings.at(&log[1].to_string()).str(), "key0");
    assert_eq!(strings.at(&log[2].to_string()).str(), "0123456789abcdef");
    assert!(log[3] > 0, "logged on a goroutine");
    let regions = d.at("regions").arr();
    assert!(!regions.is_empty());
    for r in regions {
        let r = r.nums();
        assert!(r[0] <= r[1]);
        assert!(!strings.at(&r[2].to_string()).str().is_empty());
    }
    assert!(!d.at("goroutines").arr().is_empty());

    // Bad ids are refused, not wrapped or clamped; unknown ones are not found.
    for bad in [
        "/api/task",
        "/api/task?id=",
        "/api/task?id=-1",
        "/api/task?id=1.5",
        "/api/task?id=abc",
        "/api/task?id=18446744073709551616",
        "/api/task?id=99999999999999999999999",
    ] {
        assert_eq!(get(addr, bad).status, 400, "{bad}");
    }
    assert_eq!(get(addr, "/api/task?id=18446744073709551615").status, 404);
    assert_eq!(get(addr, "/api/task?id=777").status, 404);
}
