//! Flame graphs of a selection, and the chain of goroutines that woke each
//! other.
//!
//! A [`Selection`] is a time range, optionally narrowed to one goroutine or
//! to one task (the goroutines while they were inside the task's regions,
//! as Go's per-task profiles count them). Its flame graph ([`flame`]) is the
//! merged call tree of either its CPU samples (weight: samples) or of the
//! time its goroutines spent waiting, or in system calls, by the stack where
//! they blocked (weight: nanoseconds within the selection). The tree keeps
//! at most a given number of nodes: the heaviest, which always form a tree
//! as a node weighs at least as much as any of its descendants.
//!
//! [`chain`] walks back from a goroutine at a time: who made it runnable
//! last (the goroutine running on the thread that unblocked or created it),
//! who made that one runnable before, and so on.
//!
//! The page computes the same from the data `--html` embeds
//! (`web/src/flame.ts`): change one, change the other.

use std::io;

use hashbrown::HashMap;

use crate::model::{LaneKind, SliceKind, Timeline, NO_LANE};

/// The most nodes a flame graph answer holds.
pub const MAX_FLAME_NODES: usize = 5000;

/// The most steps of a chain.
pub const MAX_CHAIN_STEPS: usize = 32;

/// The `func` of the node standing for "no stack".
pub const NO_STACK: u32 = u32::MAX;

/// What a flame graph weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlameKind {
    /// CPU profile samples, by sampled stack; weight: samples.
    Cpu,
    /// Time spent waiting (blocked), by the stack where the goroutine
    /// blocked; weight: nanoseconds.
    Block,
    /// Time spent in system calls, by the stack of the call; weight:
    /// nanoseconds.
    Syscall,
}

impl FlameKind {
    /// From its name: `cpu`, `block` or `syscall`.
    pub fn from_name(s: &str) -> Option<FlameKind> {
        Some(match s {
            "cpu" => FlameKind::Cpu,
            "block" => FlameKind::Block,
            "syscall" => FlameKind::Syscall,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            FlameKind::Cpu => "cpu",
            FlameKind::Block => "block",
            FlameKind::Syscall => "syscall",
        }
    }
}

/// Whose time a selection covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every goroutine (and, for CPU samples, samples off any goroutine).
    All,
    /// The goroutine with this id.
    Goroutine(i64),
    /// The goroutines of this task (by id) while inside its regions.
    Task(u64),
}

/// A part of the trace: a time range `[t0, t1)` and whose time in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Start (ns since the first event).
    pub t0: i64,
    /// End (exclusive).
    pub t1: i64,
    /// Whose time.
    pub scope: Scope,
}

/// A node of a flame graph: a function called along some path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlameNode {
    /// The parent's index (the root, index 0, is its own parent).
    pub parent: u32,
    /// The function (a string id; [`NO_STACK`] for "no stack").
    pub func: u32,
    /// Its file (string id).
    pub file: u32,
    /// The line of the call (0 if the merged frames differ).
    pub line: u64,
    /// The weight of all paths through it (at most `i64::MAX`: sums saturate).
    pub value: i64,
}

/// A merged call tree: nodes in an order where parents come first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flame {
    /// What it weighs.
    pub kind: FlameKind,
    /// The nodes; 0 is the root (func 0), whose value is the total.
    pub nodes: Vec<FlameNode>,
    /// How many samples or slices were counted.
    pub items: u64,
    /// Nodes left out to keep within the cap.
    pub dropped: u64,
}

impl Flame {
    /// The total weight.
    pub fn total(&self) -> i64 {
        self.nodes.first().map_or(0, |n| n.value)
    }
}

/// Per goroutine lane: sorted disjoint intervals, or the whole selection.
enum Filter {
    All,
    Lanes(HashMap<u32, Vec<(i64, i64)>>),
}

