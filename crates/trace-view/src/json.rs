//! The JSON the page reads: the timeline's outline, windows of slices,
//! charts and stacks.
//!
//! Slices and marks are flat arrays of numbers (a fixed number per item) to
//! keep answers small and quick to parse:
//!
//! * a slice: `start, end, kind, arg, extra, stack0, stack1, count`
//!   (see [`Slice`](crate::Slice); `count > 1` for a merged block);
//! * a mark: `time, kind, category, message, task, stack, count`;
//! * a chart point: `time, min, max, last` (see [`Quad`]).
//!
//! Strings are referred to by id; each answer carries the strings it uses
//! in a `strings` object (id → text). Times are nanoseconds since the first
//! event. Every `<`, `>` and `&` in a string is escaped, so the JSON may be
//! put inside a `<script>` element as it is.

use std::fmt::Write as _;
use std::io;

use hashbrown::HashSet;

use crate::flame::{ChainStep, Flame, Selection, NO_STACK};
use crate::model::{LaneKind, TaskInfo, Timeline, NO_LANE};
use crate::query::{
    count_decimated, count_decimated_marks, decimate, decimate_marks, decimate_series, Item,
    MarkItem, Quad,
};

/// Most lanes one window request may ask for.
pub const MAX_LANES_PER_QUERY: usize = 4096;

/// A window request: lanes, time range, resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowQuery {
    /// Lane indices.
    pub lanes: Vec<usize>,
    /// Start of the window (ns since the first event).
    pub t0: i64,
    /// End of the window.
    pub t1: i64,
    /// Resolution: slices shorter than this are merged (0: none).
    pub res: i64,
}

/// The most items of one task's details lists the offline page embeds.
const EMBED_TASK_LIST: usize = 64;

/// The most task details items (logs, regions, children, goroutines) the
/// offline page embeds over all tasks; later tasks have none embedded.
const EMBED_TASK_ITEMS: usize = 200_000;

/// The most CPU samples the offline page embeds (all of them, or none).
const EMBED_SAMPLES: usize = 500_000;

/// A small JSON writer over a `String`.
#[derive(Debug, Default)]
pub(crate) struct Json {
    pub(crate) out: String,
}

impl Json {
    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.out.push_str(s);
        self
    }

    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        let _ = write!(self.out, "{v}");
        self
    }

    pub(crate) fn uint(&mut self, v: u64) -> &mut Self {
        let _ = write!(self.out, "{v}");
        self
    }

    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
        self
    }

    /// A number from 0 to 1, with six decimals (0 if not finite).
    fn fraction(&mut self, v: f64) -> &mut Self {
        let v = if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let _ = write!(self.out, "{v:.6}");
        self
    }

    fn sep(&mut self, first: &mut bool) {
        if !*first {
            self.out.push(',');
        }
        *first = false;
    }
}

/// Collects the strings and stacks an answer refers to.
#[derive(Debug, Default)]
struct Refs {
    strings: HashSet<u32>,
    stacks: HashSet<u32>,
}

impl Refs {
    fn write_strings(&self, tl: &Timeline, j: &mut Json) {
        let mut ids: Vec<u32> = self.strings.iter().copied().filter(|&i| i != 0).collect();
        ids.sort_unstable();
        j.raw("{");
        let mut first = true;
        for id in ids {
            j.sep(&mut first);
            j.str(&id.to_string()).raw(":").str(tl.string(id));
        }
        j.raw("}");
    }
}

fn write_item(j: &mut Json, first: &mut bool, it: &Item, refs: &mut Refs) {
    let s = &it.slice;
    j.sep(first);
    j.int(s.start)
        .raw(",")
        .int(s.end)
        .raw(",")
        .uint(s.kind.code().into());
    j.raw(",").uint(s.arg.into()).raw(",").uint(s.extra);
    j.raw(",")
        .uint(s.stack0.into())
        .raw(",")
        .uint(s.stack1.into());
    j.raw(",").uint(it.count.into());
    refs.strings.insert(s.arg);
    refs.stacks.insert(s.stack0);
    refs.stacks.insert(s.stack1);
}

fn write_mark(j: &mut Json, first: &mut bool, it: &MarkItem, refs: &mut Refs) {
    let m = &it.mark;
    j.sep(first);
    j.int(m.time).raw(",").uint(m.kind as u64);
    j.raw(",")
        .uint(m.category.into())
        .raw(",")
        .uint(m.message.into());
    j.raw(",").uint(m.task).raw(",").uint(m.stack.into());
    j.raw(",").uint(it.count.into());
    refs.strings.insert(m.category);
    refs.strings.insert(m.message);
    refs.stacks.insert(m.stack);
}

