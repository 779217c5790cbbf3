//! Minimum mutator utilization (MMU): over every window of a given length,
//! the smallest share of the procs that the program (the mutator) had for
//! itself rather than the garbage collector, after the spirit of Go's
//! `internal/trace.MutatorUtilizationV2` with `UtilSTW | UtilBackground |
//! UtilAssist`.
//!
//! The utilization at each instant is 0 during a stop-the-world range, and
//! otherwise `1 − gc / GOMAXPROCS`, where `gc` counts the goroutines running
//! GC work: background mark workers (goroutines labelled `GC (…)`) while
//! they run, and goroutines inside a `GC mark assist` range while they run.
//! [`Utilization`] keeps that step function (one point per change, so its
//! size follows the GC's activity, not the trace's length) and
//! [`Utilization::mmu`] finds the worst window of each length exactly, in
//! one linear pass per length: a window's mean is linear in its position
//! between steps, so its minimum lies where an edge of the window meets a
//! step. The curve is the exact MMU of each length, which need not grow
//! with the length (a 2 ms window may fit between two pauses that a 3 ms
//! one spans).
//!
//! ```
//! use trace_analysis::mmu::{log_windows, MmuBuilder};
//! use trace_reader::Reader;
//!
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/traces/go123-testprog-gomaxprocs-advance0.trace");
//! let mut b = MmuBuilder::new();
//! Reader::new(std::fs::File::open(path)?)?.feed(&mut b).ok();
//! let util = b.finish();
//! let windows = log_windows(util.span(), 40);
//! let curve = util.mmu(&windows);
//! assert!(curve.iter().all(|&u| (0.0..=1.0).contains(&u)));
//! // This program's garbage collector stops the world for more than 1 µs.
//! assert_eq!(curve[0], 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::convert::Infallible;

use hashbrown::{HashMap, HashSet};
use trace_reader::{Event, EventKind, GoState, RangeName, ResourceId, StateChange};

/// What the builder knows of a goroutine.
#[derive(Debug, Default, Clone, Copy)]
struct Goroutine {
    running: bool,
    worker: bool,
    assist: bool,
}

impl Goroutine {
    fn gc(self) -> bool {
        self.running && (self.worker || self.assist)
    }
}

/// Builds a [`Utilization`] one event at a time (a [`trace_reader::Consume`]).
#[derive(Debug, Default)]
pub struct MmuBuilder {
    base: Option<i64>,
    last: i64,
    gs: HashMap<i64, Goroutine>,
    /// Running goroutines doing GC work.
    gc: u64,
    /// Scopes with a stop-the-world range open.
    stw: HashSet<ResourceId>,
    gomaxprocs: Option<u64>,
    procs_seen: HashSet<i64>,
    times: Vec<i64>,
    values: Vec<f64>,
}

