//! Time-window queries with decimation.
//!
//! A query asks for what lies in `[t0, t1)` at a resolution `res`
//! (nanoseconds per pixel, roughly). Slices at least `res` long come back as
//! they are; runs of shorter ones are merged into blocks about `res` wide
//! that carry the number of slices merged and the kind that covers most of
//! the block. So the answer for a row has at most about `(t1 - t0) / res`
//! blocks however many slices the row holds, and finding the window is two
//! binary searches: a 100 MB trace answers as fast as a small one.
//!
//! The page applies the same rules to embedded data (see `web/src/data.ts`).

use crate::model::{Mark, Series, Slice};

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

/// The slices of `row` (sorted, not overlapping) that overlap `[t0, t1)`,
/// decimated at `res` (0: none), appended to `out`.
pub fn decimate_row(row: &[Slice], t0: i64, t1: i64, res: i64, out: &mut Vec<Item>) {
    let first = row.partition_point(|s| s.end < t0 || (s.end == t0 && s.start < t0));
    let last = row.partition_point(|s| s.start < t1);
    let mut group: Option<Group> = None;
    for s in row.get(first..last).unwrap_or(&[]) {
        let dur = s.end - s.start;
        if res > 0 && dur < res {
            if let Some(g) = &mut group {
                if s.start - g.end < res && g.end - g.start < res {
                    g.end = g.end.max(s.end);
                    g.count += 1;
                    g.weight[s.kind.code() as usize % KINDS] += dur;
                    continue;
                }
                out.push(g.item());
            }
            group = Some(Group::new(s));
        } else {
            if let Some(g) = group.take() {
                out.push(g.item());
            }
            out.push(Item {
                slice: *s,
                count: 1,
            });
        }
    }
    if let Some(g) = group {
        out.push(g.item());
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
pub fn decimate_series(s: &Series, t0: i64, t1: i64, res: i64) -> Vec<Quad> {
    let mut out: Vec<Quad> = Vec::new();
    let first = s.times.partition_point(|&t| t <= t0).saturating_sub(1);
    let last = (s.times.partition_point(|&t| t <= t1) + 1).min(s.times.len());
    let res = res.max(1);
    let mut bucket = i64::MIN;
    for i in first..last {
        let (t, v) = (s.times[i], s.values[i]);
        let b = (t - t0).div_euclid(res);
        match out.last_mut() {
            Some(q) if b == bucket => {
                q.min = q.min.min(v);
                q.max = q.max.max(v);
                q.last = v;
            }
            _ => {
                bucket = b;
                out.push(Quad {
                    time: t,
                    min: v,
                    max: v,
                    last: v,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SliceKind;

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

    #[test]
    fn marks_thin_out() {
        let marks: Vec<Mark> = (0..100)
            .map(|i| Mark {
                time: i,
                task: 0,
                category: 0,
                message: 0,
                stack: 0,
                kind: crate::model::MarkKind::Log,
            })
            .collect();
        let mut out = Vec::new();
        decimate_marks(&marks, 10, 60, 10, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(out.iter().map(|m| m.count).sum::<u32>(), 50);
    }

    #[test]
    fn series_keeps_envelope() {
        let series = Series {
            name: String::new(),
            times: (0..100).collect(),
            values: (0..100).map(|i| (i * 7 % 13) as u64).collect(),
        };
        let q = decimate_series(&series, 10, 50, 10);
        assert_eq!(q.first().map(|q| q.time), Some(10));
        assert!(q.len() <= 6);
        assert!(q.iter().any(|q| q.max == 12));
        let all = decimate_series(&series, 10, 50, 0);
        assert_eq!(all.len(), 42);
    }
}
