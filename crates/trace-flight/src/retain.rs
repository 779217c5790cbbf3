//! Pinned generations: the windows around triggers and the slowest tasks
//! and regions kept, within the share of `max_bytes` they may take.
//!
//! A pin is an `Arc` of a complete generation, counted once however many
//! windows or kept entries hold it, and once if the ring still holds it
//! too. The ring's eviction never takes a pinned generation's memory: it
//! only stops counting it as the ring's. All of this lives under the
//! ring's lock, and runs on the flusher thread (at generation ends), the
//! dumper thread, or a caller of `trigger`/`dump_window`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ring::Complete;
use crate::scan::{Finding, Interest, Kind, Scanner};
use crate::triggers::{Rule, TriggerConfig, TriggerStats};

/// The most reasons and task ids a window lists.
const MAX_LISTED: usize = 32;
/// The longest lookforward honored (longer ones are cut to it, so that
/// instants stay representable).
const MAX_LOOKFORWARD: Duration = Duration::from_secs(7 * 24 * 3600);

/// Pinned generations by number, with their number of holders.
#[derive(Debug, Default)]
struct Pins {
    map: BTreeMap<u64, (Arc<Complete>, u32)>,
    bytes: u64,
}

impl Pins {
    fn pin(&mut self, g: &Arc<Complete>) {
        let e = self
            .map
            .entry(g.gen.get())
            .or_insert_with(|| (g.clone(), 0));
        if e.1 == 0 {
            self.bytes += g.data.len();
        }
        e.1 += 1;
    }

    fn unpin(&mut self, gen: u64) {
        if let Some(e) = self.map.get_mut(&gen) {
            e.1 -= 1;
            if e.1 == 0 {
                self.bytes -= e.0.data.len();
                self.map.remove(&gen);
            }
        }
    }

    /// The bytes of `gens` not pinned yet.
    fn extra<'a>(&self, gens: impl Iterator<Item = &'a Arc<Complete>>) -> u64 {
        gens.filter(|g| !self.map.contains_key(&g.gen.get()))
            .map(|g| g.data.len())
            .sum()
    }

    fn range(&self, first: u64, last: u64) -> Vec<Arc<Complete>> {
        self.map
            .range(first..=last)
            .map(|(_, (g, _))| g.clone())
            .collect()
    }
}

/// A window around one or more triggers.
#[derive(Debug)]
struct Window {
    id: u64,
    /// Taken by `dump_window`'s caller, not by the dumper.
    blocking: bool,
    reasons: Vec<String>,
    triggers: u64,
    tasks: Vec<u64>,
    gens: Vec<Arc<Complete>>,
    until: Instant,
    /// The latest `until` coalescing may extend it to.
    limit: Instant,
    closed: bool,
    /// Handed to the dumper (still pinned until released).
    taken: bool,
}

/// A slow task or region kept.
#[derive(Debug, Clone)]
struct Kept {
    interest: usize,
    task: u64,
    dur: Duration,
    first_gen: u64,
    last_gen: u64,
}

/// What to write: a closed window, or a run of kept entries' generations.
#[derive(Debug)]
pub(crate) struct Dump {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) reasons: Vec<String>,
    pub(crate) triggers: u64,
    pub(crate) tasks: Vec<u64>,
    pub(crate) gens: Vec<Arc<Complete>>,
}

/// The rules and retention settings, and the scanner that feeds them.
#[derive(Debug)]
pub(crate) struct Watch {
    pub(crate) scanner: Scanner,
    /// (interest, threshold; `None` for logs).
    rules: Vec<(usize, Option<Duration>)>,
    /// Per interest: how many of the slowest to keep.
    keep: Vec<usize>,
}

/// A finding that fires rules or may be kept: its duration, when it
/// happened, and the rules it fires (interest, threshold).
pub(crate) type Evaluated = (Finding, Duration, Instant, Vec<(usize, Option<Duration>)>);