fn write_quads(j: &mut Json, quads: &[Quad]) {
    j.raw("[");
    let mut first = true;
    for q in quads {
        j.sep(&mut first);
        j.int(q.time)
            .raw(",")
            .uint(q.min)
            .raw(",")
            .uint(q.max)
            .raw(",")
            .uint(q.last);
    }
    j.raw("]");
}

/// Writes the lanes of a window; returns the number of items written.
fn write_lanes(tl: &Timeline, q: &WindowQuery, j: &mut Json, refs: &mut Refs) -> io::Result<usize> {
    let mut items = Vec::new();
    let mut marks = Vec::new();
    let mut n = 0;
    j.raw("[");
    let mut first_lane = true;
    for &i in &q.lanes {
        let Some(lane) = tl.lanes.get(i) else {
            continue;
        };
        j.sep(&mut first_lane);
        j.raw("{\"i\":").uint(i as u64).raw(",\"rows\":[");
        let mut first_row = true;
        for row in &lane.rows {
            items.clear();
            decimate(row, q.t0, q.t1, q.res, &mut items)?;
            n += items.len();
            j.sep(&mut first_row);
            j.raw("[");
            let mut first = true;
            for it in &items {
                write_item(j, &mut first, it, refs);
            }
            j.raw("]");
        }
        j.raw("],\"marks\":[");
        marks.clear();
        decimate_marks(&lane.marks, q.t0, q.t1, q.res, &mut marks);
        n += marks.len();
        let mut first = true;
        for m in &marks {
            write_mark(j, &mut first, m, refs);
        }
        j.raw("]}");
    }
    j.raw("]");
    Ok(n)
}

/// The answer to a window request:
/// `{"t0","t1","res","lanes":[{"i","rows":[[slice…]…],"marks":[mark…]}…],"strings"}`.
pub fn window_json(tl: &Timeline, q: &WindowQuery) -> io::Result<String> {
    let mut j = Json::default();
    let mut refs = Refs::default();
    j.raw("{\"t0\":").int(q.t0).raw(",\"t1\":").int(q.t1);
    j.raw(",\"res\":").int(q.res).raw(",\"lanes\":");
    write_lanes(tl, q, &mut j, &mut refs)?;
    j.raw(",\"strings\":");
    refs.write_strings(tl, &mut j);
    j.raw("}");
    Ok(j.out)
}

/// The charts over a window: `{"charts":[{"series":[[quad…]…]}…]}`, in the
/// order of the outline's `charts`.
pub fn charts_json(tl: &Timeline, t0: i64, t1: i64, res: i64) -> io::Result<String> {
    let mut j = Json::default();
    j.raw("{\"t0\":")
        .int(t0)
        .raw(",\"t1\":")
        .int(t1)
        .raw(",\"res\":")
        .int(res);
    write_charts(tl, t0, t1, res, &mut j)?;
    j.raw("}");
    Ok(j.out)
}

fn write_charts(tl: &Timeline, t0: i64, t1: i64, res: i64, j: &mut Json) -> io::Result<()> {
    j.raw(",\"charts\":[");
    let mut first = true;
    for c in &tl.charts {
        j.sep(&mut first);
        j.raw("{\"series\":[");
        let mut first_s = true;
        for s in &c.series {
            j.sep(&mut first_s);
            write_quads(j, &decimate_series(s, t0, t1, res)?);
        }
        j.raw("]}");
    }
    j.raw("]");
    Ok(())
}

/// Stacks by id: `{"<id>":[[func,file,line,pc]…]…}` (pc as hex text).
pub fn stacks_json(tl: &Timeline, ids: &[u32]) -> String {
    let mut j = Json::default();
    write_stacks(tl, ids.iter().copied(), &mut j);
    j.out
}

fn write_stacks(tl: &Timeline, ids: impl Iterator<Item = u32>, j: &mut Json) {
    let mut ids: Vec<u32> = ids.filter(|&i| i != 0).collect();
    ids.sort_unstable();
    ids.dedup();
    j.raw("{");
    let mut first = true;
    for id in ids {
        j.sep(&mut first);
        j.str(&id.to_string()).raw(":[");
        let mut first_f = true;
        for f in tl.stack(id) {
            j.sep(&mut first_f);
            j.raw("[")
                .str(f.func)
                .raw(",")
                .str(f.file)
                .raw(",")
                .uint(f.line);
            j.raw(",").str(&format!("{:#x}", f.pc)).raw("]");
        }
        j.raw("]");
    }
    j.raw("}");
}

