//! Time-window queries with decimation.
//!
//! A query asks for what lies in `[t0, t1)` at a resolution `res`
//! (nanoseconds per pixel, roughly). Slices at least `res` long come back as
//! they are; runs of shorter ones are merged into blocks about `res` wide
//! that carry the number of slices merged and the kind that covers most of
//! the block. So the answer for a row has at most about `(t1 - t0) / res`
//! blocks however many slices the row holds, and finding the window is a
//! binary search over the row's block directory.
//!
//! A [`Row`] keeps its slices in blocks of up to 128 (see [`Row`]); a block
//! shorter than the resolution, all of whose slices are shorter too, would
//! be merged whole, so [`decimate`] merges it from its directory entry
//! without reading it: a zoomed-out window costs about one block per pixel
//! however many slices the row holds. (The blocks then merge as units, so
//! where one merged block ends may differ from merging slice by slice.)
//!
//! The page applies the same rules to embedded data (see `web/src/data.ts`).

use std::io;

use crate::model::{Mark, Series, Slice};
use crate::store::{overlaps, BlockMeta, Row};

/// A slice of a query's answer: a slice of the timeline (`count == 1`), or
/// `count` short slices merged (then only `start`, `end` and `kind`, the
/// dominant kind, are meaningful).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// The slice (or the merged block).
    pub slice: Slice,
    /// How many slices it stands for.
    pub count: u32,
}

/// A mark of a query's answer, standing for `count` marks close together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkItem {
    /// The first of the marks.
    pub mark: Mark,
    /// How many marks it stands for.
    pub count: u32,
}

/// A point of a decimated series: over a bucket starting at `time`, the
/// minimum, maximum and final value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quad {
    /// The time of the bucket's first point.
    pub time: i64,
    /// The smallest value in the bucket.
    pub min: u64,
    /// The largest value in the bucket.
    pub max: u64,
    /// The value at the end of the bucket.
    pub last: u64,
}

const KINDS: usize = 11;

struct Group {
    start: i64,
    end: i64,
    count: u32,
    weight: [i64; KINDS],
    first: Slice,
}

impl Group {
    fn new(s: &Slice) -> Self {
        let mut weight = [0; KINDS];
        weight[s.kind.code() as usize % KINDS] = s.end - s.start;
        Group {
            start: s.start,
            end: s.end,
            count: 1,
            weight,
            first: *s,
        }
    }

    fn item(&self) -> Item {
        if self.count == 1 {
            return Item {
                slice: self.first,
                count: 1,
            };
        }
        let mut best = 0;
        for k in 0..KINDS {
            if self.weight[k] > self.weight[best] {
                best = k;
            }
        }
        let kind = crate::model::SliceKind::from_code(best as u8).unwrap_or(self.first.kind);
        Item {
            slice: Slice {
                start: self.start,
                end: self.end,
                extra: 0,
                arg: 0,
                stack0: 0,
                stack1: 0,
                kind,
            },
            count: self.count,
        }
    }
}

/// Merges a row's short slices, in order, into groups about `res` wide.
struct Merger<'a> {
    res: i64,
    group: Option<Group>,
    out: &'a mut Vec<Item>,
}

impl Merger<'_> {
    fn slice(&mut self, s: &Slice) {
        let dur = s.end - s.start;
        if self.res > 0 && dur < self.res {
            self.short(Group::new(s));
        } else {
            if let Some(g) = self.group.take() {
                self.out.push(g.item());
            }
            self.out.push(Item {
                slice: *s,
                count: 1,
            });
        }
    }

    /// A run of short slices (one, or a whole block).
    fn short(&mut self, unit: Group) {
        if let Some(g) = &mut self.group {
            if joins(g.start, g.end, unit.start, self.res) {
                g.end = g.end.max(unit.end);
                g.count += unit.count;
                for (w, u) in g.weight.iter_mut().zip(unit.weight) {
                    *w += u;
                }
                return;
            }
            self.out.push(g.item());
        }
        self.group = Some(unit);
    }

    /// A block whose slices are all shorter than the resolution, within the
    /// window.
    fn block(&mut self, b: &BlockMeta) {
        let mut weight = [0; KINDS];
        let mut kind = crate::model::SliceKind::Running;
        let mut best = -1;
        for (k, w) in b.kind_weights() {
            weight[k.code() as usize % KINDS] += w;
            if w > best {
                (kind, best) = (k, w);
            }
        }
        self.short(Group {
            start: b.start,
            end: b.end,
            count: b.count,
            weight,
            first: Slice {
                start: b.start,
                end: b.end,
                extra: 0,
                arg: 0,
                stack0: 0,
                stack1: 0,
                kind,
            },
        });
    }

    fn finish(self) {
        if let Some(g) = self.group {
            self.out.push(g.item());
        }
    }
}

