//! Flame graphs and wake chains, checked against the raw events of real
//! traces, and their HTTP API's refusals.

mod common;

use std::net::SocketAddr;

use common::{get, parse, testdata, timeline, JsonExt};
use hashbrown::HashMap;
use trace_reader::{EventKind, GoState, Reader, StateChange};
use trace_view::flame::{chain, flame, FlameKind, Scope, Selection, MAX_FLAME_NODES};
use trace_view::{LaneKind, Server, SliceKind, Timeline};

/// The current corpus (Go 1.25–1.27 traces).
fn current(name: &str) -> std::path::PathBuf {
    testdata("").join("../current/traces").join(name)
}

fn timeline_at(path: &std::path::Path) -> Timeline {
    let f = std::fs::File::open(path).expect("trace");
    Timeline::from_reader(std::io::BufReader::new(f), "t").expect("trace reads")
}

/// Calls `f` with every event of the trace at `path`.
fn each_event(path: &std::path::Path, mut f: impl FnMut(&trace_reader::Event)) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = Reader::new(file).unwrap();
    while let Some(ev) = r.read_event().unwrap() {
        f(&ev);
    }
}

/// CPU samples in `[t0, t1)` (relative times) of goroutine `g` (any if
/// `None`), counted from the raw events.
fn raw_samples(path: &std::path::Path, base: i64, t0: i64, t1: i64, g: Option<i64>) -> i64 {
    let mut n = 0;
    each_event(path, |ev| {
        if ev.kind() != EventKind::StackSample {
            return;
        }
        let t = ev.time().as_nanos() - base;
        if t >= t0 && t < t1 && g.is_none_or(|g| ev.goroutine().0 == g) {
            n += 1;
        }
    });
    n
}

/// Nanoseconds goroutines spent in `state` within `[t0, t1)`, from the raw
/// state transitions (what is open at the end ends at the last event).
fn raw_state_time(
    path: &std::path::Path,
    base: i64,
    t0: i64,
    t1: i64,
    g: Option<i64>,
    state: GoState,
) -> i64 {
    let mut open: HashMap<i64, (GoState, i64)> = HashMap::new();
    let mut sum = 0;
    let mut last = 0;
    let clip = |a: i64, b: i64| (b.min(t1) - a.max(t0)).max(0);
    each_event(path, |ev| {
        let t = ev.time().as_nanos() - base;
        last = t;
        let Some(st) = ev.state_transition() else {
            return;
        };
        let StateChange::Goroutine { id, to, .. } = st.change else {
            return;
        };
        if g.is_some_and(|g| g != id.0) {
            return;
        }
        if let Some((s, since)) = open.insert(id.0, (to, t)) {
            if s == state {
                sum += clip(since, t);
            }
        }
    });
    for (s, since) in open.into_values() {
        if s == state {
            sum += clip(since, last);
        }
    }
    sum
}

fn sel(t0: i64, t1: i64, scope: Scope) -> Selection {
    Selection { t0, t1, scope }
}

/// The tree is consistent: every node weighs at least its children
/// together, parents come first.
fn check_tree(f: &trace_view::flame::Flame) {
    let mut children = vec![0i64; f.nodes.len()];
    for (i, n) in f.nodes.iter().enumerate().skip(1) {
        assert!((n.parent as usize) < i, "parents come first");
        children[n.parent as usize] += n.value;
    }
    for (i, n) in f.nodes.iter().enumerate() {
        assert!(
            n.value >= children[i],
            "node {i} weighs less than its children"
        );
    }
}