impl Watch {
    /// The generation being received ended: what in it fires a rule or
    /// may be kept.
    pub(crate) fn evaluate(&mut self) -> Vec<Evaluated> {
        let findings = self.scanner.end_generation();
        if findings.is_empty() {
            return Vec::new();
        }
        let freq = self.scanner.frequency();
        let now = Instant::now();
        let now_ticks = trace_runtime::timestamp();
        let mut res = Vec::new();
        for f in findings {
            let dur = ticks_to_duration(f.ticks, freq);
            let fired: Vec<(usize, Option<Duration>)> = self
                .rules
                .iter()
                .filter(|(i, over)| *i == f.interest && over.is_none_or(|o| dur > o))
                .copied()
                .collect();
            if fired.is_empty() && self.keep[f.interest] == 0 {
                continue;
            }
            let ago = ticks_to_duration(now_ticks.saturating_sub(f.at), freq);
            let at = now.checked_sub(ago).unwrap_or(now);
            res.push((f, dur, at, fired));
        }
        res
    }

    /// Tasks and regions shorter than the lowest rule threshold and than
    /// `keep_floor` are not followed from now on.
    pub(crate) fn set_floor(&mut self, keep_floor: Option<Duration>) {
        let rule_floor = self.rules.iter().filter_map(|r| r.1).min();
        let floor = match (rule_floor, keep_floor) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(Duration::MAX),
        };
        let ticks = floor.as_nanos() * u128::from(self.scanner.frequency()) / 1_000_000_000;
        self.scanner
            .set_floor(u64::try_from(ticks).unwrap_or(u64::MAX));
    }

    pub(crate) fn new(config: &TriggerConfig) -> Self {
        let mut interests: Vec<Interest> = Vec::new();
        let mut index = |kind: Kind, name: &str| {
            if let Some(i) = interests
                .iter()
                .position(|i| i.kind == kind && &*i.name == name)
            {
                return i;
            }
            interests.push(Interest {
                kind,
                name: name.into(),
            });
            interests.len() - 1
        };
        let mut rules = Vec::new();
        for rule in &config.rules {
            rules.push(match rule {
                Rule::SlowTask { name, over } => (index(Kind::Task, name), Some(*over)),
                Rule::SlowRegion { name, over } => (index(Kind::Region, name), Some(*over)),
                Rule::Log { category } => (index(Kind::Log, category), None),
            });
        }
        let mut keep_of = Vec::new();
        for k in &config.keep_slowest {
            let kind = if k.regions { Kind::Region } else { Kind::Task };
            keep_of.push((index(kind, &k.name), k.n));
        }
        let mut keep = vec![0; interests.len()];
        for (i, n) in keep_of {
            keep[i] = keep[i].max(n);
        }
        Self {
            scanner: Scanner::new(interests),
            rules,
            keep,
        }
    }
}