/// Whether a unit starting at `start` joins the group `[g0, g1)` at `res`:
/// it begins within `res` of the group's end, and the group is still
/// narrower than `res`.
fn joins(g0: i64, g1: i64, start: i64, res: i64) -> bool {
    start - g1 < res && g1 - g0 < res
}

/// Whether block `b` merges as a unit at `res` over `[t0, t1)` (from its
/// directory entry, unread): more than one slice, all of them and the block
/// shorter than `res`, all inside the window.
fn merges_whole(b: &BlockMeta, t0: i64, t1: i64, res: i64) -> bool {
    res > 0
        && b.count > 1
        && b.max_dur < res
        && b.end.saturating_sub(b.start) < res
        && b.start >= t0
        && b.end < t1
}

/// The slices of `row` (sorted, not overlapping) that overlap `[t0, t1)`,
/// decimated at `res` (0: none), appended to `out`.
pub fn decimate_row(row: &[Slice], t0: i64, t1: i64, res: i64, out: &mut Vec<Item>) {
    let first = row.partition_point(|s| s.end < t0 || (s.end == t0 && s.start < t0));
    let last = row.partition_point(|s| s.start < t1);
    let mut m = Merger {
        res,
        group: None,
        out,
    };
    for s in row.get(first..last).unwrap_or(&[]) {
        m.slice(s);
    }
    m.finish();
}

/// [`decimate_row`] over a stored row: reads only the blocks it must (see
/// the module's documentation).
pub fn decimate(row: &Row, t0: i64, t1: i64, res: i64, out: &mut Vec<Item>) -> io::Result<()> {
    let mut m = Merger {
        res,
        group: None,
        out,
    };
    let (mut buf, mut slices) = (Vec::new(), Vec::new());
    for i in row.blocks_in(t0, t1) {
        let b = &row.blocks()[i];
        if merges_whole(b, t0, t1, res) {
            m.block(b);
            continue;
        }
        row.read_block(i, &mut buf, &mut slices)?;
        for s in slices.iter().filter(|s| overlaps(s, t0, t1)) {
            m.slice(s);
        }
    }
    m.finish();
    Ok(())
}

/// How many items [`decimate`] would give for `row` over `[t0, t1)` at each
/// resolution of `res`, added to `counts` (`counts[i]` for `res[i]`),
/// reading each block of the row once for all of them.
///
/// Counting follows [`Merger`]'s rules exactly (a test holds the two
/// together) without building the items, so choosing a resolution for a
/// budget of items costs one pass over the rows, not one per resolution
/// tried.
pub fn count_decimated(
    row: &Row,
    t0: i64,
    t1: i64,
    res: &[i64],
    counts: &mut [usize],
) -> io::Result<()> {
    let mut counters: Vec<Counter> = res.iter().map(|&r| Counter::new(r)).collect();
    let mut whole = vec![false; res.len()];
    let (mut buf, mut slices) = (Vec::new(), Vec::new());
    for i in row.blocks_in(t0, t1) {
        let b = &row.blocks()[i];
        let mut read = false;
        for ((c, w), &r) in counters.iter_mut().zip(&mut whole).zip(res) {
            *w = merges_whole(b, t0, t1, r);
            if *w {
                c.short(b.start, b.end);
            } else {
                read = true;
            }
        }
        if !read {
            continue;
        }
        row.read_block(i, &mut buf, &mut slices)?;
        slices.retain(|s| overlaps(s, t0, t1));
        for (c, _) in counters.iter_mut().zip(&whole).filter(|(_, w)| !**w) {
            for s in &slices {
                c.slice(s.start, s.end);
            }
        }
    }
    for (n, c) in counts.iter_mut().zip(counters) {
        *n += c.finish();
    }
    Ok(())
}

