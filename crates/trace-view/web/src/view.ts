// The timeline: a canvas with a time axis and charts pinned on top, then
// lanes (GC, tasks, procs, threads, goroutines) that scroll vertically.
// Data is fetched per time window and resolution for the lanes on screen
// (and a margin around them), and redrawn from the cache meanwhile.

import { DataSource } from "./data";
import { COLORS, SERIES_COLORS, fmtBytes, fmtCount, fmtDur, hashColor, niceStep, rangeColor } from "./format";
import { ChartData, Kind, KIND_NAMES, LaneMeta, M, Meta, Q, S, TaskTuple } from "./types";

const LABEL_W = 210;
const AXIS_H = 22;
const CHART_H = 36;
const ROW_H = 16;
const LANE_PAD = 3;
const GROUP_H = 20;
const MARK_H = 7;
const MARK_GAP = 6;
const MIN_SPAN = 50;
/** Rows a lane shows until its label is clicked. */
const ROW_CAP = 12;

interface LaneCache {
  t0: number;
  t1: number;
  res: number;
  rows: number[][];
  marks: number[];
}

type Entry =
  | { type: "group"; key: string; name: string; count: number; y: number; h: number }
  | { type: "lane"; i: number; y: number; h: number };

/** What is selected: a slice (a copy of its numbers), a mark, or nothing. */
export type Selection =
  | { type: "slice"; lane: number; row: number; item: number[] }
  | { type: "mark"; lane: number; item: number[] }
  | null;

/** A drawn item, remembered for tests and for the pointer. */
export interface Drawn {
  kind: string;
  lane: number;
  row: number;
  x: number;
  y: number;
  w: number;
}

export interface Listener {
  select(sel: Selection): void;
  viewChanged(): void;
}

export class TimelineView {
  t0 = 0;
  t1 = 1;
  readonly cache = new Map<number, LaneCache>();
  readonly strings = new Map<string, string>();
  charts: ChartData | null = null;
  selection: Selection = null;
  /** The selected task's id: its regions are highlighted. */
  selectedTask = -1;
  /** A time range selected with Shift+drag, if any. */
  range: { t0: number; t1: number } | null = null;
  filter = "";
  readonly collapsed = new Set<string>(["thread"]);
  /** Lanes showing all their rows (others show at most ROW_CAP). */
  readonly expanded = new Set<number>();
  entries: Entry[] = [];
  contentH = 0;
  readonly drawn = new Map<string, Drawn[]>();
  readonly goroutineLane = new Map<number, number>();
  private ctx: CanvasRenderingContext2D;
  private width = 800;
  private height = 600;
  private dpr = 1;
  private inflight = false;
  private chartsInflight = false;
  private frame = 0;
  private dataTimer = 0;
  private mouse: { x: number; y: number } | null = null;
  listener: Listener | null = null;
  ready = false;

  constructor(
    readonly meta: Meta,
    readonly src: DataSource,
    readonly canvas: HTMLCanvasElement,
    readonly scroller: HTMLElement,
    readonly spacer: HTMLElement,
  ) {
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("no 2d canvas");
    this.ctx = ctx;
    for (const [k, v] of Object.entries(meta.strings)) this.strings.set(k, v);
    meta.lanes.forEach((l, i) => {
      if (l.kind === "goroutine") this.goroutineLane.set(l.id, i);
    });
    this.t1 = Math.max(meta.span, 1);
    this.layout();
  }

  get pinnedH(): number {
    return AXIS_H + this.meta.charts.length * CHART_H + (this.meta.charts.length ? 4 : 0);
  }
  get plotX(): number {
    return LABEL_W;
  }
  get plotW(): number {
    return Math.max(50, this.width - LABEL_W - 8);
  }
  /** ns per CSS pixel. */
  get nsPerPx(): number {
    return (this.t1 - this.t0) / this.plotW;
  }
  x(t: number): number {
    return this.plotX + ((t - this.t0) / (this.t1 - this.t0)) * this.plotW;
  }
  timeAt(x: number): number {
    return this.t0 + ((x - this.plotX) / this.plotW) * (this.t1 - this.t0);
  }

  str(id: number): string {
    return this.strings.get(String(id)) ?? "";
  }

