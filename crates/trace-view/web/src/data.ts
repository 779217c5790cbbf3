// Where the page gets its data: the server's JSON API, or data embedded in
// the page by `trace-tool view --html`. Both answer the same questions with
// the same shapes; the embedded source decimates in the page with the rules
// of the crate's src/query.rs.

import { chainFromJson, flameFromJson, LocalAnalysis, partition } from "./flame";
import { ChainData, ChainJson, ChainQuery, ChartData, Embedded, FlameData, FlameJson, FlameQuery, M, Meta, Q, S, Stacks, TaskDetails, WindowData } from "./types";

export interface WindowRequest {
  lanes: number[];
  t0: number;
  t1: number;
  /** ns per merged block: slices shorter than this are merged. */
  res: number;
}

export interface DataSource {
  readonly kind: "server" | "embedded";
  meta(): Promise<Meta>;
  window(q: WindowRequest): Promise<WindowData>;
  charts(t0: number, t1: number, res: number): Promise<ChartData>;
  stacks(ids: number[]): Promise<Stacks>;
  /** A task's details; null if there are none (no such task, or not embedded). */
  task(id: number): Promise<TaskDetails | null>;
  /** A flame graph; null if its goroutine or task is unknown. */
  flame(q: FlameQuery): Promise<FlameData | null>;
  /** A wake chain; null if its goroutine or task is unknown. */
  chain(q: ChainQuery): Promise<ChainData | null>;
  /** The finest resolution available (embedded data may be pre-merged). */
  readonly minRes: number;
}

/** `a=1&b=2` of the defined values. */
function query(params: Record<string, string | number | undefined>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    .join("&");
}

/** GETs JSON; null on a 404. */
async function getOrNull<T>(url: string): Promise<T | null> {
  const r = await fetch(url, { cache: "no-store" });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return (await r.json()) as T;
}

/** `0-5,9` for [0,1,2,3,4,5,9]. */
export function laneList(lanes: number[]): string {
  const sorted = [...lanes].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return (await r.json()) as T;
}

export class ServerSource implements DataSource {
  readonly kind = "server";
  readonly minRes = 0;
  meta(): Promise<Meta> {
    return getJson("api/meta");
  }
  window(q: WindowRequest): Promise<WindowData> {
    const t0 = Math.floor(q.t0);
    const t1 = Math.max(t0 + 1, Math.ceil(q.t1));
    return getJson(`api/window?t0=${t0}&t1=${t1}&res=${Math.floor(q.res)}&lanes=${laneList(q.lanes)}`);
  }
  charts(t0: number, t1: number, res: number): Promise<ChartData> {
    t0 = Math.floor(t0);
    t1 = Math.max(t0 + 1, Math.ceil(t1));
    return getJson(`api/charts?t0=${t0}&t1=${t1}&res=${Math.floor(res)}`);
  }
  stacks(ids: number[]): Promise<Stacks> {
    return getJson(`api/stacks?ids=${ids.join(",")}`);
  }
  async task(id: number): Promise<TaskDetails | null> {
    const r = await fetch(`api/task?id=${id}`, { cache: "no-store" });
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(`api/task: ${r.status} ${r.statusText}`);
    return (await r.json()) as TaskDetails;
  }
  async flame(q: FlameQuery): Promise<FlameData | null> {
    const t0 = q.t0 === undefined ? undefined : Math.floor(q.t0);
    const t1 = q.t1 === undefined || t0 === undefined ? undefined : Math.max(t0 + 1, Math.ceil(q.t1));
    const j = await getOrNull<FlameJson>(`api/flame?${query({ kind: q.kind, t0, t1, g: q.g, task: q.task })}`);
    return j && flameFromJson(j);
  }
  async chain(q: ChainQuery): Promise<ChainData | null> {
    const p = "task" in q ? query({ task: q.task }) : query({ g: q.g, t: Math.floor(q.t) });
    const j = await getOrNull<ChainJson>(`api/chain?${p}`);
    return j && chainFromJson(j);
  }
}