/// How many items [`decimate_marks`] would give for `marks` over `[t0, t1)`
/// at `res`.
pub fn count_decimated_marks(marks: &[Mark], t0: i64, t1: i64, res: i64) -> usize {
    let first = marks.partition_point(|m| m.time < t0);
    let last = marks.partition_point(|m| m.time < t1);
    let mut n = 0;
    let mut cur: Option<i64> = None;
    for m in marks.get(first..last).unwrap_or(&[]) {
        match cur {
            Some(t) if m.time - t < res => {}
            _ => {
                n += 1;
                cur = Some(m.time);
            }
        }
    }
    n
}

/// [`Merger`] reduced to the number of items it would give.
struct Counter {
    res: i64,
    /// The span of the group being merged.
    group: Option<(i64, i64)>,
    n: usize,
}

impl Counter {
    fn new(res: i64) -> Self {
        Counter {
            res,
            group: None,
            n: 0,
        }
    }

    fn slice(&mut self, start: i64, end: i64) {
        if self.res > 0 && end - start < self.res {
            self.short(start, end);
        } else {
            self.n += usize::from(self.group.take().is_some()) + 1;
        }
    }

    fn short(&mut self, start: i64, end: i64) {
        if let Some((g0, g1)) = &mut self.group {
            if joins(*g0, *g1, start, self.res) {
                *g1 = (*g1).max(end);
                return;
            }
            self.n += 1;
        }
        self.group = Some((start, end));
    }

    fn finish(self) -> usize {
        self.n + usize::from(self.group.is_some())
    }
}

/// The marks (sorted by time) in `[t0, t1)`, one per `res` at most,
/// appended to `out`.
pub fn decimate_marks(marks: &[Mark], t0: i64, t1: i64, res: i64, out: &mut Vec<MarkItem>) {
    let first = marks.partition_point(|m| m.time < t0);
    let last = marks.partition_point(|m| m.time < t1);
    let mut cur: Option<MarkItem> = None;
    for m in marks.get(first..last).unwrap_or(&[]) {
        if let Some(c) = &mut cur {
            if m.time - c.mark.time < res {
                c.count += 1;
                continue;
            }
            out.push(*c);
        }
        cur = Some(MarkItem { mark: *m, count: 1 });
    }
    out.extend(cur);
}