  /** Rows lane `i` shows. */
  shownRows(i: number): number {
    const rows = Math.max(1, this.meta.lanes[i].rows);
    return this.expanded.has(i) ? rows : Math.min(rows, ROW_CAP);
  }

  laneHeight(i: number): number {
    return this.shownRows(i) * ROW_H + 2 * LANE_PAD;
  }

  /** Shows all rows of lane `i`, or only the first ROW_CAP. */
  toggleRows(i: number): void {
    if (this.meta.lanes[i].rows <= ROW_CAP) return;
    if (!this.expanded.delete(i)) this.expanded.add(i);
    this.layout();
  }

  /** Lays out groups and lanes (after a filter or collapse change). */
  layout(): void {
    const f = this.filter.trim().toLowerCase();
    const entries: Entry[] = [];
    let y = 0;
    const groups: [string, string][] = [
      ["gc", "GC"],
      ["tasks", "Tasks"],
      ["proc", "Procs"],
      ["thread", "Threads"],
      ["goroutine", "Goroutines"],
    ];
    for (const [key, name] of groups) {
      const members: number[] = [];
      this.meta.lanes.forEach((l, i) => {
        if (l.kind !== key) return;
        if (f && key !== "gc" && key !== "tasks" && !l.name.toLowerCase().includes(f) && !l.label.toLowerCase().includes(f))
          return;
        members.push(i);
      });
      if (members.length === 0) continue;
      if (key !== "gc" && key !== "tasks") {
        entries.push({ type: "group", key, name, count: members.length, y, h: GROUP_H });
        y += GROUP_H;
        if (this.collapsed.has(key)) continue;
      }
      for (const i of members) {
        const h = this.laneHeight(i);
        entries.push({ type: "lane", i, y, h });
        y += h;
      }
    }
    this.entries = entries;
    this.contentH = y;
    this.resize();
  }

  resize(): void {
    const r = this.scroller.getBoundingClientRect();
    this.width = Math.max(200, r.width);
    this.height = Math.max(100, r.height);
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.canvas.width = Math.round(this.width * this.dpr);
    this.canvas.height = Math.round(this.height * this.dpr);
    this.spacer.style.height = `${Math.max(0, this.contentH + this.pinnedH - this.height)}px`;
    this.update();
  }

  /** Redraw soon and fetch what the new view needs. */
  update(): void {
    // Until the next frame has checked that every lane on screen has its data.
    document.body.dataset.state = "loading";
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
    if (!this.dataTimer) this.dataTimer = window.setTimeout(() => {
      this.dataTimer = 0;
      this.ensureData();
    }, 16);
    this.listener?.viewChanged();
  }

  setWindow(t0: number, t1: number): void {
    const span = Math.max(this.meta.span, 1);
    let w = Math.min(Math.max(t1 - t0, MIN_SPAN), span * 1.5);
    const mid = (t0 + t1) / 2;
    t0 = mid - w / 2;
    // Keep some of the trace on screen.
    t0 = Math.min(Math.max(t0, -w * 0.5), span - w * 0.5);
    w = Math.max(w, MIN_SPAN);
    this.t0 = t0;
    this.t1 = t0 + w;
    this.update();
  }

  zoomAt(x: number | null, factor: number): void {
    const px = x ?? this.plotX + this.plotW / 2;
    const t = this.timeAt(px);
    const w = (this.t1 - this.t0) * factor;
    const frac = (px - this.plotX) / this.plotW;
    this.setWindow(t - frac * w, t - frac * w + w);
  }

  pan(px: number): void {
    const dt = px * this.nsPerPx;
    this.setWindow(this.t0 + dt, this.t1 + dt);
  }

  fit(): void {
    this.setWindow(0, Math.max(this.meta.span, 1));
  }

  /** Lane indices within `margin` screens of the visible part. */
  visibleLanes(margin: number): number[] {
    const viewH = this.height - this.pinnedH;
    const top = this.scroller.scrollTop - margin * viewH;
    const bottom = this.scroller.scrollTop + viewH * (1 + margin);
    const out: number[] = [];
    for (const e of this.entries) {
      if (e.type === "lane" && e.y + e.h >= top && e.y <= bottom) out.push(e.i);
    }
    return out;
  }