impl Filter {
    fn lanes(&self, tl: &Timeline) -> Vec<u32> {
        match self {
            Filter::All => tl
                .lanes
                .iter()
                .enumerate()
                .filter(|(_, l)| matches!(l.kind, LaneKind::Goroutine(_)))
                .map(|(i, _)| i as u32)
                .collect(),
            Filter::Lanes(m) => {
                let mut v: Vec<u32> = m.keys().copied().collect();
                v.sort_unstable();
                v
            }
        }
    }

    /// The overlap of `[a, b)` with the lane's intervals.
    fn overlap(&self, lane: u32, a: i64, b: i64) -> i64 {
        match self {
            Filter::All => b.saturating_sub(a).max(0),
            Filter::Lanes(m) => {
                let Some(iv) = m.get(&lane) else { return 0 };
                let first = iv.partition_point(|&(_, e)| e <= a);
                let mut sum = 0i64;
                for &(s, e) in &iv[first..] {
                    if s >= b {
                        break;
                    }
                    sum = sum.saturating_add(e.min(b).saturating_sub(s.max(a)));
                }
                sum
            }
        }
    }

    fn contains(&self, lane: u32, t: i64) -> bool {
        match self {
            Filter::All => true,
            Filter::Lanes(m) => m.get(&lane).is_some_and(|iv| {
                let i = iv.partition_point(|&(_, e)| e <= t);
                iv.get(i).is_some_and(|&(s, _)| s <= t)
            }),
        }
    }
}

/// The filter of a selection; `None` if its goroutine or task is unknown.
fn filter(tl: &Timeline, sel: &Selection) -> io::Result<Option<Filter>> {
    let (t0, t1) = (sel.t0, sel.t1);
    Ok(Some(match sel.scope {
        Scope::All => Filter::All,
        Scope::Goroutine(g) => {
            let Some(lane) = tl.goroutine_lane(g) else {
                return Ok(None);
            };
            Filter::Lanes([(lane as u32, vec![(t0, t1)])].into_iter().collect())
        }
        Scope::Task(id) => {
            if tl.task_index(id).is_none() {
                return Ok(None);
            }
            let mut m: HashMap<u32, Vec<(i64, i64)>> = HashMap::new();
            for (i, lane) in tl.lanes.iter().enumerate() {
                if !matches!(lane.kind, LaneKind::Goroutine(_)) {
                    continue;
                }
                let mut iv: Vec<(i64, i64)> = Vec::new();
                for r in lane.rows.iter().skip(1) {
                    r.for_each_in(t0, t1, |_, s| {
                        let (a, b) = (s.start.max(t0), s.end.min(t1));
                        if s.kind == SliceKind::Region && s.extra == id && a < b {
                            iv.push((a, b));
                        }
                    })?;
                }
                if iv.is_empty() {
                    continue;
                }
                iv.sort_unstable();
                // Nested regions: merge into disjoint intervals.
                let mut merged: Vec<(i64, i64)> = Vec::with_capacity(iv.len());
                for (a, b) in iv {
                    match merged.last_mut() {
                        Some(last) if a <= last.1 => last.1 = last.1.max(b),
                        _ => merged.push((a, b)),
                    }
                }
                m.insert(i as u32, merged);
            }
            Filter::Lanes(m)
        }
    }))
}