/// The points of a step series over `[t0, t1]`: the one in effect at `t0`,
/// every one inside, and the first after `t1`, bucketed by `res` (0: one
/// bucket per point).
///
/// A block of points (see [`Points`](crate::Points)) within one bucket is
/// taken from its directory entry (first time, smallest, largest and last
/// value) without being read: the answer is the same, and a zoomed-out
/// chart reads about two blocks per bucket at most.
pub fn decimate_series(s: &Series, t0: i64, t1: i64, res: i64) -> io::Result<Vec<Quad>> {
    let p = &s.points;
    let mut out: Vec<Quad> = Vec::new();
    let first = p.count_by(t0)?.saturating_sub(1);
    let last = (p.count_by(t1)? + 1).min(p.len() as u64);
    let res = res.max(1);
    let mut bucket = i64::MIN;
    let mut add = |time: i64, min: u64, max: u64, last: u64| {
        let b = time.wrapping_sub(t0).div_euclid(res);
        match out.last_mut() {
            Some(q) if b == bucket => {
                q.min = q.min.min(min);
                q.max = q.max.max(max);
                q.last = last;
            }
            _ => {
                bucket = b;
                out.push(Quad {
                    time,
                    min,
                    max,
                    last,
                });
            }
        }
    };
    let (mut buf, mut pts) = (Vec::new(), Vec::new());
    let blocks = p.blocks();
    let from = blocks.partition_point(|b| b.first + u64::from(b.count) <= first);
    for (i, b) in blocks.iter().enumerate().skip(from) {
        if b.first >= last {
            break;
        }
        let inside = b.first >= first && b.first + u64::from(b.count) <= last;
        let one_bucket =
            b.t0.wrapping_sub(t0).div_euclid(res) == b.t1.wrapping_sub(t0).div_euclid(res);
        if inside && one_bucket {
            add(b.t0, b.min, b.max, b.last);
            continue;
        }
        p.read_block(i, &mut buf, &mut pts)?;
        for (j, &(t, v)) in pts.iter().enumerate() {
            let at = b.first + j as u64;
            if (first..last).contains(&at) {
                add(t, v, v, v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SliceKind;
    use crate::Row;

    fn s(start: i64, end: i64, kind: SliceKind) -> Slice {
        Slice {
            start,
            end,
            extra: 7,
            arg: 3,
            stack0: 1,
            stack1: 2,
            kind,
        }
    }

    fn log(time: i64) -> Mark {
        Mark {
            time,
            task: 0,
            category: 0,
            message: 0,
            stack: 0,
            kind: crate::model::MarkKind::Log,
        }
    }

    fn run(row: &[Slice], t0: i64, t1: i64, res: i64) -> Vec<Item> {
        let mut out = Vec::new();
        decimate_row(row, t0, t1, res, &mut out);
        out
    }

    #[test]
    fn window_selects_overlapping() {
        let row = [
            s(0, 10, SliceKind::Running),
            s(10, 20, SliceKind::Waiting),
            s(30, 40, SliceKind::Running),
        ];
        let got: Vec<i64> = run(&row, 15, 31, 0).iter().map(|i| i.slice.start).collect();
        assert_eq!(got, vec![10, 30]);
        assert!(run(&row, 20, 30, 0).is_empty());
        assert_eq!(run(&row, -5, 100, 0).len(), 3);
    }

    #[test]
    fn short_slices_merge_into_blocks_about_res_wide() {
        // 1000 slices of 1 ns every 2 ns, mostly running.
        let row: Vec<Slice> = (0..1000)
            .map(|i| {
                let k = if i % 4 == 0 {
                    SliceKind::Waiting
                } else {
                    SliceKind::Running
                };
                s(i * 2, i * 2 + 1, k)
            })
            .collect();
        let out = run(&row, 0, 2000, 100);
        assert!(out.len() <= 21, "{}", out.len());
        assert_eq!(out.iter().map(|i| i.count as usize).sum::<usize>(), 1000);
        assert!(out.iter().all(|i| i.slice.kind == SliceKind::Running));
        assert!(out.iter().all(|i| i.slice.stack0 == 0));
        for w in out.windows(2) {
            assert!(w[0].slice.end <= w[1].slice.start);
        }
    }

    #[test]
    fn long_slices_and_lone_short_ones_stay_whole() {
        let row = [
            s(0, 1, SliceKind::Running),
            s(500, 1000, SliceKind::Waiting),
            s(1000, 1001, SliceKind::Running),
        ];
        let out = run(&row, 0, 2000, 100);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|i| i.count == 1 && i.slice.extra == 7));
    }

    /// A stored row answers as the slices do: the same at full detail;
    /// when merging, the same long slices, every short one counted once,
    /// nothing overlapping, and about as many items.
    #[test]
    fn stored_rows_decimate_like_slices() {
        let mut row = Vec::new();
        let mut t = 0;
        for i in 0..20_000i64 {
            let dur = match i % 997 {
                0 => 50_000,
                n if n % 3 == 0 => 7,
                _ => 1 + i % 5,
            };
            let kind = SliceKind::from_code((i % 4 + 1) as u8).unwrap();
            row.push(s(t, t + dur, kind));
            t += dur + i % 3;
        }
        let stored = Row::from_slices(&row);
        for (t0, t1, res) in [
            (0, t, 0),
            (12_345, 400_000, 0),
            (0, t, 1000),
            (0, t, 40),
            (-5, t + 5, 100_000),
            (77_777, 1_234_567, 300),
        ] {
            let (mut want, mut got) = (Vec::new(), Vec::new());
            decimate_row(&row, t0, t1, res, &mut want);
            decimate(&stored, t0, t1, res, &mut got).unwrap();
            if res == 0 {
                assert_eq!(got, want);
                continue;
            }
            let count = |v: &[Item]| v.iter().map(|i| u64::from(i.count)).sum::<u64>();
            assert_eq!(count(&got), count(&want), "{t0} {t1} {res}");
            let long = |v: &[Item]| -> Vec<Slice> {
                v.iter()
                    .filter(|i| i.count == 1 && i.slice.end - i.slice.start >= res)
                    .map(|i| i.slice)
                    .collect()
            };
            assert_eq!(long(&got), long(&want), "{t0} {t1} {res}");
            for w in got.windows(2) {
                assert!(w[0].slice.end <= w[1].slice.start, "{w:?}");
            }
            assert!(
                got.len() <= 2 * want.len() + 2,
                "{} vs {}",
                got.len(),
                want.len()
            );
        }
    }

    /// Counting gives exactly as many items as decimating, for every
    /// resolution at once, over windows that cut blocks and over a row whose
    /// blocks merge whole.
    #[test]
    fn counts_are_the_lengths_of_the_answers() {
        let mut row = Vec::new();
        let mut t = 0;
        for i in 0..9_000i64 {
            let dur = match i % 611 {
                0 => 90_000,
                n if n % 5 == 0 => 0,
                n if n % 3 == 0 => 13,
                _ => 1 + i % 7,
            };
            let kind = SliceKind::from_code((i % 4 + 1) as u8).unwrap();
            row.push(s(t, t + dur, kind));
            t += dur + i % 4 * (1 + i % 50);
        }
        let stored = Row::from_slices(&row);
        let res: Vec<i64> = [0].into_iter().chain((0..24).map(|k| 1i64 << k)).collect();
        for (t0, t1) in [(0, t + 1), (5_000, 700_000), (-10, 33), (t / 2, t / 2)] {
            let mut counts = vec![0; res.len()];
            count_decimated(&stored, t0, t1, &res, &mut counts).unwrap();
            for (&r, &n) in res.iter().zip(&counts) {
                let mut got = Vec::new();
                decimate(&stored, t0, t1, r, &mut got).unwrap();
                assert_eq!(n, got.len(), "[{t0}, {t1}) at {r}");
            }
        }
        let marks: Vec<Mark> = row.iter().step_by(3).map(|x| log(x.start)).collect();
        for &r in &res {
            let mut got = Vec::new();
            decimate_marks(&marks, 100, t - 100, r, &mut got);
            assert_eq!(count_decimated_marks(&marks, 100, t - 100, r), got.len());
        }
    }

    #[test]
    fn marks_thin_out() {
        let marks: Vec<Mark> = (0..100).map(log).collect();
        let mut out = Vec::new();
        decimate_marks(&marks, 10, 60, 10, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(out.iter().map(|m| m.count).sum::<u32>(), 50);
    }

    #[test]
    fn series_keeps_envelope() {
        let series = Series {
            name: String::new(),
            points: crate::Points::from_points(
                &(0..100)
                    .map(|i| (i, (i * 7 % 13) as u64))
                    .collect::<Vec<_>>(),
            ),
        };
        let q = decimate_series(&series, 10, 50, 10).unwrap();
        assert_eq!(q.first().map(|q| q.time), Some(10));
        assert!(q.len() <= 6);
        assert!(q.iter().any(|q| q.max == 12));
        let all = decimate_series(&series, 10, 50, 0).unwrap();
        assert_eq!(all.len(), 42);
    }
}
