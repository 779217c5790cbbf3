// Flame graphs and wake chains computed in the page from the data `--html`
// embeds, by the rules of the crate's src/flame.rs (change one, change the
// other): the same selection, the same merging by function along the path,
// the same cap keeping the heaviest nodes, the same walk back through wakers.

import { ChainData, ChainJson, ChainQuery, ChainStep, Embedded, FlameData, FlameJson, FlameNode, FlameQuery, Kind, S } from "./types";

/** The most nodes a flame graph holds (`MAX_FLAME_NODES`). */
export const MAX_FLAME_NODES = 5000;
/** The most steps of a chain (`MAX_CHAIN_STEPS`). */
export const MAX_CHAIN_STEPS = 32;

/** A server answer with names instead of string ids. */
export function flameFromJson(j: FlameJson): FlameData {
  const str = (id: number) => j.strings[String(id)] ?? "";
  return {
    kind: j.kind,
    t0: j.t0,
    t1: j.t1,
    total: j.total,
    items: j.items,
    dropped: j.dropped,
    nodes: j.nodes.map(([parent, func, file, line, value], i) => ({
      parent,
      func: i === 0 ? "" : func < 0 ? "(no stack)" : str(func),
      file: str(file),
      line,
      value,
    })),
  };
}

export function chainFromJson(j: ChainJson): ChainData {
  return {
    g: j.g,
    t: j.t,
    steps: j.steps.map(([g, woken, ran, waker, created, blocked, reason, blockedStack, stack]) => ({
      g,
      woken,
      ran,
      waker,
      created: created === 1,
      blocked,
      reason: j.strings[String(reason)] ?? "",
      blockedStack,
      stack,
    })),
  };
}


/** The page's copy of a timeline's lanes, indexed for flame graphs and chains. */
export class LocalAnalysis {
  private readonly rows = new Map<number, number[][]>();
  private readonly laneOfG = new Map<number, number>();
  private readonly goroutineLanes: number[] = [];

  constructor(private readonly data: Embedded) {
    for (const l of data.window.lanes) this.rows.set(l.i, l.rows);
    data.lanes.forEach((l, i) => {
      if (l.kind === "goroutine") {
        this.laneOfG.set(l.id, i);
        this.goroutineLanes.push(i);
      }
    });
  }

  /** Per goroutine lane, sorted disjoint intervals; null for all of `[t0, t1)`; undefined if unknown. */
  private filter(q: FlameQuery, t0: number, t1: number): Map<number, [number, number][]> | null | undefined {
    if (q.g !== undefined) {
      const lane = this.laneOfG.get(q.g);
      if (lane === undefined) return undefined;
      return new Map([[lane, [[t0, t1]]]]);
    }
    if (q.task !== undefined) {
      if (!this.data.tasks.some((t) => t[0] === q.task)) return undefined;
      const m = new Map<number, [number, number][]>();
      for (const lane of this.goroutineLanes) {
        const rows = this.rows.get(lane) ?? [];
        const iv: [number, number][] = [];
        for (let r = 1; r < rows.length; r++) {
          const row = rows[r];
          for (let k = 0; k < row.length; k += S) {
            if (row[k + 2] !== Kind.Region || row[k + 7] !== 1 || row[k + 4] !== q.task) continue;
            const a = Math.max(row[k], t0);
            const b = Math.min(row[k + 1], t1);
            if (a < b) iv.push([a, b]);
          }
        }
        if (iv.length === 0) continue;
        iv.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        const merged: [number, number][] = [];
        for (const [a, b] of iv) {
          const last = merged[merged.length - 1];
          if (last && a <= last[1]) last[1] = Math.max(last[1], b);
          else merged.push([a, b]);
        }
        m.set(lane, merged);
      }
      return m;
    }
    return null;
  }