#[test]
fn cpu_flame_totals_equal_the_samples() {
    let path = testdata("go123-testprog-cpu-profile.trace");
    let tl = timeline_at(&path);
    let base = tl.base();
    let span = tl.span() + 1;
    let all = raw_samples(&path, base, 0, span, None);
    assert!(all > 10, "the trace has CPU samples ({all})");
    assert_eq!(tl.samples().len() as i64, all);
    let f = flame(
        &tl,
        FlameKind::Cpu,
        &sel(0, span, Scope::All),
        MAX_FLAME_NODES,
    )
    .unwrap()
    .unwrap();
    assert_eq!(f.total(), all);
    assert_eq!(f.items as i64, all);
    check_tree(&f);
    assert!(f.nodes.len() > 3);

    // A time range: the middle half.
    let (a, b) = (span / 4, 3 * span / 4);
    let f = flame(&tl, FlameKind::Cpu, &sel(a, b, Scope::All), MAX_FLAME_NODES)
        .unwrap()
        .unwrap();
    assert_eq!(f.total(), raw_samples(&path, base, a, b, None));

    // The goroutine with the most samples, over the whole trace and half.
    let mut by_g: HashMap<i64, i64> = HashMap::new();
    each_event(&path, |ev| {
        if ev.kind() == EventKind::StackSample {
            *by_g.entry(ev.goroutine().0).or_default() += 1;
        }
    });
    let (&g, &n) = by_g
        .iter()
        .filter(|(g, _)| **g >= 0)
        .max_by_key(|(_, n)| **n)
        .unwrap();
    let f = flame(
        &tl,
        FlameKind::Cpu,
        &sel(0, span, Scope::Goroutine(g)),
        MAX_FLAME_NODES,
    )
    .unwrap()
    .unwrap();
    assert_eq!(f.total(), n, "G{g}");
    let f = flame(
        &tl,
        FlameKind::Cpu,
        &sel(a, b, Scope::Goroutine(g)),
        MAX_FLAME_NODES,
    )
    .unwrap()
    .unwrap();
    assert_eq!(f.total(), raw_samples(&path, base, a, b, Some(g)));

    // Capped: the heaviest nodes, still a tree with the same total.
    let small = flame(&tl, FlameKind::Cpu, &sel(0, span, Scope::All), 5)
        .unwrap()
        .unwrap();
    assert_eq!(small.nodes.len(), 5);
    assert_eq!(small.total(), all);
    assert!(small.dropped > 0);
    check_tree(&small);
}

#[test]
fn cpu_flame_of_a_go127_flight_recording() {
    // Go 1.27 with a CPU profile.
    let path = current("go127-flightrec-dual-cpuprof-snap1.trace");
    let tl = timeline_at(&path);
    let span = tl.span() + 1;
    let all = raw_samples(&path, tl.base(), 0, span, None);
    let f = flame(
        &tl,
        FlameKind::Cpu,
        &sel(0, span, Scope::All),
        MAX_FLAME_NODES,
    )
    .unwrap()
    .unwrap();
    assert_eq!(f.total(), all);
    assert!(all > 0, "the trace has CPU samples");
}

#[test]
fn block_flame_totals_equal_the_waiting_time() {
    for (path, name) in [
        (
            current("go127-selecttimers-adv10ms.trace"),
            "go127 select timers",
        ),
        (
            current("go126-cgoblocking-adv5ms.trace"),
            "go126 cgo blocking",
        ),
        (
            testdata("go123-testprog-annotations.trace"),
            "go123 annotations",
        ),
    ] {
        let tl = timeline_at(&path);
        let base = tl.base();
        let span = tl.span() + 1;
        for (kind, state) in [
            (FlameKind::Block, GoState::Waiting),
            (FlameKind::Syscall, GoState::Syscall),
        ] {
            for (a, b) in [(0, span), (span / 3, 2 * span / 3)] {
                let f = flame(&tl, kind, &sel(a, b, Scope::All), MAX_FLAME_NODES)
                    .unwrap()
                    .unwrap();
                let want = raw_state_time(&path, base, a, b, None, state);
                assert_eq!(f.total(), want, "{name} {kind:?} {a}..{b}");
                check_tree(&f);
            }
        }
        // One goroutine: the one that waited longest.
        let mut best = (0, -1);
        for l in tl.lanes() {
            if let LaneKind::Goroutine(g) = l.kind {
                let w: i64 = l.rows[0]
                    .slices()
                    .unwrap()
                    .iter()
                    .filter(|s| s.kind == SliceKind::Waiting)
                    .map(|s| s.end - s.start)
                    .sum();
                best = best.max((w, g));
            }
        }
        let g = best.1;
        let f = flame(
            &tl,
            FlameKind::Block,
            &sel(0, span, Scope::Goroutine(g)),
            MAX_FLAME_NODES,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            f.total(),
            raw_state_time(&path, base, 0, span, Some(g), GoState::Waiting),
            "{name} G{g}"
        );
        assert!(f.total() > 0);
    }
}