/// The weight of each stack in the selection, and how many items counted.
fn weights(
    tl: &Timeline,
    kind: FlameKind,
    sel: &Selection,
    f: &Filter,
) -> io::Result<(HashMap<u32, i64>, u64)> {
    let mut by_stack: HashMap<u32, i64> = HashMap::new();
    let mut items = 0u64;
    let (t0, t1) = (sel.t0, sel.t1);
    match kind {
        FlameKind::Cpu => {
            let s = &tl.samples;
            let first = s.partition_point(|x| x.time < t0);
            for x in s[first..].iter().take_while(|x| x.time < t1) {
                let counted = if x.lane == NO_LANE {
                    matches!(sel.scope, Scope::All)
                } else {
                    f.contains(x.lane, x.time)
                };
                if counted {
                    *by_stack.entry(x.stack).or_default() += 1;
                    items += 1;
                }
            }
        }
        FlameKind::Block | FlameKind::Syscall => {
            let want = if kind == FlameKind::Block {
                SliceKind::Waiting
            } else {
                SliceKind::Syscall
            };
            for lane in f.lanes(tl) {
                let Some(row) = tl.lanes[lane as usize].rows.first() else {
                    continue;
                };
                row.for_each_in(t0, t1, |_, s| {
                    if s.kind != want {
                        return;
                    }
                    let w = f.overlap(lane, s.start.max(t0), s.end.min(t1));
                    if w > 0 {
                        let total = by_stack.entry(s.stack0).or_default();
                        *total = total.saturating_add(w);
                        items += 1;
                    }
                })?;
            }
        }
    }
    Ok((by_stack, items))
}

/// The flame graph of `kind` over `sel`, at most `max_nodes` nodes (at
/// least the root); `None` if the selection's goroutine or task is unknown.
///
/// # Errors
///
/// Reading the timeline's rows failed.
pub fn flame(
    tl: &Timeline,
    kind: FlameKind,
    sel: &Selection,
    max_nodes: usize,
) -> io::Result<Option<Flame>> {
    let Some(f) = filter(tl, sel)? else {
        return Ok(None);
    };
    let (by_stack, items) = weights(tl, kind, sel, &f)?;
    let mut stacks: Vec<(u32, i64)> = by_stack.into_iter().collect();
    stacks.sort_unstable();
    let mut nodes = vec![FlameNode {
        parent: 0,
        func: 0,
        file: 0,
        line: 0,
        value: 0,
    }];
    let mut children: HashMap<(u32, u32), u32> = HashMap::new();
    let mut path = Vec::new();
    for (stack, w) in stacks {
        nodes[0].value = nodes[0].value.saturating_add(w);
        path.clear();
        if stack == 0 {
            path.push((NO_STACK, 0, 0));
        } else {
            let frames: Vec<_> = tl.stacks.frames(stack).collect();
            path.extend(frames.iter().rev().map(|f| (f.func, f.file, f.line)));
        }
        let mut at = 0u32;
        for &(func, file, line) in &path {
            let next = nodes.len() as u32;
            let id = *children.entry((at, func)).or_insert(next);
            if id == next {
                nodes.push(FlameNode {
                    parent: at,
                    func,
                    file,
                    line,
                    value: 0,
                });
            }
            let n = &mut nodes[id as usize];
            n.value = n.value.saturating_add(w);
            if n.line != line {
                n.line = 0;
            }
            at = id;
        }
    }
    let dropped = nodes.len().saturating_sub(max_nodes.max(1));
    if dropped > 0 {
        nodes = prune(nodes, max_nodes.max(1));
    }
    Ok(Some(Flame {
        kind,
        nodes,
        items,
        dropped: dropped as u64,
    }))
}

/// Keeps the `keep` heaviest nodes (shallower first among equals, so a
/// parent always ranks before its children), renumbered in their order.
fn prune(nodes: Vec<FlameNode>, keep: usize) -> Vec<FlameNode> {
    let mut depth = vec![0u32; nodes.len()];
    for i in 1..nodes.len() {
        depth[i] = depth[nodes[i].parent as usize] + 1;
    }
    let mut order: Vec<u32> = (0..nodes.len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        (
            std::cmp::Reverse(nodes[i as usize].value),
            depth[i as usize],
            i,
        )
    });
    order.truncate(keep);
    order.sort_unstable();
    let mut new_id = vec![u32::MAX; nodes.len()];
    for (k, &i) in order.iter().enumerate() {
        new_id[i as usize] = k as u32;
    }
    order
        .iter()
        .map(|&i| {
            let mut n = nodes[i as usize];
            n.parent = new_id[n.parent as usize];
            debug_assert!(n.parent != u32::MAX);
            n
        })
        .collect()
}