impl MmuBuilder {
    /// A builder that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in the next event.
    pub fn event(&mut self, ev: &Event) {
        let abs = ev.time().as_nanos();
        let base = *self.base.get_or_insert(abs);
        let t = abs.saturating_sub(base);
        self.last = t;
        let p = ev.proc().0;
        if p >= 0 && self.gomaxprocs.is_none() && self.procs_seen.len() < 1 << 16 {
            self.procs_seen.insert(p);
        }
        match ev.kind() {
            EventKind::Metric => {
                if let Some(m) = ev.metric() {
                    if m.name == "/sched/gomaxprocs:threads" {
                        self.gomaxprocs = m.value.as_u64();
                    }
                }
            }
            EventKind::Label => {
                let Some(l) = ev.label() else { return };
                let ResourceId::Goroutine(g) = l.resource else {
                    return;
                };
                let worker = l.label.as_bytes().starts_with(b"GC ");
                self.update(g.0, |s| s.worker = worker);
            }
            EventKind::StateTransition => {
                if let Some(st) = ev.state_transition() {
                    if let StateChange::Goroutine { id, to, .. } = st.change {
                        if to == GoState::NotExist {
                            self.update(id.0, |s| *s = Goroutine::default());
                            self.gs.remove(&id.0);
                        } else {
                            self.update(id.0, |s| s.running = to == GoState::Running);
                        }
                    }
                }
            }
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                let Some(r) = ev.range() else { return };
                let open = ev.kind() != EventKind::RangeEnd;
                match (r.name, r.scope) {
                    (RangeName::StopTheWorld(_), scope) => {
                        if open {
                            self.stw.insert(scope);
                        } else {
                            self.stw.remove(&scope);
                        }
                    }
                    (RangeName::GcMarkAssist, ResourceId::Goroutine(g)) => {
                        self.update(g.0, |s| s.assist = open);
                    }
                    _ => return,
                }
            }
            _ => return,
        }
        self.point(t);
    }

    fn update(&mut self, g: i64, f: impl FnOnce(&mut Goroutine)) {
        let s = self.gs.entry(g).or_default();
        let before = s.gc();
        f(s);
        match (before, s.gc()) {
            (false, true) => self.gc = self.gc.saturating_add(1),
            (true, false) => self.gc = self.gc.saturating_sub(1),
            _ => {}
        }
    }

    /// Records the utilization from `t` on.
    fn point(&mut self, t: i64) {
        let procs = self
            .gomaxprocs
            .unwrap_or(self.procs_seen.len() as u64)
            .max(1);
        let util = if self.stw.is_empty() {
            1.0 - (self.gc.min(procs) as f64 / procs as f64)
        } else {
            0.0
        };
        if self.times.last() == Some(&t) {
            self.values.pop();
            self.times.pop();
        }
        if self.values.last() == Some(&util) {
            return;
        }
        if self.times.is_empty() && t > 0 {
            // Before the first change the mutator had every proc.
            self.times.push(0);
            self.values.push(1.0);
            if util == 1.0 {
                return;
            }
        }
        self.times.push(t);
        self.values.push(util);
    }

    /// The utilization over the trace (until its last event).
    pub fn finish(self) -> Utilization {
        let mut times = self.times;
        let mut values = self.values;
        if times.is_empty() {
            times.push(0);
            values.push(1.0);
        }
        Utilization::new(times, values, self.last)
    }
}

impl trace_reader::Consume for MmuBuilder {
    type Error = Infallible;

    fn event(&mut self, ev: &Event) -> Result<(), Infallible> {
        MmuBuilder::event(self, ev);
        Ok(())
    }
}

/// The mutator's share of the procs over time: a step function.
#[derive(Debug, Clone, PartialEq)]
pub struct Utilization {
    /// When each step begins (ns since the first event), increasing, from 0.
    times: Vec<i64>,
    /// The utilization (0 to 1) of each step.
    values: Vec<f64>,
    /// The integral of the utilization up to each step's beginning.
    prefix: Vec<f64>,
    end: i64,
}

impl Utilization {
    /// A step function of `values[i]` from `times[i]` to the next time (the
    /// last until `end`); `times` must increase from 0 and match `values`.
    pub fn new(times: Vec<i64>, values: Vec<f64>, end: i64) -> Self {
        let n = times.len().min(values.len());
        let mut prefix = Vec::with_capacity(n);
        let mut acc = 0.0;
        for i in 0..n {
            prefix.push(acc);
            if let Some(&next) = times.get(i + 1) {
                acc += values[i] * (next - times[i]) as f64;
            }
        }
        let end = end.max(times.last().copied().unwrap_or(0));
        Utilization {
            times,
            values,
            prefix,
            end,
        }
    }

    /// The length of the trace the function covers (ns).
    pub fn span(&self) -> i64 {
        self.end
    }

    /// The steps: (start, utilization).
    pub fn steps(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.times.iter().copied().zip(self.values.iter().copied())
    }

    /// The mean utilization over the whole trace.
    pub fn mean(&self) -> f64 {
        if self.end <= 0 {
            return self.values.first().copied().unwrap_or(1.0);
        }
        self.integral(&mut 0, self.end) / self.end as f64
    }