  flame(q: FlameQuery, maxNodes = MAX_FLAME_NODES): FlameData | null {
    const d = this.data;
    const t0 = q.t0 ?? 0;
    const t1 = q.t1 ?? d.span + 1;
    const f = this.filter(q, t0, t1);
    if (f === undefined) return null;
    const byStack = new Map<number, number>();
    let items = 0;
    let note: string | undefined;
    const overlap = (lane: number, a: number, b: number): number => {
      if (f === null) return Math.max(0, b - a);
      const iv = f.get(lane);
      if (!iv) return 0;
      let sum = 0;
      for (let i = partition(iv.length, (j) => iv[j][1] > a); i < iv.length && iv[i][0] < b; i++)
        sum += Math.min(iv[i][1], b) - Math.max(iv[i][0], a);
      return sum;
    };
    if (q.kind === "cpu") {
      const s = d.samples ?? [];
      if (d.samplesOmitted > 0) note = `${d.samplesOmitted} CPU samples were too many to embed; use trace-tool view for them.`;
      const n = s.length / 3;
      for (let i = partition(n, (j) => s[j * 3] >= t0); i < n && s[i * 3] < t1; i++) {
        const t = s[i * 3];
        const lane = s[i * 3 + 1];
        const counted = lane < 0 ? q.g === undefined && q.task === undefined : overlap(lane, t, t + 1) > 0;
        if (!counted) continue;
        byStack.set(s[i * 3 + 2], (byStack.get(s[i * 3 + 2]) ?? 0) + 1);
        items++;
      }
    } else {
      const want = q.kind === "block" ? Kind.Waiting : Kind.Syscall;
      const lanes = f === null ? this.goroutineLanes : [...f.keys()].sort((a, b) => a - b);
      let merged = 0;
      for (const lane of lanes) {
        const row = this.rows.get(lane)?.[0];
        if (!row) continue;
        const n = row.length / S;
        for (let i = partition(n, (j) => row[j * S + 1] > t0); i < n && row[i * S] < t1; i++) {
          const k = i * S;
          if (row[k + 7] !== 1) {
            merged++;
            continue;
          }
          if (row[k + 2] !== want) continue;
          const w = overlap(lane, Math.max(row[k], t0), Math.min(row[k + 1], t1));
          if (w > 0) {
            byStack.set(row[k + 5], (byStack.get(row[k + 5]) ?? 0) + w);
            items++;
          }
        }
      }
      if (merged > 0) note = `${merged} short slices merged by the offline page's budget are not counted; use trace-tool view for all of them.`;
    }
    const nodes: FlameNode[] = [{ parent: 0, func: "", file: "", line: 0, value: 0 }];
    const children = new Map<string, number>();
    for (const stack of [...byStack.keys()].sort((a, b) => a - b)) {
      const w = byStack.get(stack) ?? 0;
      nodes[0].value += w;
      const frames = stack === 0 ? null : d.stacks[String(stack)] ?? [];
      const path: [string, string, number][] = frames === null ? [["(no stack)", "", 0]] : frames.map(([fn, file, line]) => [fn, file, line] as [string, string, number]).reverse();
      let at = 0;
      for (const [func, file, line] of path) {
        const key = `${at}\u0000${func}`;
        let id = children.get(key);
        if (id === undefined) {
          id = nodes.length;
          children.set(key, id);
          nodes.push({ parent: at, func, file, line, value: 0 });
        }
        const node = nodes[id];
        node.value += w;
        if (node.line !== line) node.line = 0;
        at = id;
      }
    }
    const keep = Math.max(1, maxNodes);
    const dropped = Math.max(0, nodes.length - keep);
    return { kind: q.kind, t0, t1, total: nodes[0].value, items, dropped, nodes: dropped > 0 ? prune(nodes, keep) : nodes, note };
  }

  chain(q: ChainQuery, max = MAX_CHAIN_STEPS): ChainData | null {
    let g: number;
    let t: number;
    if ("task" in q) {
      const task = this.data.tasks.find((x) => x[0] === q.task);
      if (!task) return null;
      if (task[4] >= 0 && task[11] >= 0) [g, t] = [task[11], task[4]];
      else if (task[5] >= 0) [g, t] = [task[5], task[4] >= 0 ? task[4] : this.data.span];
      else return null;
    } else [g, t] = [q.g, q.t];
    if (!this.laneOfG.has(g)) return null;
    const start = { g, t };
    const steps: ChainStep[] = [];
    const seen = new Set<string>();
    let merged = false;
    while (steps.length < max) {
      const lane = this.laneOfG.get(g);
      const row = lane === undefined ? undefined : this.rows.get(lane)?.[0];
      if (!row) break;
      const upto = partition(row.length / S, (j) => row[j * S] > t);
      let i = upto - 1;
      while (i >= 0 && !(row[i * S + 2] === Kind.Runnable && row[i * S + 7] === 1 && row[i * S + 4] !== 0)) {
        if (row[i * S + 7] !== 1) merged = true;
        i--;
      }
      if (i < 0 || seen.has(`${lane}:${i}`)) break;
      seen.add(`${lane}:${i}`);
      const k = i * S;
      const waker = row[k + 4] - 2;
      const p = i > 0 ? (i - 1) * S : -1;
      const prev = p >= 0 && row[p + 2] === Kind.Waiting && row[p + 7] === 1 && row[p + 1] === row[k] ? p : -1;
      steps.push({
        g,
        woken: row[k],
        ran: row[k + 1],
        waker,
        created: prev < 0,
        blocked: prev < 0 ? -1 : row[prev],
        reason: prev < 0 ? "" : this.data.strings[String(row[prev + 3])] ?? "",
        blockedStack: prev < 0 ? 0 : row[prev + 5],
        stack: prev < 0 ? row[k + 5] : row[prev + 6],
      });
      if (waker < 0) break;
      g = waker;
      t = row[k];
    }
    return { ...start, steps, note: merged ? "Short slices merged by the offline page's budget may hide wakes; use trace-tool view for all of them." : undefined };
  }
}

/** Keeps the `keep` heaviest nodes (shallower first among equals), renumbered in their order. */
function prune(nodes: FlameNode[], keep: number): FlameNode[] {
  const depth = new Array<number>(nodes.length).fill(0);
  for (let i = 1; i < nodes.length; i++) depth[i] = depth[nodes[i].parent] + 1;
  const order = nodes.map((_, i) => i);
  order.sort((a, b) => nodes[b].value - nodes[a].value || depth[a] - depth[b] || a - b);
  const kept = order.slice(0, keep).sort((a, b) => a - b);
  const id = new Map(kept.map((i, k) => [i, k]));
  return kept.map((i) => ({ ...nodes[i], parent: id.get(nodes[i].parent) ?? 0 }));
}

/** First index in [0, n) whose element satisfies `pred` (monotone). */
export function partition(n: number, pred: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