  private covers(c: LaneCache | undefined, res: number): boolean {
    if (!c) return false;
    const coarse = c.res > Math.max(res * 1.5, this.src.minRes);
    return c.t0 <= this.t0 && c.t1 >= this.t1 && !coarse;
  }

  /** Fetches the lanes and charts the view lacks, one request at a time. */
  ensureData(): void {
    const res = Math.max(0, Math.floor(this.nsPerPx));
    const span = this.t1 - this.t0;
    if (!this.inflight) {
      const need = this.visibleLanes(1).filter((i) => !this.covers(this.cache.get(i), res));
      if (need.length > 0) {
        this.inflight = true;
        const q = { lanes: need.slice(0, 600), t0: this.t0 - span, t1: this.t1 + span, res };
        this.src
          .window(q)
          .then((w) => {
            if (w.strings) for (const [k, v] of Object.entries(w.strings)) this.strings.set(k, v);
            for (const l of w.lanes) this.cache.set(l.i, { t0: w.t0, t1: w.t1, res: w.res, rows: l.rows, marks: l.marks });
            this.evict();
          })
          .catch((e) => showError(e))
          .finally(() => {
            this.inflight = false;
            this.update();
          });
      }
    }
    if (!this.chartsInflight && this.meta.charts.length > 0) {
      const c = this.charts;
      const ok = c && c.t0 <= this.t0 && c.t1 >= this.t1 && c.res <= Math.max(res * 1.5, this.src.minRes);
      if (!ok) {
        this.chartsInflight = true;
        this.src
          .charts(this.t0 - span, this.t1 + span, res)
          .then((d) => {
            this.charts = d;
          })
          .catch((e) => showError(e))
          .finally(() => {
            this.chartsInflight = false;
            this.update();
          });
      }
    }
    this.checkReady(res);
  }

  private checkReady(res: number): void {
    const lanesOk = this.visibleLanes(0).every((i) => this.covers(this.cache.get(i), res));
    const chartsOk = this.meta.charts.length === 0 || this.charts !== null;
    this.ready = lanesOk && chartsOk && !this.inflight && !this.chartsInflight;
    document.body.dataset.state = this.ready ? "ready" : "loading";
  }

  private evict(): void {
    if (this.cache.size < 3000) return;
    const keep = new Set(this.visibleLanes(2));
    for (const k of [...this.cache.keys()]) if (!keep.has(k)) this.cache.delete(k);
  }

  // ---- drawing ----

  laneName(i: number): string {
    const l = this.meta.lanes[i];
    return l.label ? `${l.name} [${l.label}]` : l.name;
  }

  goroutineName(g: number): string {
    const i = this.goroutineLane.get(g);
    return i === undefined ? `G${g}` : this.laneName(i);
  }

  sliceColor(lane: LaneMeta, kind: number, arg: number, extra: number): string {
    switch (kind) {
      case Kind.ProcRun:
      case Kind.ThreadRun: {
        const i = this.goroutineLane.get(extra);
        const label = i === undefined ? "" : this.meta.lanes[i].label;
        if (label.startsWith("GC")) return "#f08c30";
        return hashColor(extra, 50, 58);
      }
      case Kind.Region:
        return hashColor(this.str(arg), 45, 70);
      case Kind.Task:
        return hashColor(this.str(arg), 50, 66);
      case Kind.Range:
        return rangeColor(this.str(arg));
      default:
        void lane;
        return COLORS[kind] ?? "#999";
    }
  }

  sliceLabel(kind: number, arg: number, extra: number, count: number): string {
    if (count > 1) return `${count} slices`;
    switch (kind) {
      case Kind.ProcRun:
      case Kind.ThreadRun:
      case Kind.ThreadSyscall:
        return this.goroutineName(extra);
      case Kind.Region:
      case Kind.Range:
        return this.str(arg);
      case Kind.Task:
        return `${this.str(arg)} #${extra}`;
      case Kind.Waiting:
      case Kind.Runnable: {
        const r = this.str(arg);
        return r ? `${KIND_NAMES[kind]}: ${r}` : KIND_NAMES[kind];
      }
      default:
        return KIND_NAMES[kind] ?? "";
    }
  }