    /// The integral from 0 to `t`, with `cursor` a step index no later than
    /// `t`'s (it moves forward, so that increasing `t`s cost one pass).
    fn integral(&self, cursor: &mut usize, t: i64) -> f64 {
        while *cursor + 1 < self.times.len() && self.times[*cursor + 1] <= t {
            *cursor += 1;
        }
        let i = *cursor;
        match (self.times.get(i), self.values.get(i), self.prefix.get(i)) {
            (Some(&start), Some(&v), Some(&p)) => p + v * (t - start).max(0) as f64,
            _ => 0.0,
        }
    }

    /// The minimum mutator utilization of each window length in `windows`
    /// (ns): the least mean utilization over any window of that length
    /// within the trace. A window longer than the trace gets the mean over
    /// the whole trace; a length of 0 or less the least utilization.
    pub fn mmu(&self, windows: &[i64]) -> Vec<f64> {
        windows.iter().map(|&w| self.mmu_of(w)).collect()
    }

    fn mmu_of(&self, w: i64) -> f64 {
        if w <= 0 {
            return self.values.iter().copied().fold(1.0, f64::min);
        }
        if w >= self.end {
            return self.mean();
        }
        let last_start = self.end - w;
        let mut best = f64::INFINITY;
        let wf = w as f64;
        // Windows starting at a step.
        let (mut c0, mut c1) = (0, 0);
        for &s in &self.times {
            if s > last_start {
                break;
            }
            let m = (self.integral(&mut c1, s + w) - self.integral(&mut c0, s)) / wf;
            best = best.min(m);
        }
        // Windows ending at a step, or at the end.
        let (mut c0, mut c1) = (0, 0);
        for e in self.times.iter().copied().chain(std::iter::once(self.end)) {
            if e < w {
                continue;
            }
            let m = (self.integral(&mut c1, e) - self.integral(&mut c0, e - w)) / wf;
            best = best.min(m);
        }
        best.clamp(0.0, 1.0)
    }
}

/// `n` window lengths spaced evenly on a log scale from 1 µs to `span`
/// (fewer if the span is shorter; at least one if it is positive).
pub fn log_windows(span: i64, n: usize) -> Vec<i64> {
    let lo = 1_000f64;
    let hi = span as f64;
    if span <= 0 || n == 0 {
        return Vec::new();
    }
    if hi <= lo || n == 1 {
        return vec![span];
    }
    let mut res: Vec<i64> = (0..n)
        .map(|i| (lo * (hi / lo).powf(i as f64 / (n - 1) as f64)).round() as i64)
        .map(|w| w.clamp(1, span))
        .collect();
    res.dedup();
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(times: &[i64], values: &[f64], end: i64, windows: &[i64], expected: &[f64]) {
        let u = Utilization::new(times.to_vec(), values.to_vec(), end);
        let got = u.mmu(windows);
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() < 1e-9,
                "windows {windows:?}: got {got:?}, want {expected:?}"
            );
        }
    }

    #[test]
    fn worst_windows() {
        // Full use, a 10 ns pause at 50, full use until 100.
        let (t, v) = (&[0, 50, 60][..], &[1.0, 0.0, 1.0][..]);
        check(
            t,
            v,
            100,
            &[5, 10, 20, 100, 200],
            &[0.0, 0.0, 0.5, 0.9, 0.9],
        );
        // Half the procs for 40 ns: a 40 ns window sees 0.5, an 80 ns one 0.75.
        check(&[0, 10, 50], &[1.0, 0.5, 1.0], 100, &[40, 80], &[0.5, 0.75]);
        // Nothing at all.
        check(&[0], &[1.0], 100, &[1, 100], &[1.0, 1.0]);
        // A window that fits only at the end of the trace.
        check(&[0, 90], &[1.0, 0.0], 100, &[10, 20], &[0.0, 0.5]);
    }

    #[test]
    fn windows_are_log_spaced() {
        assert_eq!(
            log_windows(1_000_000, 4),
            vec![1_000, 10_000, 100_000, 1_000_000]
        );
        assert_eq!(log_windows(500, 10), vec![500]);
        assert!(log_windows(0, 10).is_empty());
        assert!(log_windows(i64::MAX, 64).windows(2).all(|w| w[0] < w[1]));
    }
}