/// The outline of the timeline: title, span, lanes, charts, tasks.
///
/// A lane: `{"kind","id","name","label","stack","created","rows","slices","marks"}`. A chart:
/// `{"name","unit","series":[names],"max":[max of each series]}`. A task:
/// `[id, parent, type, start, end, goroutine, row, stack0, stack1, regions,
/// logs, end goroutine]` with −1 for an unknown start, end, parent or
/// goroutine.
pub fn meta_json(tl: &Timeline) -> String {
    let mut j = Json::default();
    let mut refs = Refs::default();
    write_meta(tl, &mut j, &mut refs);
    j.raw(",\"strings\":");
    refs.write_strings(tl, &mut j);
    j.raw("}");
    j.out
}

/// Writes the outline without its closing brace (so that more may follow).
fn write_meta(tl: &Timeline, j: &mut Json, refs: &mut Refs) {
    let st = tl.stats;
    j.raw("{\"title\":")
        .str(&tl.title)
        .raw(",\"version\":")
        .str(&tl.version);
    j.raw(",\"base\":")
        .int(tl.base)
        .raw(",\"span\":")
        .int(tl.span);
    j.raw(",\"stats\":{\"events\":").uint(st.events);
    j.raw(",\"slices\":")
        .uint(st.slices)
        .raw(",\"marks\":")
        .uint(st.marks);
    j.raw(",\"stacks\":").uint(st.stacks);
    j.raw(",\"samples\":").uint(st.samples).raw("}");
    j.raw(",\"lanes\":[");
    let mut first = true;
    for l in &tl.lanes {
        j.sep(&mut first);
        j.raw("{\"kind\":")
            .str(l.kind.name())
            .raw(",\"id\":")
            .int(l.kind.id());
        j.raw(",\"name\":")
            .str(&l.name)
            .raw(",\"label\":")
            .str(&l.label);
        j.raw(",\"stack\":").uint(l.stack.into());
        j.raw(",\"created\":")
            .raw(if l.created { "true" } else { "false" });
        j.raw(",\"rows\":").uint(l.rows.len() as u64);
        j.raw(",\"slices\":").uint(l.slice_count() as u64);
        j.raw(",\"marks\":").uint(l.marks.len() as u64).raw("}");
    }
    j.raw("],\"charts\":[");
    let mut first = true;
    for c in &tl.charts {
        j.sep(&mut first);
        j.raw("{\"name\":")
            .str(&c.name)
            .raw(",\"unit\":")
            .str(c.unit);
        j.raw(",\"series\":[");
        let mut f = true;
        for s in &c.series {
            j.sep(&mut f);
            j.str(&s.name);
        }
        j.raw("],\"max\":[");
        let mut f = true;
        for s in &c.series {
            j.sep(&mut f);
            j.uint(s.points.max());
        }
        j.raw("]}");
    }
    j.raw("],\"doctor\":");
    write_doctor(tl, j);
    j.raw(",\"mmu\":");
    write_mmu(tl, j);
    j.raw(",\"tasks\":[");
    let mut first = true;
    for t in &tl.tasks {
        j.sep(&mut first);
        write_task_tuple(t, j, refs);
    }
    j.raw("]");
}

/// The trace doctor's verdict: `{"ok","line","findings":[text…]}`.
fn write_doctor(tl: &Timeline, j: &mut Json) {
    let d = &tl.diagnosis;
    j.raw("{\"ok\":")
        .raw(if d.is_healthy() { "true" } else { "false" });
    j.raw(",\"line\":")
        .str(&d.to_string())
        .raw(",\"findings\":[");
    let mut first = true;
    for f in &d.findings {
        j.sep(&mut first);
        j.str(&f.to_string());
    }
    j.raw("]}");
}

/// The MMU curve: `{"windows":[ns…],"values":[0..1…],"mean","steps"}`.
pub fn mmu_json(tl: &Timeline) -> String {
    let mut j = Json::default();
    write_mmu(tl, &mut j);
    j.out
}