/// A task's flame graph counts its goroutines' time inside its regions
/// only.
#[test]
fn task_flame_counts_time_inside_its_regions() {
    let path = testdata("go123-nestedtasks.trace");
    let tl = timeline_at(&path);
    let span = tl.span() + 1;
    let mut checked = 0;
    for t in tl.tasks() {
        // The regions of the task, per goroutine, merged: the expected
        // waiting time is the waiting slices' overlap with them.
        let mut want = 0;
        for l in tl.lanes() {
            let mut iv: Vec<(i64, i64)> = l
                .rows
                .iter()
                .skip(1)
                .flat_map(|r| r.slices().unwrap())
                .filter(|s| s.kind == SliceKind::Region && s.extra == t.id)
                .map(|s| (s.start, s.end))
                .collect();
            iv.sort();
            let mut merged: Vec<(i64, i64)> = Vec::new();
            for (a, b) in iv {
                match merged.last_mut() {
                    Some(m) if a <= m.1 => m.1 = m.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            for s in l.rows[0]
                .slices()
                .unwrap()
                .iter()
                .filter(|s| s.kind == SliceKind::Waiting)
            {
                for &(a, b) in &merged {
                    want += (s.end.min(b) - s.start.max(a)).max(0);
                }
            }
        }
        let f = flame(
            &tl,
            FlameKind::Block,
            &sel(0, span, Scope::Task(t.id)),
            MAX_FLAME_NODES,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.total(), want, "task {}", t.id);
        if want > 0 {
            checked += 1;
        }
    }
    assert!(checked > 0, "some task waited inside its regions");
    assert!(flame(
        &tl,
        FlameKind::Block,
        &sel(0, span, Scope::Task(987_654)),
        10
    )
    .unwrap()
    .is_none());
    assert!(flame(
        &tl,
        FlameKind::Cpu,
        &sel(0, span, Scope::Goroutine(987_654)),
        10
    )
    .unwrap()
    .is_none());
}

/// Every Runnable slice that began with an unblock or a creation names the
/// goroutine of the event that did it, and that goroutine was running then
/// (wakes off any goroutine: timers and the network poller).
#[test]
fn wakers_match_the_raw_events() {
    for path in [
        testdata("go123-testprog-annotations.trace"),
        current("go127-selecttimers-adv10ms.trace"),
        current("go127-testprog-wait-on-pipe-adv20ms.trace"),
    ] {
        let tl = timeline_at(&path);
        let base = tl.base();
        let (mut n, mut by_g, mut running) = (0, 0, 0);
        each_event(&path, |ev| {
            let Some(st) = ev.state_transition() else {
                return;
            };
            let StateChange::Goroutine { id, from, to } = st.change else {
                return;
            };
            if to != GoState::Runnable || !matches!(from, GoState::Waiting | GoState::NotExist) {
                return;
            }
            let t = ev.time().as_nanos() - base;
            let lane = &tl.lanes()[tl.goroutine_lane(id.0).unwrap()];
            let s = lane.rows[0]
                .slices()
                .unwrap()
                .into_iter()
                .find(|s| s.start == t && s.kind == SliceKind::Runnable)
                .unwrap_or_else(|| panic!("{path:?}: no runnable slice of G{} at {t}", id.0));
            let waker = ev.goroutine().0;
            assert_eq!(s.waker(), Some(waker), "{path:?}: G{} at {t}", id.0);
            n += 1;
            if let Some(wl) = tl.goroutine_lane(waker) {
                by_g += 1;
                let ran = tl.lanes()[wl].rows[0]
                    .slices()
                    .unwrap()
                    .iter()
                    .any(|w| w.kind == SliceKind::Running && w.start <= t && t <= w.end);
                running += usize::from(ran);
            }
        });
        eprintln!("{path:?}: {n} wakes, {by_g} by a goroutine, {running} running then");
        assert!(n >= 5, "{path:?}: {n} wakes");
        assert!(by_g > 0);
        assert_eq!(
            running, by_g,
            "{path:?}: every waking goroutine was running"
        );
        // Runnable slices that did not begin with a wake have none.
        for l in tl.lanes() {
            for s in &l.rows[0].slices().unwrap() {
                if s.kind != SliceKind::Runnable {
                    assert_eq!(s.waker(), None);
                }
            }
        }
    }
}

#[test]
fn chains_walk_back_through_wakers() {
    let path = current("go127-testprog-wait-on-pipe-adv20ms.trace");
    let tl = timeline_at(&path);
    // The goroutine woken last, from the end.
    let mut best = None;
    for l in tl.lanes() {
        if let LaneKind::Goroutine(g) = l.kind {
            for s in &l.rows[0].slices().unwrap() {
                if s.waker().is_some_and(|w| w >= 0) && best.is_none_or(|(t, _)| s.start > t) {
                    best = Some((s.start, g));
                }
            }
        }
    }
    let (t, g) = best.expect("a wake by a goroutine");
    let steps = chain(&tl, g, tl.span(), 32).unwrap().unwrap();
    assert!(!steps.is_empty());
    assert_eq!((steps[0].g, steps[0].woken), (g, t));
    for w in steps.windows(2) {
        assert_eq!(w[1].g, w[0].waker, "each step follows the waker");
        assert!(w[1].woken <= w[0].woken, "back in time");
    }
    for s in &steps {
        assert!(s.created || s.blocked >= 0 && s.blocked <= s.woken);
    }
    assert!(steps.len() <= 32);
    assert!(chain(&tl, 987_654, 0, 32).unwrap().is_none());
}

fn serve(path: &std::path::Path) -> trace_view::Handle {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Server::bind(timeline_at(path), addr)
        .unwrap()
        .spawn()
        .unwrap()
}

#[test]
fn flame_and_chain_api() {
    let h = serve(&testdata("go123-testprog-cpu-profile.trace"));
    let addr = h.local_addr();
    let f = parse(get(addr, "/api/flame?kind=cpu").text());
    let nodes = f.at("nodes").arr();
    assert_eq!(f.at("kind").str(), "cpu");
    assert_eq!(f.at("total").num() as i64, nodes[0].nums()[4]);
    assert!(f.at("total").num() > 10.0);
    let strings = f.at("strings").obj();
    for n in &nodes[1..] {
        let n = n.nums();
        assert!(
            n[1] == -1 || strings.contains_key(&n[1].to_string()),
            "{n:?}"
        );
    }
    let small = parse(get(addr, "/api/flame?kind=cpu&max=3").text());
    assert_eq!(small.at("nodes").arr().len(), 3);
    assert!(small.at("dropped").num() > 0.0);
    let b = parse(get(addr, "/api/flame?kind=block&t0=0&t1=1000000000").text());
    assert!(b.at("total").num() > 0.0);
    let g1 = get(addr, "/api/flame?kind=syscall&g=1");
    assert_eq!(g1.status, 200);
    // The widest range there is: the whole trace, without overflow.
    let wide = parse(
        get(
            addr,
            "/api/flame?kind=block&t0=-9223372036854775808&t1=9223372036854775807&g=1",
        )
        .text(),
    );
    let whole = parse(get(addr, "/api/flame?kind=block&g=1").text());
    assert_eq!(wide.at("total").num(), whole.at("total").num());
    assert!(whole.at("total").num() > 0.0);

    for bad in [
        "/api/flame",
        "/api/flame?kind=heap",
        "/api/flame?kind=cpu&t0=5",
        "/api/flame?kind=cpu&t0=5&t1=5",
        "/api/flame?kind=cpu&t0=9&t1=5",
        "/api/flame?kind=cpu&t0=x&t1=5",
        "/api/flame?kind=cpu&t0=+1&t1=5",
        "/api/flame?kind=cpu&t0=1.5&t1=5",
        "/api/flame?kind=cpu&t0=0&t1=99999999999999999999",
        "/api/flame?kind=cpu&g=1&task=1",
        "/api/flame?kind=cpu&g=-1",
        "/api/flame?kind=cpu&task=-1",
        "/api/flame?kind=cpu&max=0",
        "/api/flame?kind=cpu&max=100000",
        "/api/flame?kind=cpu&kind=block",
        "/api/flame?kind=cpu&color=red",
        "/api/flame?kind=cpu&g=",
        "/api/flame?kind",
        "/api/chain",
        "/api/chain?g=1",
        "/api/chain?t=1",
        "/api/chain?g=1&t=1&task=1",
        "/api/chain?g=x&t=1",
        "/api/chain?g=1&t=1&x=1",
        "/api/chain?task=a",
    ] {
        assert_eq!(get(addr, bad).status, 400, "{bad}");
    }
    for missing in [
        "/api/flame?kind=cpu&g=987654",
        "/api/flame?kind=block&task=987654",
        "/api/chain?g=987654&t=0",
        "/api/chain?task=987654",
    ] {
        assert_eq!(get(addr, missing).status, 404, "{missing}");
    }
    let c = parse(get(addr, "/api/chain?g=1&t=999999999999").text());
    assert_eq!(c.at("g").num(), 1.0);
    assert!(c.at("steps").arr().len() <= 32);
}

#[test]
fn task_chain_starts_where_the_task_ended() {
    let path = testdata("go123-testprog-annotations.trace");
    let h = serve(&path);
    let addr = h.local_addr();
    let tl = timeline("go123-testprog-annotations.trace");
    let t = &tl.tasks()[0];
    let c = parse(get(addr, &format!("/api/chain?task={}", t.id)).text());
    assert_eq!(c.at("g").num() as i64, t.end_goroutine);
    assert_eq!(c.at("t").num() as i64, t.end.unwrap());
    let steps = c.at("steps").arr();
    assert!(
        !steps.is_empty(),
        "the goroutine that ended the task was woken"
    );
    assert_eq!(steps[0].nums()[0], t.end_goroutine);
}

/// The offline page gets every CPU sample, with its stack, to compute flame
/// graphs from.
#[test]
fn offline_page_embeds_the_samples_and_their_stacks() {
    let tl = timeline("go123-testprog-cpu-profile.trace");
    let (html, _) = trace_view::standalone_html(&tl, trace_view::DEFAULT_EMBED_BUDGET).unwrap();
    let start = html.find("id=\"trace-data\">").unwrap() + "id=\"trace-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data = parse(&html[start..end]);
    let samples = data.at("samples").nums();
    assert_eq!(samples.len(), 3 * tl.samples().len());
    assert_eq!(data.at("samplesOmitted").num(), 0.0);
    assert_eq!(
        data.at("stats").at("samples").num() as usize,
        tl.samples().len()
    );
    let stacks = data.at("stacks").obj();
    for (x, s) in samples.chunks(3).zip(tl.samples()) {
        assert_eq!(x[0], s.time);
        assert_eq!(x[2], i64::from(s.stack));
        assert!(s.stack == 0 || stacks.contains_key(&s.stack.to_string()));
    }
    // Tasks carry the goroutine that ended them.
    let tl = timeline("go123-testprog-annotations.trace");
    let (html, _) = trace_view::standalone_html(&tl, trace_view::DEFAULT_EMBED_BUDGET).unwrap();
    let start = html.find("id=\"trace-data\">").unwrap() + "id=\"trace-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data = parse(&html[start..end]);
    let task = data.at("tasks").arr()[0].nums();
    assert_eq!(task.len(), 12);
    assert_eq!(task[11], tl.tasks()[0].end_goroutine);
    assert!(task[11] >= 0);
}