  private remember(d: Drawn): void {
    let list = this.drawn.get(d.kind);
    if (!list) this.drawn.set(d.kind, (list = []));
    if (list.length < 50) list.push(d);
    else {
      // Keep the widest ones: they are the easiest to point at.
      let min = 0;
      for (let i = 1; i < list.length; i++) if (list[i].w < list[min].w) min = i;
      if (list[min].w < d.w) list[min] = d;
    }
  }

  draw(): void {
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    this.drawn.clear();
    const top = this.pinnedH;
    const scroll = this.scroller.scrollTop;
    const viewH = this.height - top;
    const sel = this.selection;

    ctx.save();
    ctx.beginPath();
    ctx.rect(0, top, this.width, viewH);
    ctx.clip();
    for (const e of this.entries) {
      const y = top + e.y - scroll;
      if (y + e.h < top || y > this.height) continue;
      if (e.type === "group") {
        ctx.fillStyle = "#eef1f5";
        ctx.fillRect(0, y, this.width, e.h);
        ctx.fillStyle = "#223";
        ctx.font = "bold 11px system-ui, sans-serif";
        const arrow = this.collapsed.has(e.key) ? "▶" : "▼";
        ctx.fillText(`${arrow} ${e.name} (${fmtCount(e.count)})`, 6, y + e.h / 2);
        ctx.font = "11px system-ui, sans-serif";
        this.remember({ kind: `group:${e.key}`, lane: -1, row: 0, x: 40, y: y + e.h / 2, w: 60 });
        continue;
      }
      const lane = this.meta.lanes[e.i];
      ctx.fillStyle = e.i % 2 ? "#fafbfc" : "#fff";
      ctx.fillRect(0, y, this.width, e.h);
      ctx.strokeStyle = "#eceff3";
      ctx.beginPath();
      ctx.moveTo(0, y + e.h - 0.5);
      ctx.lineTo(this.width, y + e.h - 0.5);
      ctx.stroke();
      const c = this.cache.get(e.i);
      if (c) this.drawLane(e.i, lane, c, y, sel);
      // Label column.
      ctx.fillStyle = "#f6f7f9";
      ctx.fillRect(0, y, LABEL_W - 4, e.h);
      ctx.fillStyle = "#223";
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, y, LABEL_W - 8, e.h);
      ctx.clip();
      ctx.fillText(this.laneName(e.i), 8, y + LANE_PAD + ROW_H / 2);
      if (lane.rows > ROW_CAP) {
        ctx.fillStyle = "#1d4fb8";
        const more = this.expanded.has(e.i) ? "▲ fewer rows" : `▼ all ${lane.rows} rows`;
        ctx.fillText(more, 8, y + LANE_PAD + ROW_H * 1.5);
      }
      ctx.restore();
    }
    ctx.restore();
    this.drawRange();
    this.drawPinned();
    this.drawCursor();
    const res = Math.max(0, Math.floor(this.nsPerPx));
    this.checkReady(res);
  }

  private drawLane(i: number, lane: LaneMeta, c: LaneCache, y: number, sel: Selection): void {
    const ctx = this.ctx;
    const left = this.plotX;
    const right = this.plotX + this.plotW;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, y, this.plotW, this.laneHeight(i));
    ctx.clip();
    const shown = Math.min(c.rows.length, this.shownRows(i));
    for (let r = 0; r < shown; r++) {
      const row = c.rows[r];
      const ry = y + LANE_PAD + r * ROW_H;
      for (let k = 0; k < row.length; k += S) {
        const s = row[k];
        const e = row[k + 1];
        let x0 = this.x(s);
        let x1 = this.x(e);
        if (x1 < left || x0 > right) continue;
        x0 = Math.max(x0, left - 2);
        x1 = Math.min(x1, right + 2);
        const w = Math.max(1, x1 - x0);
        const kind = row[k + 2];
        const arg = row[k + 3];
        const extra = row[k + 4];
        const count = row[k + 7];
        ctx.fillStyle = this.sliceColor(lane, kind, arg, extra);
        ctx.fillRect(x0, ry + 1, w, ROW_H - 2);
        if (count > 1 && w > 3) {
          ctx.fillStyle = "rgba(255,255,255,0.25)";
          ctx.fillRect(x0, ry + ROW_H / 2, w, ROW_H / 2 - 1);
        }
        const highlight =
          (sel?.type === "slice" && sel.lane === i && sel.row === r && sel.item[0] === s && sel.item[1] === e && sel.item[2] === kind) ||
          (this.selectedTask >= 0 && count === 1 && (kind === Kind.Region || kind === Kind.Task) && extra === this.selectedTask);
        if (highlight) {
          ctx.strokeStyle = "#111";
          ctx.lineWidth = 2;
          ctx.strokeRect(x0 + 1, ry + 1, Math.max(1, w - 2), ROW_H - 2);
          ctx.lineWidth = 1;
        }
        if (w > 40) {
          ctx.fillStyle = kind === Kind.Waiting ? "#556" : "#111";
          const label = this.sliceLabel(kind, arg, extra, count);
          const tx = Math.max(x0, left) + 3;
          ctx.save();
          ctx.beginPath();
          ctx.rect(tx, ry, Math.min(x1, right) - tx - 2, ROW_H);
          ctx.clip();
          ctx.fillText(label, tx, ry + ROW_H / 2);
          ctx.restore();
        }
        const drawn = {
          kind: count > 1 ? "merged" : KIND_NAMES[kind] ?? "?",
          lane: i,
          row: r,
          x: (Math.max(x0, left) + Math.min(x0 + w, right)) / 2,
          y: ry + ROW_H / 2,
          w: Math.min(x0 + w, right) - Math.max(x0, left),
        };
        this.remember(drawn);
        // A runnable slice that knows who made it runnable.
        if (kind === Kind.Runnable && count === 1 && extra > 0) this.remember({ ...drawn, kind: "woken" });
      }
    }
    // Log markers on the lane's first row, at least MARK_GAP pixels apart.
    let lastX = -Infinity;
    for (let k = 0; k < c.marks.length; k += M) {
      const x = this.x(c.marks[k]);
      if (x < left - 6 || x > right + 6) continue;
      const selected = sel?.type === "mark" && sel.lane === i && sel.item[0] === c.marks[k];
      if (x - lastX < MARK_GAP && !selected) continue;
      lastX = x;
      const count = c.marks[k + 6];
      const size = count > 1 ? 5 : 4;
      ctx.fillStyle = selected ? "#000" : "#1d4fb8";
      ctx.beginPath();
      ctx.moveTo(x - size, y + 1);
      ctx.lineTo(x + size, y + 1);
      ctx.lineTo(x, y + 1 + MARK_H + (count > 1 ? 2 : 0));
      ctx.closePath();
      ctx.fill();
      this.remember({ kind: "log", lane: i, row: 0, x, y: y + 4, w: 8 });
    }
    ctx.restore();
  }

  private drawPinned(): void {
    const ctx = this.ctx;
    const top = this.pinnedH;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, this.width, top);
    // Axis.
    ctx.fillStyle = "#f6f7f9";
    ctx.fillRect(0, 0, this.width, AXIS_H);
    ctx.fillStyle = "#223";
    ctx.fillText(`${fmtDur(this.t1 - this.t0)} shown`, 8, AXIS_H / 2);
    const step = niceStep(this.nsPerPx * 90);
    const first = Math.ceil(this.t0 / step) * step;
    ctx.strokeStyle = "#c9ced6";
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.plotX, 0, this.plotW, this.height);
    ctx.clip();
    for (let t = first; t <= this.t1; t += step) {
      const x = Math.round(this.x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 6);
      ctx.lineTo(x, this.height);
      ctx.strokeStyle = "rgba(120,130,145,0.18)";
      ctx.stroke();
      ctx.fillStyle = "#445";
      ctx.fillText(fmtDur(t), x + 3, AXIS_H / 2);
    }
    ctx.restore();
    // Charts.
    const data = this.charts;
    this.meta.charts.forEach((chart, ci) => {
      const y0 = AXIS_H + ci * CHART_H + 2;
      const h = CHART_H - 6;
      ctx.fillStyle = "#f6f7f9";
      ctx.fillRect(0, y0, LABEL_W - 4, CHART_H - 2);
      ctx.fillStyle = "#223";
      ctx.fillText(chart.name, 8, y0 + 8);
      let lx = 8;
      chart.series.forEach((name, si) => {
        ctx.fillStyle = SERIES_COLORS[si % SERIES_COLORS.length];
        ctx.fillRect(lx, y0 + 20, 8, 8);
        ctx.fillStyle = "#556";
        ctx.fillText(name, lx + 11, y0 + 24);
        lx += 16 + ctx.measureText(name).width;
      });
      const max = Math.max(1, ...chart.max) * 1.05;
      const fmt = chart.unit === "bytes" ? fmtBytes : fmtCount;
      ctx.fillStyle = "#889";
      ctx.fillText(fmt(Math.max(...chart.max)), LABEL_W - 70, y0 + 8);
      if (!data || !data.charts[ci]) return;
      ctx.save();
      ctx.beginPath();
      ctx.rect(this.plotX, y0, this.plotW, h + 2);
      ctx.clip();
      data.charts[ci].series.forEach((pts, si) => {
        const Y = (v: number) => y0 + h - (v / max) * h + 1;
        ctx.strokeStyle = SERIES_COLORS[si % SERIES_COLORS.length];
        ctx.fillStyle = ctx.strokeStyle;
        ctx.beginPath();
        let prev: number | null = null;
        for (let k = 0; k < pts.length; k += Q) {
          const x = this.x(pts[k]);
          if (prev === null) ctx.moveTo(x, Y(pts[k + 3]));
          else {
            ctx.lineTo(x, Y(prev));
            if (pts[k + 1] !== pts[k + 2]) {
              ctx.lineTo(x, Y(pts[k + 1]));
              ctx.lineTo(x, Y(pts[k + 2]));
            }
            ctx.lineTo(x, Y(pts[k + 3]));
          }
          prev = pts[k + 3];
        }
        if (prev !== null) ctx.lineTo(this.plotX + this.plotW, Y(prev));
        ctx.stroke();
      });
      ctx.restore();
      this.remember({ kind: "chart", lane: -1, row: ci, x: this.plotX + this.plotW / 2, y: y0 + h / 2, w: this.plotW });
    });
    ctx.strokeStyle = "#c9ced6";
    ctx.beginPath();
    ctx.moveTo(0, top - 0.5);
    ctx.lineTo(this.width, top - 0.5);
    ctx.stroke();
  }

  /** Shades the selected time range. */
  private drawRange(): void {
    const r = this.range;
    if (!r) return;
    const ctx = this.ctx;
    const left = this.plotX;
    const right = this.plotX + this.plotW;
    const x0 = Math.max(left, this.x(r.t0));
    const x1 = Math.min(right, this.x(r.t1));
    if (x1 < left || x0 > right) return;
    ctx.fillStyle = "rgba(47,111,208,0.13)";
    ctx.fillRect(x0, this.pinnedH, Math.max(1, x1 - x0), this.height - this.pinnedH);
    ctx.strokeStyle = "rgba(47,111,208,0.8)";
    ctx.beginPath();
    for (const x of [x0, x1]) {
      ctx.moveTo(Math.round(x) + 0.5, this.pinnedH);
      ctx.lineTo(Math.round(x) + 0.5, this.height);
    }
    ctx.stroke();
    this.remember({ kind: "range-selection", lane: -1, row: 0, x: (x0 + x1) / 2, y: this.pinnedH + 4, w: x1 - x0 });
  }

  /** Sets (or clears) the selected time range. */
  setRange(r: { t0: number; t1: number } | null): void {
    this.range = r;
    this.update();
  }

  private drawCursor(): void {
    const m = this.mouse;
    if (!m || m.x < this.plotX || m.x > this.plotX + this.plotW) return;
    const ctx = this.ctx;
    ctx.strokeStyle = "rgba(30,40,60,0.45)";
    ctx.beginPath();
    ctx.moveTo(Math.round(m.x) + 0.5, AXIS_H);
    ctx.lineTo(Math.round(m.x) + 0.5, this.height);
    ctx.stroke();
    const label = fmtDur(this.timeAt(m.x));
    const w = ctx.measureText(label).width + 8;
    ctx.fillStyle = "#223";
    ctx.fillRect(m.x - w / 2, 2, w, AXIS_H - 4);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, m.x - w / 2 + 4, AXIS_H / 2);
  }

  /** The mouse's x if it is over the plot, for zooming around it. */
  mouseX(): number | null {
    const m = this.mouse;
    return m && m.x >= this.plotX && m.x <= this.plotX + this.plotW ? m.x : null;
  }

  setMouse(p: { x: number; y: number } | null): void {
    this.mouse = p;
    this.update();
  }

  // ---- hit testing ----

  /** The group header, lane and row under a canvas point. */
  entryAt(x: number, y: number): { entry: Entry; row: number; dy: number } | null {
    void x;
    if (y < this.pinnedH) return null;
    const cy = y - this.pinnedH + this.scroller.scrollTop;
    for (const e of this.entries) {
      if (cy >= e.y && cy < e.y + e.h) {
        const dy = cy - e.y;
        return { entry: e, row: Math.floor((dy - LANE_PAD) / ROW_H), dy };
      }
    }
    return null;
  }

  /** The slice or mark under a canvas point. */
  hit(x: number, y: number): Selection {
    const at = this.entryAt(x, y);
    if (!at || at.entry.type !== "lane" || x < this.plotX) return null;
    const i = at.entry.i;
    const c = this.cache.get(i);
    if (!c) return null;
    if (at.dy <= MARK_H + 3) {
      let best = -1;
      let bestD = 7;
      for (let k = 0; k < c.marks.length; k += M) {
        const d = Math.abs(this.x(c.marks[k]) - x);
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      }
      if (best >= 0) return { type: "mark", lane: i, item: c.marks.slice(best, best + M) };
    }
    const row = at.row < this.shownRows(i) ? c.rows[at.row] : undefined;
    if (!row) return null;
    let best = -1;
    let bestD = 3;
    for (let k = 0; k < row.length; k += S) {
      const x0 = this.x(row[k]);
      const x1 = Math.max(this.x(row[k + 1]), x0 + 1);
      const d = x < x0 ? x0 - x : x > x1 ? x - x1 : 0;
      if (d < bestD || (d === 0 && bestD === 0)) {
        bestD = d;
        best = k;
        if (d === 0) break;
      }
    }
    if (best < 0) return null;
    return { type: "slice", lane: i, row: at.row, item: row.slice(best, best + S) };
  }

  /** Scrolls so that lane `i` (row `row`) is on screen. */
  revealLane(i: number, row = 0): void {
    if (row >= this.shownRows(i)) {
      this.expanded.add(i);
      this.layout();
    }
    for (const e of this.entries) {
      if (e.type === "lane" && e.i === i) {
        const y = e.y + LANE_PAD + row * ROW_H;
        const viewH = this.height - this.pinnedH;
        const st = this.scroller.scrollTop;
        if (y < st || y + ROW_H > st + viewH) this.scroller.scrollTop = Math.max(0, y - viewH / 3);
        return;
      }
    }
  }

  /** Makes sure lane `i` is shown (expands its group, clears a hiding filter). */
  showLane(i: number): void {
    const l = this.meta.lanes[i];
    let changed = false;
    if (this.collapsed.delete(l.kind)) changed = true;
    if (!this.entries.some((e) => e.type === "lane" && e.i === i)) {
      this.filter = "";
      changed = true;
    }
    if (changed) this.layout();
  }

  select(sel: Selection): void {
    this.selection = sel;
    this.selectedTask = -1;
    if (sel?.type === "slice" && sel.item[2] === Kind.Task && sel.item[7] === 1) this.selectedTask = sel.item[4];
    this.listener?.select(sel);
    this.update();
  }

  /** Zooms to a task of the outline and selects it. */
  focusTask(t: TaskTuple): void {
    const start = t[3] >= 0 ? t[3] : 0;
    const end = t[4] >= 0 ? t[4] : this.meta.span;
    const d = Math.max(end - start, 1000);
    this.setWindow(start - d * 0.1, end + d * 0.1);
    const lane = this.meta.lanes.findIndex((l) => l.kind === "tasks");
    if (lane >= 0) {
      this.showLane(lane);
      this.revealLane(lane, t[6]);
      this.select({ type: "slice", lane, row: t[6], item: [start, end, Kind.Task, t[2], t[0], t[7], t[8], 1] });
    }
  }
}

export function showError(e: unknown): void {
  const el = document.getElementById("status");
  if (el) {
    el.textContent = `Error: ${e instanceof Error ? e.message : String(e)}`;
    el.hidden = false;
  }
}