fn write_mmu(tl: &Timeline, j: &mut Json) {
    let m = &tl.mmu;
    j.raw("{\"windows\":[");
    let mut first = true;
    for &w in &m.windows {
        j.sep(&mut first);
        j.int(w);
    }
    j.raw("],\"values\":[");
    let mut first = true;
    for &v in &m.values {
        j.sep(&mut first);
        j.fraction(v);
    }
    j.raw("],\"mean\":");
    j.fraction(m.mean);
    j.raw(",\"steps\":").uint(m.steps).raw("}");
}

/// A task as the outline lists it.
fn write_task_tuple(t: &TaskInfo, j: &mut Json, refs: &mut Refs) {
    j.raw("[").uint(t.id).raw(",");
    if t.parent == u64::MAX {
        j.raw("-1");
    } else {
        j.uint(t.parent);
    }
    j.raw(",").uint(t.ty.into());
    j.raw(",")
        .int(t.start.unwrap_or(-1))
        .raw(",")
        .int(t.end.unwrap_or(-1));
    j.raw(",").int(t.goroutine).raw(",").uint(t.row.into());
    j.raw(",")
        .uint(t.stack0.into())
        .raw(",")
        .uint(t.stack1.into());
    j.raw(",")
        .uint(t.regions.into())
        .raw(",")
        .uint(t.logs.into());
    j.raw(",").int(t.end_goroutine).raw("]");
    refs.strings.insert(t.ty);
}

/// The details of the task with id `id`, `None` if there is no such task:
/// `{"task":[task],"logs":[[time,category,message,goroutine,stack]…],
/// "regions":[[start,end,type,goroutine,stack0,stack1]…],
/// "children":[[task]…],"goroutines":[id…],"nLogs","nRegions","nChildren",
/// "nGoroutines","strings"}`, each list the earliest
/// [`MAX_TASK_ITEMS`](crate::MAX_TASK_ITEMS) at most (the `n…` fields
/// count them all); a goroutine of −1 is a log off any goroutine.
pub fn task_json(tl: &Timeline, id: u64) -> io::Result<Option<String>> {
    let Some(i) = tl.task_index(id) else {
        return Ok(None);
    };
    let mut j = Json::default();
    let mut refs = Refs::default();
    if write_task_detail(tl, i, usize::MAX, &mut j, &mut refs)?.is_none() {
        return Ok(None);
    }
    j.out.pop();
    j.raw(",\"strings\":");
    refs.write_strings(tl, &mut j);
    j.raw("}");
    Ok(Some(j.out))
}

/// Writes the details object of `tl.tasks[i]`, at most `cap` items per list;
/// returns the number of items written.
fn write_task_detail(
    tl: &Timeline,
    i: usize,
    cap: usize,
    j: &mut Json,
    refs: &mut Refs,
) -> io::Result<Option<usize>> {
    let (Some(t), Some(d)) = (tl.tasks.get(i), tl.task_details.get(i)) else {
        return Ok(None);
    };
    let mut n = 0;
    j.raw("{\"task\":");
    write_task_tuple(t, j, refs);
    j.raw(",\"logs\":[");
    let mut first = true;
    for &(lane, mark) in d.logs.iter().take(cap) {
        let Some(l) = tl.lanes.get(lane as usize) else {
            continue;
        };
        let Some(m) = l.marks.get(mark as usize) else {
            continue;
        };
        let g = match l.kind {
            LaneKind::Goroutine(g) => g,
            _ => -1,
        };
        j.sep(&mut first);
        j.raw("[").int(m.time).raw(",").uint(m.category.into());
        j.raw(",").uint(m.message.into()).raw(",").int(g);
        j.raw(",").uint(m.stack.into()).raw("]");
        refs.strings.insert(m.category);
        refs.strings.insert(m.message);
        refs.stacks.insert(m.stack);
        n += 1;
    }
    j.raw("],\"regions\":[");
    let mut first = true;
    for &(lane, row, idx) in d.regions.iter().take(cap) {
        let Some(l) = tl.lanes.get(lane as usize) else {
            continue;
        };
        let Some(r) = l.rows.get(row as usize) else {
            continue;
        };
        let Some(s) = r.get(idx as usize)? else {
            continue;
        };
        j.sep(&mut first);
        j.raw("[").int(s.start).raw(",").int(s.end);
        j.raw(",").uint(s.arg.into()).raw(",").int(l.kind.id());
        j.raw(",").uint(s.stack0.into());
        j.raw(",").uint(s.stack1.into()).raw("]");
        refs.strings.insert(s.arg);
        refs.stacks.insert(s.stack0);
        refs.stacks.insert(s.stack1);
        n += 1;
    }
    j.raw("],\"children\":[");
    let mut first = true;
    for &c in d.children.iter().take(cap) {
        let Some(c) = tl.tasks.get(c as usize) else {
            continue;
        };
        j.sep(&mut first);
        write_task_tuple(c, j, refs);
        n += 1;
    }
    j.raw("],\"goroutines\":[");
    let mut first = true;
    for &g in d.goroutines.iter().take(cap) {
        j.sep(&mut first);
        j.int(g);
        n += 1;
    }
    j.raw("],\"nLogs\":").uint(t.logs.into());
    j.raw(",\"nRegions\":").uint(t.regions.into());
    j.raw(",\"nChildren\":").uint(d.n_children.into());
    j.raw(",\"nGoroutines\":").uint(d.n_goroutines.into());
    j.raw("}");
    Ok(Some(n))
}