/** Decimates a row (flat slices, sorted, not overlapping) as src/query.rs does. */
export function decimateRow(row: number[], t0: number, t1: number, res: number): number[] {
  const n = row.length / S;
  const first = partition(n, (i) => !(row[i * S + 1] < t0 || (row[i * S + 1] === t0 && row[i * S] < t0)));
  const last = partition(n, (i) => !(row[i * S] < t1));
  const out: number[] = [];
  let gStart = 0;
  let gEnd = 0;
  let gCount = 0;
  let gFirst = -1;
  let weight = new Float64Array(11);
  const flush = () => {
    if (gFirst < 0) return;
    if (gCount === 1 && row[gFirst * S + 7] === 1) {
      for (let k = 0; k < S; k++) out.push(row[gFirst * S + k]);
    } else {
      let best = 0;
      for (let k = 0; k < 11; k++) if (weight[k] > weight[best]) best = k;
      out.push(gStart, gEnd, best || row[gFirst * S + 2], 0, 0, 0, 0, gCount);
    }
    gFirst = -1;
  };
  for (let i = first; i < last; i++) {
    const s = row[i * S];
    const e = row[i * S + 1];
    const kind = row[i * S + 2];
    const count = row[i * S + 7];
    const dur = e - s;
    if (res > 0 && dur < res) {
      if (gFirst >= 0 && s - gEnd < res && gEnd - gStart < res) {
        gEnd = Math.max(gEnd, e);
        gCount += count;
        weight[kind % 11] += dur;
        continue;
      }
      flush();
      gFirst = i;
      gStart = s;
      gEnd = e;
      gCount = count;
      weight = new Float64Array(11);
      weight[kind % 11] = dur;
    } else {
      flush();
      for (let k = 0; k < S; k++) out.push(row[i * S + k]);
    }
  }
  flush();
  return out;
}

export function decimateMarks(marks: number[], t0: number, t1: number, res: number): number[] {
  const n = marks.length / M;
  const first = partition(n, (i) => marks[i * M] >= t0);
  const last = partition(n, (i) => marks[i * M] >= t1);
  const out: number[] = [];
  let cur = -1;
  for (let i = first; i < last; i++) {
    const t = marks[i * M];
    if (cur >= 0 && t - out[cur] < res) {
      out[cur + 6] += marks[i * M + 6];
      continue;
    }
    cur = out.length;
    for (let k = 0; k < M; k++) out.push(marks[i * M + k]);
  }
  return out;
}

export function decimateSeries(points: number[], t0: number, t1: number, res: number): number[] {
  const n = points.length / Q;
  const first = Math.max(0, partition(n, (i) => points[i * Q] > t0) - 1);
  const last = Math.min(n, partition(n, (i) => points[i * Q] > t1) + 1);
  res = Math.max(1, res);
  const out: number[] = [];
  let bucket = -Infinity;
  for (let i = first; i < last; i++) {
    const t = points[i * Q];
    const b = Math.floor((t - t0) / res);
    if (out.length > 0 && b === bucket) {
      const j = out.length - Q;
      out[j + 1] = Math.min(out[j + 1], points[i * Q + 1]);
      out[j + 2] = Math.max(out[j + 2], points[i * Q + 2]);
      out[j + 3] = points[i * Q + 3];
    } else {
      bucket = b;
      for (let k = 0; k < Q; k++) out.push(points[i * Q + k]);
    }
  }
  return out;
}

export class EmbeddedSource implements DataSource {
  readonly kind = "embedded";
  readonly minRes: number;
  private local: LocalAnalysis | null = null;
  constructor(private readonly data: Embedded) {
    this.minRes = data.window.res;
  }
  private analysis(): LocalAnalysis {
    return (this.local ??= new LocalAnalysis(this.data));
  }
  flame(q: FlameQuery): Promise<FlameData | null> {
    return Promise.resolve(this.analysis().flame(q));
  }
  chain(q: ChainQuery): Promise<ChainData | null> {
    return Promise.resolve(this.analysis().chain(q));
  }
  meta(): Promise<Meta> {
    return Promise.resolve(this.data);
  }
  window(q: WindowRequest): Promise<WindowData> {
    const res = Math.max(q.res, this.minRes);
    const byIndex = new Map(this.data.window.lanes.map((l) => [l.i, l]));
    const lanes = [];
    for (const i of q.lanes) {
      const l = byIndex.get(i);
      if (!l) continue;
      lanes.push({
        i,
        rows: l.rows.map((r) => decimateRow(r, q.t0, q.t1, res)),
        marks: decimateMarks(l.marks, q.t0, q.t1, res),
      });
    }
    return Promise.resolve({ t0: q.t0, t1: q.t1, res, lanes, strings: this.data.strings });
  }
  charts(t0: number, t1: number, res: number): Promise<ChartData> {
    return Promise.resolve({
      t0,
      t1,
      res,
      charts: this.data.chartData.charts.map((c) => ({
        series: c.series.map((p) => decimateSeries(p, t0, t1, res)),
      })),
    });
  }
  stacks(ids: number[]): Promise<Stacks> {
    const out: Stacks = {};
    for (const id of ids) {
      const s = this.data.stacks[String(id)];
      if (s) out[String(id)] = s;
    }
    return Promise.resolve(out);
  }
  task(id: number): Promise<TaskDetails | null> {
    return Promise.resolve(this.data.taskDetails?.[String(id)] ?? null);
  }
}

/** The embedded data if the page has any, else the server. */
export function pickSource(): DataSource {
  const el = document.getElementById("trace-data");
  if (el && el.textContent) return new EmbeddedSource(JSON.parse(el.textContent) as Embedded);
  return new ServerSource();
}