/// A step of a chain: goroutine `g` was made runnable at `woken` by
/// `waker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainStep {
    /// The goroutine.
    pub g: i64,
    /// When it became runnable.
    pub woken: i64,
    /// When it began to run (the end of its runnable slice).
    pub ran: i64,
    /// Who made it runnable (−1: no goroutine).
    pub waker: i64,
    /// Whether it was created then (else unblocked).
    pub created: bool,
    /// When it had blocked (−1 if it was created).
    pub blocked: i64,
    /// Why it had blocked (string id).
    pub reason: u32,
    /// Where it had blocked.
    pub blocked_stack: u32,
    /// The waker's stack when it unblocked (or created) it.
    pub stack: u32,
}

/// Walks back from goroutine `g` at time `t`: the last time it was made
/// runnable at or before `t`, by whom, then the last time that one was made
/// runnable before, and so on, at most `max` steps (never through the same
/// wake twice). `None` if `g` has no lane.
///
/// # Errors
///
/// Reading the timeline's rows failed.
pub fn chain(tl: &Timeline, g: i64, t: i64, max: usize) -> io::Result<Option<Vec<ChainStep>>> {
    if tl.goroutine_lane(g).is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut seen: hashbrown::HashSet<(usize, usize)> = hashbrown::HashSet::new();
    let (mut g, mut t) = (g, t);
    while out.len() < max {
        let Some(lane) = tl.goroutine_lane(g) else {
            break;
        };
        let Some(row) = tl.lanes[lane].rows.first() else {
            break;
        };
        let mut s = row.cursor();
        let mut found = None;
        for i in (0..row.count_starting_by(t)?).rev() {
            match s.get(i)? {
                Some(x) if x.waker().is_some() => {
                    found = Some((i, x));
                    break;
                }
                _ => {}
            }
        }
        let Some((i, r)) = found else {
            break;
        };
        if !seen.insert((lane, i)) {
            break;
        }
        let waker = r.waker().unwrap_or(-1);
        let prev = match i.checked_sub(1) {
            Some(j) => s.get(j)?,
            None => None,
        }
        .filter(|p| p.kind == SliceKind::Waiting && p.end == r.start);
        out.push(ChainStep {
            g,
            woken: r.start,
            ran: r.end,
            waker,
            created: prev.is_none(),
            blocked: prev.map_or(-1, |p| p.start),
            reason: prev.map_or(0, |p| p.arg),
            blocked_stack: prev.map_or(0, |p| p.stack0),
            stack: prev.map_or(r.stack0, |p| p.stack1),
        });
        if waker < 0 {
            break;
        }
        g = waker;
        t = r.start;
    }
    Ok(Some(out))
}

/// Where the chain of a task starts: the goroutine that ended it, at its
/// end (or the one that began it, at the trace's end, if it never ended).
pub fn task_chain_start(tl: &Timeline, id: u64) -> Option<(i64, i64)> {
    let t = &tl.tasks[tl.task_index(id)?];
    match t.end {
        Some(end) if t.end_goroutine >= 0 => Some((t.end_goroutine, end)),
        _ if t.goroutine >= 0 => Some((t.goroutine, t.end.unwrap_or(tl.span))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_a_tree() {
        let n = |parent, value| FlameNode {
            parent,
            func: 1,
            file: 0,
            line: 0,
            value,
        };
        // root(10) -> a(6) -> b(6) -> c(1); root -> d(4) -> e(4)
        let nodes = vec![n(0, 10), n(0, 6), n(1, 6), n(2, 1), n(0, 4), n(4, 4)];
        let kept = prune(nodes, 4);
        let values: Vec<i64> = kept.iter().map(|x| x.value).collect();
        assert_eq!(values, vec![10, 6, 6, 4]);
        let parents: Vec<u32> = kept.iter().map(|x| x.parent).collect();
        assert_eq!(parents, vec![0, 0, 1, 0]);
    }
}