/// Everything the page needs without a server, for `--html`: the outline,
/// every lane over the whole trace, the charts, and the strings and stacks
/// they use. Detail finer than the resolution that keeps the number of items
/// within `budget` is merged; returns the JSON and that resolution.
pub fn embedded_json(tl: &Timeline, budget: usize) -> io::Result<(String, i64)> {
    let lanes: Vec<usize> = (0..tl.lanes.len()).collect();
    let span = tl.span.max(1);
    let res = pick_resolution(tl, &lanes, span, budget)?;
    let q = WindowQuery {
        lanes,
        t0: 0,
        t1: span + 1,
        res,
    };
    let mut j = Json::default();
    let mut refs = Refs::default();
    write_meta(tl, &mut j, &mut refs);
    j.raw(",\"window\":{\"t0\":")
        .int(q.t0)
        .raw(",\"t1\":")
        .int(q.t1);
    j.raw(",\"res\":").int(res).raw(",\"lanes\":");
    write_lanes(tl, &q, &mut j, &mut refs)?;
    j.raw("},\"chartData\":{\"t0\":0,\"t1\":")
        .int(q.t1)
        .raw(",\"res\":")
        .int(res);
    write_charts(tl, 0, q.t1, res, &mut j)?;
    j.raw("},\"taskDetails\":{");
    let mut left = EMBED_TASK_ITEMS;
    let mut first = true;
    for (i, t) in tl.tasks.iter().enumerate() {
        if left == 0 {
            break;
        }
        // The task is listed under its id once: the one `task_index` finds.
        if tl.task_index(t.id) != Some(i) {
            continue;
        }
        j.sep(&mut first);
        j.raw("\"").uint(t.id).raw("\":");
        let n = write_task_detail(tl, i, EMBED_TASK_LIST.min(left), &mut j, &mut refs)?;
        left = left.saturating_sub(n.unwrap_or(0).max(1));
    }
    j.raw("}");
    // The CPU samples, for flame graphs in the page: all or none.
    if tl.samples.len() <= EMBED_SAMPLES {
        j.raw(",\"samples\":[");
        let mut first = true;
        for x in &tl.samples {
            j.sep(&mut first);
            j.int(x.time).raw(",");
            if x.lane == NO_LANE {
                j.raw("-1");
            } else {
                j.uint(x.lane.into());
            }
            j.raw(",").uint(x.stack.into());
            refs.stacks.insert(x.stack);
        }
        j.raw("],\"samplesOmitted\":0");
    } else {
        j.raw(",\"samples\":[],\"samplesOmitted\":")
            .uint(tl.samples.len() as u64);
    }
    for t in &tl.tasks {
        refs.stacks.insert(t.stack0);
        refs.stacks.insert(t.stack1);
    }
    for l in &tl.lanes {
        refs.stacks.insert(l.stack);
    }
    j.raw(",\"stacks\":");
    write_stacks(tl, refs.stacks.iter().copied(), &mut j);
    j.raw(",\"strings\":");
    refs.write_strings(tl, &mut j);
    j.raw("}");
    Ok((j.out, res))
}