/// Converts ticks of a clock of `frequency` ticks per second.
pub(crate) fn ticks_to_duration(ticks: u64, frequency: u64) -> Duration {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(frequency.max(1));
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The windows, kept entries and pins of one ring.
#[derive(Debug)]
pub(crate) struct Retention {
    /// The most bytes pins may take.
    cap: u64,
    pins: Pins,
    windows: Vec<Window>,
    kept: Vec<Kept>,
    /// Names of the interests (for reasons), empty without triggers.
    interests: Vec<Interest>,
    keep: Vec<usize>,
    lookback: Duration,
    lookforward: Duration,
    cooldown: Duration,
    next_id: u64,
    last_closed: Option<Instant>,
    /// Bumped whenever `kept` changes.
    kept_version: u64,
    pub(crate) stats: TriggerStats,
}

impl Retention {
    pub(crate) fn new(cap: u64, config: Option<&TriggerConfig>, watch: Option<&Watch>) -> Self {
        let defaults = TriggerConfig::new("");
        let config = config.unwrap_or(&defaults);
        Self {
            cap,
            pins: Pins::default(),
            windows: Vec::new(),
            kept: Vec::new(),
            interests: watch.map_or_else(Vec::new, |w| w.scanner.interests().to_vec()),
            keep: watch.map_or_else(Vec::new, |w| w.keep.clone()),
            lookback: config.lookback,
            lookforward: config.lookforward,
            cooldown: config.cooldown,
            next_id: 1,
            last_closed: None,
            kept_version: 0,
            stats: TriggerStats::default(),
        }
    }

    /// Pinned bytes not also held by the ring (`done`).
    pub(crate) fn pinned_only(&self, done: &VecDeque<Arc<Complete>>) -> u64 {
        let overlap: u64 = match (done.front(), done.back()) {
            (Some(first), Some(last)) => self
                .pins
                .map
                .range(first.gen.get()..=last.gen.get())
                .map(|(_, (g, _))| g.data.len())
                .sum(),
            _ => 0,
        };
        self.pins.bytes - overlap
    }

    pub(crate) fn pinned_bytes(&self) -> u64 {
        self.pins.bytes
    }

    pub(crate) fn kept(&self) -> usize {
        self.kept.len()
    }

    /// The rank of a kept entry in its type (0: the slowest).
    fn rank(&self, interest: usize, dur: Duration) -> usize {
        self.kept
            .iter()
            .filter(|k| k.interest == interest && k.dur > dur)
            .count()
    }

    /// Changes whenever the kept entries change.
    pub(crate) fn kept_version(&self) -> u64 {
        self.kept_version
    }

    fn drop_kept(&mut self, idx: usize) {
        self.kept_version += 1;
        let k = self.kept.swap_remove(idx);
        for gen in k.first_gen..=k.last_gen {
            self.pins.unpin(gen);
        }
    }

    /// Frees pinned bytes until `extra` more fit, dropping kept entries of
    /// rank above `above` (lowest rank first), ranked as if `newcomer`
    /// (interest, duration) were kept too; whether they fit.
    fn make_room(&mut self, extra: u64, above: usize, newcomer: Option<(usize, Duration)>) -> bool {
        while self.pins.bytes + extra > self.cap {
            let rank = |k: &Kept| {
                let behind = newcomer.is_some_and(|(i, d)| i == k.interest && d > k.dur);
                self.rank(k.interest, k.dur) + usize::from(behind)
            };
            let victim = (0..self.kept.len())
                .map(|i| (rank(&self.kept[i]), i))
                .filter(|&(rank, _)| rank > above)
                .max_by_key(|&(rank, i)| (rank, std::cmp::Reverse(self.kept[i].dur)));
            let Some((_, i)) = victim else {
                return false;
            };
            self.drop_kept(i);
        }
        true
    }

    /// Opens a window around a trigger at `at`, or joins the open one
    /// (unless `blocking`); returns its id, `None` if suppressed.
    #[allow(
        clippy::too_many_arguments,
        reason = "one internal call site per caller"
    )]
    pub(crate) fn open_window(
        &mut self,
        done: &VecDeque<Arc<Complete>>,
        at: Instant,
        lookback: Option<Duration>,
        lookforward: Option<Duration>,
        reason: String,
        task: Option<u64>,
        blocking: bool,
    ) -> Option<u64> {
        let lookback = lookback.unwrap_or(self.lookback);
        let lookforward = lookforward.unwrap_or(self.lookforward).min(MAX_LOOKFORWARD);
        let now = Instant::now();
        if !blocking {
            if let Some(w) = self.windows.iter_mut().find(|w| !w.blocking && !w.closed) {
                w.triggers += 1;
                if w.reasons.len() < MAX_LISTED && !w.reasons.contains(&reason) {
                    w.reasons.push(reason);
                }
                if let Some(t) = task {
                    if w.tasks.len() < MAX_LISTED && !w.tasks.contains(&t) {
                        w.tasks.push(t);
                    }
                }
                w.until = w.until.max(at + lookforward).min(w.limit);
                self.stats.coalesced += 1;
                return Some(w.id);
            }
            if self
                .last_closed
                .is_some_and(|last| now.duration_since(last) < self.cooldown)
            {
                self.stats.suppressed += 1;
                return None;
            }
        }
        let from = at.checked_sub(lookback).unwrap_or(at);
        let mut gens: Vec<Arc<Complete>> =
            done.iter().filter(|g| g.ended >= from).cloned().collect();
        // Trim the oldest until the pins fit (a type's slowest stays).
        while !gens.is_empty() && !self.make_room(self.pins.extra(gens.iter()), 0, None) {
            gens.remove(0);
        }
        for g in &gens {
            self.pins.pin(g);
        }
        let id = self.next_id;
        self.next_id += 1;
        let until = at + lookforward;
        self.windows.push(Window {
            id,
            blocking,
            reasons: vec![reason],
            triggers: 1,
            tasks: task.into_iter().collect(),
            gens,
            until,
            limit: at + lookforward * 4,
            closed: false,
            taken: false,
        });
        if !blocking {
            self.stats.windows += 1;
        }
        Some(id)
    }

    /// Generation `g` (now the newest in `done`) ended at `now`: extends
    /// the open windows, closes those that reached their end; applies the
    /// findings. Returns whether a window closed.
    pub(crate) fn on_generation_end(
        &mut self,
        done: &VecDeque<Arc<Complete>>,
        g: &Arc<Complete>,
        now: Instant,
        findings: Vec<Evaluated>,
    ) -> bool {
        for (f, dur, at, fired) in findings {
            for (interest, over) in fired {
                let name = &self.interests[interest].name;
                let reason = match (self.interests[interest].kind, over) {
                    (Kind::Log, _) | (_, None) => format!("log {name:?}"),
                    (Kind::Task, Some(over)) => {
                        format!("task {name:?} took {dur:.1?} (over {over:?})")
                    }
                    (Kind::Region, Some(over)) => {
                        format!("region {name:?} took {dur:.1?} (over {over:?})")
                    }
                };
                let task = (f.task != 0).then_some(f.task);
                self.open_window(done, at, None, None, reason, task, false);
            }
            if self.keep.get(f.interest).is_some_and(|&n| n > 0) {
                self.keep(done, &f, dur);
            }
        }
        let mut closed = false;
        for i in 0..self.windows.len() {
            let w = &self.windows[i];
            if w.closed {
                continue;
            }
            let has_it = w.gens.last().is_some_and(|last| last.gen == g.gen);
            let follows = w
                .gens
                .last()
                .is_none_or(|last| last.gen.get() + 1 == g.gen.get());
            let extra = self.pins.extra(std::iter::once(g));
            if has_it {
                // Opened by a finding of `g`, with `g`.
            } else if follows && self.make_room(extra, 0, None) {
                self.pins.pin(g);
                self.windows[i].gens.push(g.clone());
            } else {
                // A gap (a generation was dropped) or no room: the window
                // ends with what it has.
                self.windows[i].closed = true;
            }
            let w = &mut self.windows[i];
            if w.until <= now {
                w.closed = true;
            }
            if w.closed {
                closed = true;
                if !w.blocking {
                    self.last_closed = Some(now);
                }
            }
        }
        closed
    }

    /// Keeps `f` if it is among the slowest of its type.
    fn keep(&mut self, done: &VecDeque<Arc<Complete>>, f: &Finding, dur: Duration) {
        let n = self.keep[f.interest];
        let of_type = || self.kept.iter().filter(|k| k.interest == f.interest);
        if of_type().count() >= n {
            let fastest = of_type().map(|k| k.dur).min().unwrap_or_default();
            if dur <= fastest {
                return;
            }
            if let Some(i) = self
                .kept
                .iter()
                .position(|k| k.interest == f.interest && k.dur == fastest)
            {
                self.drop_kept(i);
            }
        }
        let gens: Vec<&Arc<Complete>> =
            done.iter().filter(|g| g.gen.get() >= f.first_gen).collect();
        let (Some(first), Some(last)) = (gens.first(), gens.last()) else {
            return;
        };
        let rank = self.rank(f.interest, dur);
        let extra = self.pins.extra(gens.iter().copied());
        if !self.make_room(extra, rank, Some((f.interest, dur))) {
            return;
        }
        for g in &gens {
            self.pins.pin(g);
        }
        self.kept_version += 1;
        self.kept.push(Kept {
            interest: f.interest,
            task: f.task,
            dur,
            first_gen: first.gen.get(),
            last_gen: last.gen.get(),
        });
    }

    /// The shortest duration that can still matter to retention (0 while
    /// some type has fewer than its `n`).
    pub(crate) fn keep_floor(&self) -> Option<Duration> {
        let mut floor: Option<Duration> = None;
        for (interest, &n) in self.keep.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let durs = self.kept.iter().filter(|k| k.interest == interest);
            let min = if durs.clone().count() < n {
                Duration::ZERO
            } else {
                durs.map(|k| k.dur).min().unwrap_or_default()
            };
            floor = Some(floor.map_or(min, |f| f.min(min)));
        }
        floor
    }

    /// The earliest end of an open window the dumper must complete.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.windows
            .iter()
            .filter(|w| !w.blocking && !w.closed)
            .map(|w| w.until)
            .min()
    }

    /// Closes the open windows whose end is `now` or earlier (when no
    /// generation end came to close them).
    pub(crate) fn close_due(&mut self, now: Instant) {
        for w in &mut self.windows {
            if !w.blocking && !w.closed && w.until <= now {
                w.closed = true;
                self.last_closed = Some(now);
            }
        }
    }

    /// Ends every open window at once (`flush_triggers`).
    pub(crate) fn end_now(&mut self, now: Instant) {
        for w in &mut self.windows {
            if !w.blocking && !w.closed {
                w.until = w.until.min(now);
            }
        }
    }

    /// Whether windows are open or not yet written.
    pub(crate) fn has_windows(&self) -> bool {
        self.windows.iter().any(|w| !w.blocking)
    }

    /// Closes every open window for the dumper (the recorder stops).
    pub(crate) fn close_all(&mut self) {
        for w in &mut self.windows {
            w.closed = true;
        }
    }

    /// The closed windows for the dumper, still pinned until
    /// [`release`](Retention::release).
    pub(crate) fn take_closed(&mut self) -> Vec<Dump> {
        let mut res = Vec::new();
        for w in &mut self.windows {
            if w.closed && !w.taken && !w.blocking {
                w.taken = true;
                res.push(Dump {
                    id: w.id,
                    kind: "window",
                    reasons: w.reasons.clone(),
                    triggers: w.triggers,
                    tasks: w.tasks.clone(),
                    gens: w.gens.clone(),
                });
            }
        }
        res
    }

    /// Whether blocking window `id` is closed.
    pub(crate) fn is_closed(&self, id: u64) -> bool {
        self.windows.iter().all(|w| w.id != id || w.closed)
    }

    /// Closes window `id` and returns its generations.
    pub(crate) fn finish_window(&mut self, id: u64) -> Vec<Arc<Complete>> {
        let gens = self
            .windows
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.gens.clone())
            .unwrap_or_default();
        self.release(id);
        gens
    }

    /// Unpins window `id` (written, or abandoned).
    pub(crate) fn release(&mut self, id: u64) {
        if let Some(i) = self.windows.iter().position(|w| w.id == id) {
            let w = self.windows.remove(i);
            for g in &w.gens {
                self.pins.unpin(g.gen.get());
            }
        }
    }

    /// The kept entries as dumps: entries whose generations overlap share
    /// one. Ids are new; the entries stay kept.
    pub(crate) fn kept_dumps(&mut self) -> Vec<Dump> {
        let mut kept = self.kept.clone();
        kept.sort_by_key(|k| k.first_gen);
        let mut res: Vec<Dump> = Vec::new();
        let mut last_gen = 0;
        for k in kept {
            let name = &self.interests[k.interest].name;
            let what = if self.interests[k.interest].kind == Kind::Region {
                "region"
            } else {
                "task"
            };
            let reason = format!("slowest {what} {name:?}: {:.1?}", k.dur);
            match res.last_mut() {
                Some(d) if k.first_gen <= last_gen => {
                    d.reasons.push(reason);
                    d.triggers += 1;
                    d.tasks.push(k.task);
                    if k.last_gen > last_gen {
                        d.gens.extend(self.pins.range(last_gen + 1, k.last_gen));
                        last_gen = k.last_gen;
                    }
                }
                _ => {
                    res.push(Dump {
                        id: self.next_id,
                        kind: "slowest",
                        reasons: vec![reason],
                        triggers: 1,
                        tasks: vec![k.task],
                        gens: self.pins.range(k.first_gen, k.last_gen),
                    });
                    self.next_id += 1;
                    last_gen = k.last_gen;
                }
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{Blocks, Pool};
    use crate::triggers::KeepSlowest;

    fn complete(n: u64, size: usize) -> Arc<Complete> {
        let mut data = Blocks::new(Arc::new(Pool::new(4)));
        data.extend(&vec![0; size]);
        let now = Instant::now();
        Arc::new(Complete {
            gen: trace_runtime::Generation::new(n).unwrap(),
            format: trace_runtime::Format::default(),
            started: now,
            ended: now,
            data,
        })
    }

    /// A task of interest `interest` that took `ms`, begun in `gen`.
    fn slow(interest: usize, ms: u64, gen: u64) -> Evaluated {
        let f = Finding {
            interest,
            task: gen * 100 + ms,
            ticks: 0,
            first_gen: gen,
            at: 0,
        };
        (f, Duration::from_millis(ms), Instant::now(), Vec::new())
    }

    #[test]
    fn the_slowest_are_kept_by_rank_within_the_budget() {
        let mut config = TriggerConfig::new("");
        config.keep_slowest = vec![KeepSlowest::tasks("a", 2), KeepSlowest::tasks("b", 2)];
        let watch = Watch::new(&config);
        // Room for two generations of 100 kB.
        let mut r = Retention::new(250_000, Some(&config), Some(&watch));
        let mut done = VecDeque::new();
        let mut step = |r: &mut Retention, n: u64, findings: Vec<Evaluated>| {
            let g = complete(n, 100_000);
            done.push_back(g.clone());
            r.on_generation_end(&done, &g, Instant::now(), findings);
            let mut kept: Vec<(usize, u64)> = r
                .kept
                .iter()
                .map(|k| (k.interest, k.dur.as_millis() as u64))
                .collect();
            kept.sort();
            kept
        };
        assert_eq!(step(&mut r, 1, vec![slow(0, 10, 1)]), [(0, 10)]);
        assert_eq!(step(&mut r, 2, vec![slow(1, 5, 2)]), [(0, 10), (1, 5)]);
        // A slower "a" takes the place of the other "a" (now second of its
        // type), not of the slowest "b".
        assert_eq!(step(&mut r, 3, vec![slow(0, 20, 3)]), [(0, 20), (1, 5)]);
        // A faster "a" would be second of its type, below both firsts: no
        // room for it.
        assert_eq!(step(&mut r, 4, vec![slow(0, 15, 4)]), [(0, 20), (1, 5)]);
        assert_eq!(r.pinned_bytes(), 200_000);
        // The dumps: one per kept entry here (no overlap), oldest first.
        let dumps = r.kept_dumps();
        let gens: Vec<u64> = dumps.iter().map(|d| d.gens[0].gen.get()).collect();
        assert_eq!(gens, [2, 3]);
        assert!(dumps[0].reasons[0].starts_with("slowest task \"b\""));
    }
}