/// The finest resolution (0, or a power of two of ns) at which the whole
/// trace has at most `budget` items, or `span` if none has.
///
/// One pass over the rows counts the items at every power of two at once
/// (see [`count_decimated`]); a resolution drops out as soon as its count
/// passes the budget, and with it every finer one.
fn pick_resolution(tl: &Timeline, lanes: &[usize], span: i64, budget: usize) -> io::Result<i64> {
    let total = tl.stats.slices + tl.stats.marks;
    if total as usize <= budget {
        return Ok(0);
    }
    let top = (0..63).find(|&k| 1i64 << k >= span).unwrap_or(62);
    let res: Vec<i64> = (0..=top).map(|k| 1i64 << k).collect();
    let mut counts = vec![0usize; res.len()];
    // `res[lo..]` are the resolutions still within the budget.
    let mut lo = 0;
    for &i in lanes {
        let lane = &tl.lanes[i];
        for row in &lane.rows {
            count_decimated(row, 0, span + 1, &res[lo..], &mut counts[lo..])?;
        }
        for (n, &r) in counts[lo..].iter_mut().zip(&res[lo..]) {
            *n += count_decimated_marks(&lane.marks, 0, span + 1, r);
        }
        while lo < res.len() && counts[lo] > budget {
            lo += 1;
        }
        if lo == res.len() {
            return Ok(span);
        }
    }
    Ok(res[lo].min(span))
}

/// A flame graph: `{"kind","t0","t1","total","items","dropped",
/// "nodes":[[parent,func,file,line,value]…],"strings"}`, parents before
/// children, node 0 the root; a `func` of −1 is "no stack", a `line` of 0
/// a node whose merged frames differ in line.
pub fn flame_json(tl: &Timeline, f: &Flame, sel: &Selection) -> String {
    let mut j = Json::default();
    let mut refs = Refs::default();
    j.raw("{\"kind\":").str(f.kind.name());
    j.raw(",\"t0\":").int(sel.t0).raw(",\"t1\":").int(sel.t1);
    j.raw(",\"total\":").int(f.total());
    j.raw(",\"items\":").uint(f.items);
    j.raw(",\"dropped\":").uint(f.dropped);
    j.raw(",\"nodes\":[");
    let mut first = true;
    for n in &f.nodes {
        j.sep(&mut first);
        j.raw("[").uint(n.parent.into()).raw(",");
        if n.func == NO_STACK {
            j.raw("-1");
        } else {
            j.uint(n.func.into());
            refs.strings.insert(n.func);
        }
        j.raw(",").uint(n.file.into()).raw(",").uint(n.line);
        j.raw(",").int(n.value).raw("]");
        refs.strings.insert(n.file);
    }
    j.raw("],\"strings\":");
    refs.write_strings(tl, &mut j);
    j.raw("}");
    j.out
}

/// A chain of wakes: `{"g","t","steps":[[g,woken,ran,waker,created,blocked,
/// reason,blockedStack,stack]…],"strings"}` (`created` 0 or 1, `blocked` −1
/// for a creation, `waker` −1 for none), most recent first.
pub fn chain_json(tl: &Timeline, g: i64, t: i64, steps: &[ChainStep]) -> String {
    let mut j = Json::default();
    let mut refs = Refs::default();
    j.raw("{\"g\":").int(g).raw(",\"t\":").int(t);
    j.raw(",\"steps\":[");
    let mut first = true;
    for s in steps {
        j.sep(&mut first);
        j.raw("[")
            .int(s.g)
            .raw(",")
            .int(s.woken)
            .raw(",")
            .int(s.ran);
        j.raw(",").int(s.waker).raw(",").uint(s.created.into());
        j.raw(",").int(s.blocked).raw(",").uint(s.reason.into());
        j.raw(",").uint(s.blocked_stack.into());
        j.raw(",").uint(s.stack.into()).raw("]");
        refs.strings.insert(s.reason);
    }
    j.raw("],\"strings\":");
    refs.write_strings(tl, &mut j);
    j.raw("}");
    j.out
}

/// Parses a lane list such as `0-5,9,12-20` (at most
/// [`MAX_LANES_PER_QUERY`] lanes).
pub fn parse_lanes(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => {
                let a: usize = part.parse().ok()?;
                (a, a)
            }
        };
        if b < a || b - a >= MAX_LANES_PER_QUERY || out.len() + (b - a) >= MAX_LANES_PER_QUERY {
            return None;
        }
        out.extend(a..=b);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_script_elements() {
        let mut j = Json::default();
        j.str("a\"b\\c\n</script>&\u{1}");
        assert_eq!(j.out, r#""a\"b\\c\n\u003c/script\u003e\u0026\u0001""#);
    }

    #[test]
    fn lane_lists() {
        assert_eq!(parse_lanes("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_lanes(""), Some(vec![]));
        assert_eq!(parse_lanes("3-1"), None);
        assert_eq!(parse_lanes("x"), None);
        assert_eq!(parse_lanes("0-100000"), None);
    }
}
