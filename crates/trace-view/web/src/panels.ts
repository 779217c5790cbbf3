// The details panel (what is selected, with its stacks) and the task list
// (tasks sorted by latency; a click zooms to the task).

import { DataSource } from "./data";
import { fmtCount, fmtDur } from "./format";
import { FlameGraph, fmtWeight } from "./flameview";
import { ChainData, ChainQuery, FlameKind, FlameQuery, Frame, Kind, KIND_NAMES, Meta, Mmu, S, Stacks, TaskDetails, TaskTuple } from "./types";
import { Selection, TimelineView } from "./view";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class Details {
  private readonly stackCache = new Map<number, Frame[]>();
  private seq = 0;

  constructor(
    private readonly root: HTMLElement,
    private readonly view: TimelineView,
    private readonly src: DataSource,
    private readonly tooltip: HTMLElement,
  ) {}

  /** Starts a new panel: clears it and its state; returns its sequence number. */
  private reset(kind: string, tall: boolean): number {
    const root = this.root;
    root.textContent = "";
    root.dataset.kind = kind;
    delete root.dataset.stacks;
    delete root.dataset.task;
    delete root.dataset.flame;
    delete root.dataset.chain;
    document.body.classList.toggle("tall", tall);
    this.tooltip.hidden = true;
    this.tooltip.classList.remove("wide");
    return ++this.seq;
  }

  /** A row of buttons: flame graphs of `q` by kind, and a wake chain. */
  private actions(title: string, q: Omit<FlameQuery, "kind">, chain: ChainQuery | null, back: () => void): HTMLElement {
    const bar = el("div", "actions");
    const kinds: [FlameKind, string][] = [
      ["cpu", "CPU flame graph"],
      ["block", "Blocking flame graph"],
      ["syscall", "Syscall flame graph"],
    ];
    for (const [kind, text] of kinds) {
      const b = el("button", "", text);
      b.dataset.action = `flame-${kind}`;
      b.onclick = () => this.showFlame(title, { ...q, kind }, back);
      bar.appendChild(b);
    }
    if (chain) {
      const b = el("button", "", "Wake chain");
      b.dataset.action = "chain";
      b.title = "Who woke this goroutine, who woke that one before, and so on";
      b.onclick = () => this.showChain(title, chain, back);
      bar.appendChild(b);
    }
    return bar;
  }

  /** A time range selected on the timeline: its flame graphs. */
  showRange(t0: number, t1: number): void {
    this.reset("range", false);
    const title = `${fmtDur(t0)} – ${fmtDur(t1)}`;
    this.root.appendChild(el("h3", "", `Time range ${title} (${fmtDur(t1 - t0)})`));
    this.root.appendChild(el("div", "hint", "All goroutines in the range. Shift+drag on the timeline selects another range; Esc clears it."));
    this.root.appendChild(this.actions(`the range ${title}`, { t0, t1 }, null, () => this.showRange(t0, t1)));
  }

  /** The flame graph of `q`, with buttons for the other kinds and back to what it came from. */
  showFlame(title: string, q: FlameQuery, back: () => void): void {
    const seq = this.reset("flame", true);
    const root = this.root;
    const names: Record<FlameKind, string> = { cpu: "CPU samples", block: "Time blocked", syscall: "Time in system calls" };
    root.appendChild(el("h3", "", `${names[q.kind]} of ${title}`));
    const bar = el("div", "actions");
    const b = el("button", "", "← Back");
    b.onclick = back;
    bar.appendChild(b);
    for (const kind of ["cpu", "block", "syscall"] as FlameKind[]) {
      const k = el("button", kind === q.kind ? "toggle on" : "toggle", kind === "cpu" ? "CPU" : kind === "block" ? "Blocking" : "Syscall");
      k.dataset.action = `flame-${kind}`;
      k.onclick = () => this.showFlame(title, { ...q, kind }, back);
      bar.appendChild(k);
    }
    const reset = el("button", "", "Reset zoom");
    bar.appendChild(reset);
    root.appendChild(bar);
    const info = el("div", "hint", "Loading…");
    root.appendChild(info);
    const box = el("div", "flame-box");
    root.appendChild(box);
    this.src
      .flame(q)
      .then((f) => {
        if (seq !== this.seq) return;
        if (!f) {
          info.textContent = "Nothing to show: no such goroutine or task.";
          root.dataset.flame = "none";
          return;
        }
        const what = q.kind === "cpu" ? "samples" : "blocking episodes";
        let text = `${fmtWeight(f.kind, f.total)} in all, ${fmtCount(f.items)} ${what}, ${fmtCount(f.nodes.length)} frames`;
        if (f.dropped > 0) text += ` (${fmtCount(f.dropped)} lighter frames left out)`;
        if (f.total === 0)
          text =
            q.kind === "cpu"
              ? this.view.meta.stats.samples === 0
                ? "This trace has no CPU samples (record with a CPU profile: Go's pprof.StartCPUProfile, or Config::cpu_profile)."
                : "No CPU samples in this selection."
              : `No ${q.kind === "block" ? "blocked" : "system call"} time in this selection.`;
        else text += ". Click a frame to zoom in, the top bars to zoom out.";
        info.textContent = text;
        if (f.note) root.insertBefore(el("div", "hint warn", f.note), box);
        if (f.total > 0) {
          const g = new FlameGraph(box, f, this.tooltip);
          reset.onclick = () => g.zoom(0);
        }
        root.dataset.flame = f.total > 0 ? "loaded" : "empty";
      })
      .catch((e) => {
        console.error(e);
        info.textContent = `Could not load the flame graph: ${e}`;
        root.dataset.flame = "error";
      });
  }

  /** The wake chain of `q`: who made the goroutine runnable, who made that one runnable before, and so on. */
  showChain(title: string, q: ChainQuery, back: () => void): void {
    const seq = this.reset("chain", true);
    const root = this.root;
    const v = this.view;
    root.appendChild(el("h3", "", `Wake chain of ${title}`));
    const bar = el("div", "actions");
    const b = el("button", "", "← Back");
    b.onclick = back;
    bar.appendChild(b);
    root.appendChild(bar);
    const info = el("div", "hint", "Loading…");
    root.appendChild(info);
    this.src
      .chain(q)
      .then((c: ChainData | null) => {
        if (seq !== this.seq) return;
        if (!c) {
          info.textContent = "Nothing to show: no such goroutine or task.";
          root.dataset.chain = "none";
          return;
        }
        info.textContent =
          c.steps.length === 0
            ? `${v.goroutineName(c.g)} was not made runnable by anyone before ${fmtDur(c.t)} in the trace.`
            : `From ${v.goroutineName(c.g)} at ${fmtDur(c.t)}, back in time: who made each goroutine runnable (the goroutine running on the thread that unblocked or created it).`;
        if (c.note) root.appendChild(el("div", "hint warn", c.note));
        const t = el("table", "list chain");
        const head = el("tr");
        for (const h of ["goroutine", "blocked", "on", "made runnable", "by", "waited to run"]) head.appendChild(el("th", "", h));
        if (c.steps.length) t.appendChild(head);
        for (const s of c.steps) {
          const tr = el("tr");
          const cell = (x: string | HTMLElement) => {
            const td = el("td");
            if (typeof x === "string") td.textContent = x;
            else td.appendChild(x);
            tr.appendChild(td);
          };
          cell(this.goroutineAt(s.g, s.blocked >= 0 ? s.blocked : s.woken, s.ran));
          cell(s.created ? "created" : `${fmtDur(s.blocked)} (${fmtDur(s.woken - s.blocked)})`);
          cell(s.created ? "" : s.reason || "—");
          cell(this.at(s.woken, s.woken, fmtDur(s.woken)));
          cell(s.waker < 0 ? "no goroutine (runtime)" : this.goroutineAt(s.waker, s.woken, s.woken));
          cell(fmtDur(s.ran - s.woken));
          t.appendChild(tr);
        }
        root.appendChild(t);
        if (c.steps.length >= 32) root.appendChild(el("div", "hint", "The chain goes further back; it stops after 32 steps."));
        root.dataset.chain = String(c.steps.length);
      })
      .catch((e) => {
        console.error(e);
        info.textContent = `Could not load the chain: ${e}`;
        root.dataset.chain = "error";
      });
  }

  /** A link zooming to `[t0, t1]`. */
  private at(t0: number, t1: number, text: string): HTMLElement {
    const a = el("a", "link", text);
    a.href = "#";
    a.onclick = (ev) => {
      ev.preventDefault();
      const dur = Math.max(t1 - t0, 1000);
      this.view.setWindow(t0 - dur, t1 + dur);
    };
    return a;
  }

  /** A link to goroutine `g`'s lane around `[t0, t1]`. */
  private goroutineAt(g: number, t0: number, t1: number): HTMLElement {
    const i = this.view.goroutineLane.get(g);
    if (i === undefined) return el("span", "", `G${g}`);
    const a = el("a", "link", this.view.laneName(i));
    a.href = "#";
    a.onclick = (ev) => {
      ev.preventDefault();
      const dur = Math.max(t1 - t0, 1000);
      this.view.setWindow(t0 - dur, t1 + dur);
      this.view.showLane(i);
      this.view.revealLane(i);
    };
    return a;
  }

  private taskById(id: number): TaskTuple | undefined {
    return this.view.meta.tasks.find((t) => t[0] === id);
  }

  show(sel: Selection): void {
    const root = this.root;
    const seq = this.reset("", false);
    if (!sel) {
      root.appendChild(el("div", "hint", "Click a slice, a log marker (▼) or a task for details and stacks; Shift+drag selects a time range for flame graphs."));
      return;
    }
    const back = () => {
      this.view.select(sel);
    };
    let actions: HTMLElement | null = null;
    const v = this.view;
    const lane = v.meta.lanes[sel.lane];
    const fields: [string, string | HTMLElement][] = [];
    const stacks: [string, number][] = [];
    let title: string;
    let kindName: string;
    let taskId = -1;
    if (sel.type === "mark") {
      const [t, , cat, msg, task, stack, count] = sel.item;
      kindName = "log";
      title = `Log on ${v.laneName(sel.lane)}`;
      fields.push(["Time", fmtDur(t)]);
      fields.push(["Category", v.str(cat) || "(none)"]);
      fields.push(["Message", v.str(msg)]);
      fields.push(["Task", this.taskLink(task)]);
      if (count > 1) fields.push(["Nearby", `${count - 1} more logs within a pixel; zoom in to see them`]);
      stacks.push(["Logged at", stack]);
    } else {
      const [start, end, kind, arg, extra, stack0, stack1, count] = sel.item;
      kindName = count > 1 ? "merged" : KIND_NAMES[kind] ?? "slice";
      if (count > 1) {
        title = `${fmtCount(count)} slices on ${v.laneName(sel.lane)}, mostly ${KIND_NAMES[kind]}`;
        fields.push(["Start", fmtDur(start)], ["End", fmtDur(end)], ["Duration", fmtDur(end - start)]);
        const b = el("button", "", "Zoom in");
        b.onclick = () => v.setWindow(start, Math.max(end, start + 100));
        fields.push(["", b]);
      } else {
        title = `${v.sliceLabel(kind, arg, extra, 1)} — ${v.laneName(sel.lane)}`;
        fields.push(["Start", fmtDur(start)], ["End", fmtDur(end)], ["Duration", fmtDur(end - start)]);
        switch (kind) {
          case Kind.Running:
          case Kind.Runnable:
          case Kind.Waiting:
          case Kind.Syscall:
            fields.push(["State", KIND_NAMES[kind]]);
            if (v.str(arg)) fields.push(["Reason", v.str(arg)]);
            if (kind === Kind.Runnable && extra > 0) {
              // extra: 2 + the goroutine that unblocked or created it (1: none).
              const w = extra - 2;
              const by = el("span");
              by.appendChild(w < 0 ? el("span", "", "no goroutine (the runtime: a timer or the network poller)") : this.goroutineAt(w, start, start));
              by.appendChild(document.createTextNode(" at "));
              by.appendChild(this.at(start, start, fmtDur(start)));
              // Woken (after a waiting slice that ends where this begins) or created.
              const row0 = v.cache.get(sel.lane)?.rows[0] ?? [];
              let woken = false;
              for (let k = 0; k < row0.length; k += S)
                if (row0[k + 1] === start && row0[k + 2] === Kind.Waiting && row0[k + 7] === 1) woken = true;
              fields.push([woken ? "Woken by" : "Made runnable by", by]);
            }
            {
              const g = lane.id;
              const name = v.laneName(sel.lane);
              actions = this.actions(name, { g }, { g, t: start }, back);
            }
            stacks.push([
              kind === Kind.Waiting ? "Blocked at" : kind === Kind.Syscall ? "System call at" : kind === Kind.Runnable ? "Became runnable at" : "Began at",
              stack0,
            ]);
            stacks.push([kind === Kind.Waiting ? "Unblocked by" : kind === Kind.Running ? "Stopped at" : "Ended by", stack1]);
            break;
          case Kind.ProcRun:
          case Kind.ThreadRun:
          case Kind.ThreadSyscall: {
            fields.push(["Goroutine", this.goroutineLink(extra)]);
            fields.push([lane.kind === "proc" ? "Proc" : "Thread", String(lane.id)]);
            break;
          }
          case Kind.Region: {
            fields.push(["Region", v.str(arg)]);
            fields.push(["Task", this.taskLink(extra)]);
            if (lane.kind === "goroutine")
              actions = this.actions(`region ${v.str(arg)} on ${v.laneName(sel.lane)}`, { g: lane.id, t0: start, t1: end }, { g: lane.id, t: end }, back);
            stacks.push(["Region began at", stack0], ["Region ended at", stack1]);
            break;
          }
          case Kind.Range:
            fields.push(["Range", v.str(arg)]);
            stacks.push(["Began at", stack0]);
            break;
          case Kind.Task: {
            const t = this.taskById(extra);
            fields.push(["Task id", String(extra)]);
            fields.push(["Type", v.str(arg)]);
            if (t) {
              fields.push(["Parent", t[1] < 0 ? "(none)" : this.taskLink(t[1])]);
              fields.push(["Began", t[3] < 0 ? "before the trace" : fmtDur(t[3])]);
              fields.push(["Ended", t[4] < 0 ? "after the trace" : fmtDur(t[4])]);
              if (t[5] >= 0) fields.push(["Goroutine", this.goroutineLink(t[5])]);
              fields.push(["Regions", fmtCount(t[9])], ["Logs", fmtCount(t[10])]);
            }
            stacks.push(["Task began at", stack0], ["Task ended at", stack1]);
            taskId = extra;
            actions = this.actions(`task ${v.str(arg)} #${extra}`, { task: extra }, { task: extra }, back);
            break;
          }
        }
      }
    }
    if (lane.kind === "goroutine" && lane.stack > 0)
      stacks.push([lane.created ? "Goroutine created at" : "Goroutine's first stack in the trace", lane.stack]);
    root.dataset.kind = kindName;
    root.appendChild(el("h3", "", title));
    const table = el("table", "fields");
    for (const [k, val] of fields) {
      const tr = el("tr");
      tr.appendChild(el("th", "", k));
      const td = el("td");
      if (typeof val === "string") td.textContent = val;
      else td.appendChild(val);
      tr.appendChild(td);
      table.appendChild(tr);
    }
    root.appendChild(table);
    if (actions) root.appendChild(actions);
    if (taskId >= 0) {
      const box = el("div", "task-details");
      root.appendChild(box);
      this.src
        .task(taskId)
        .then((d) => {
          if (seq !== this.seq) return;
          this.renderTask(box, d);
          root.dataset.task = d ? "loaded" : "none";
        })
        .catch((e) => {
          console.error(e);
          box.appendChild(el("div", "hint", `Could not load the task's details: ${e}`));
          root.dataset.task = "error";
        });
    }
    const wanted = stacks.filter(([, id]) => id > 0);
    const none = stacks.filter(([, id]) => id === 0).map(([name]) => name.toLowerCase());
    if (none.length > 0) root.appendChild(el("div", "hint", `No stack in the trace for: ${none.join(", ")}.`));
    const box = el("div", "stacks");
    root.appendChild(box);
    this.loadStacks(wanted.map(([, id]) => id)).then((all) => {
      if (seq !== this.seq) return;
      for (const [name, id] of wanted) {
        const frames = all.get(id) ?? [];
        const sec = el("div", "stack");
        sec.appendChild(el("h4", "", `${name} (${frames.length} frames)`));
        const ol = el("ol", "frames");
        for (const [func, file, line, pc] of frames) {
          const li = el("li");
          li.appendChild(el("span", "func", func));
          li.appendChild(el("span", "file", `${file}:${line}`));
          li.appendChild(el("span", "pc", pc));
          ol.appendChild(li);
        }
        sec.appendChild(ol);
        box.appendChild(sec);
      }
      root.dataset.stacks = String(wanted.length);
    });
  }

  /** The MMU curve as a small chart: window length (log scale) against utilization. */
  showMmu(m: Mmu): void {
    const root = this.root;
    this.reset("mmu", false);
    root.appendChild(el("h3", "", "Minimum mutator utilization"));
    root.appendChild(
      el(
        "div",
        "hint",
        `For each window length, the smallest share of the procs the program had for itself (not stopped, not doing GC work) over any window that long. Mean over the trace: ${(m.mean * 100).toFixed(1)}%.`,
      ),
    );
    if (m.windows.length === 0) {
      root.appendChild(el("div", "hint", "The trace is too short for a curve."));
      return;
    }
    // The SVG namespace, spelled so that the page holds no URL (the offline page's test looks for none).
    const NS = ["http:", "", "www.w3.org", "2000", "svg"].join("/");
    const svgEl = (tag: string, attrs: Record<string, string | number>, text?: string) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, val] of Object.entries(attrs)) e.setAttribute(k, String(val));
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const W = 640;
    const H = 170;
    const L = 44;
    const B = 22;
    const svg = svgEl("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "mmu" });
    const lo = Math.log(Math.max(1, m.windows[0]));
    const hi = Math.log(Math.max(m.windows[m.windows.length - 1], m.windows[0] + 1));
    const x = (w: number) => L + ((Math.log(Math.max(1, w)) - lo) / Math.max(hi - lo, 1e-9)) * (W - L - 10);
    const y = (u: number) => 6 + (1 - u) * (H - B - 6);
    for (const u of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(svgEl("line", { x1: L, x2: W - 10, y1: y(u), y2: y(u), stroke: "#e3e7ec" }));
      svg.appendChild(svgEl("text", { x: L - 4, y: y(u) + 4, "text-anchor": "end", "font-size": 10, fill: "#667" }, `${u * 100}%`));
    }
    for (let p = Math.ceil(lo / Math.LN10); p <= hi / Math.LN10; p++) {
      const w = 10 ** p;
      svg.appendChild(svgEl("line", { x1: x(w), x2: x(w), y1: 6, y2: H - B, stroke: "#eef1f4" }));
      svg.appendChild(svgEl("text", { x: x(w), y: H - 6, "text-anchor": "middle", "font-size": 10, fill: "#667" }, fmtDur(w)));
    }
    const d = m.windows.map((w, i) => `${i ? "L" : "M"}${x(w).toFixed(1)},${y(m.values[i]).toFixed(1)}`).join("");
    svg.appendChild(svgEl("path", { d, fill: "none", stroke: "#2f6fd0", "stroke-width": 1.8 }));
    for (let i = 0; i < m.windows.length; i++) {
      const c = svgEl("circle", { cx: x(m.windows[i]), cy: y(m.values[i]), r: 2.2, fill: "#2f6fd0" });
      c.appendChild(svgEl("title", {}, `${fmtDur(m.windows[i])} window: ${(m.values[i] * 100).toFixed(1)}%`));
      svg.appendChild(c);
    }
    root.appendChild(svg);
  }

  /** The logs, regions, child tasks and goroutines of a task, as four small tables. */
  private renderTask(box: HTMLElement, d: TaskDetails | null): void {
    const v = this.view;
    if (!d) {
      box.appendChild(el("div", "hint", "No details for this task (the offline page embeds them for the first tasks only)."));
      return;
    }
    if (d.strings) for (const [k, s] of Object.entries(d.strings)) v.strings.set(k, s);
    const section = (name: string, shown: number, total: number, cls: string): HTMLTableElement | null => {
      const h = el("h4", "", `${name} (${fmtCount(total)}${shown < total ? `, first ${fmtCount(shown)} shown` : ""})`);
      box.appendChild(h);
      if (shown === 0) {
        box.appendChild(el("div", "hint", "none"));
        return null;
      }
      const t = el("table", `list ${cls}`);
      box.appendChild(t);
      return t;
    };
    const row = (t: HTMLTableElement, cells: (string | HTMLElement)[]) => {
      const tr = el("tr");
      for (const c of cells) {
        const td = el("td");
        if (typeof c === "string") td.textContent = c;
        else td.appendChild(c);
        tr.appendChild(td);
      }
      t.appendChild(tr);
    };
    const at = (t0: number, t1: number, text: string) => {
      const a = el("a", "link", text);
      a.href = "#";
      a.onclick = (ev) => {
        ev.preventDefault();
        const dur = Math.max(t1 - t0, 1000);
        v.setWindow(t0 - dur, t1 + dur);
      };
      return a;
    };
    const logs = section("Logs", d.logs.length, d.nLogs, "task-logs");
    if (logs)
      for (const [t, cat, msg, g] of d.logs)
        row(logs, [at(t, t, fmtDur(t)), g >= 0 ? this.goroutineLink(g) : "—", v.str(cat) || "(none)", v.str(msg)]);
    const regions = section("Regions", d.regions.length, d.nRegions, "task-regions");
    if (regions)
      for (const [s, e, ty, g] of d.regions)
        row(regions, [at(s, e, fmtDur(s)), fmtDur(e - s), v.str(ty) || "(no type)", this.goroutineLink(g)]);
    const children = section("Child tasks", d.children.length, d.nChildren, "task-children");
    if (children)
      for (const c of d.children) {
        const lat = c[3] >= 0 && c[4] >= 0 ? fmtDur(c[4] - c[3]) : "—";
        row(children, [this.taskLink(c[0]), c[3] >= 0 ? fmtDur(c[3]) : "before the trace", lat]);
      }
    const gs = section("Goroutines", d.goroutines.length, d.nGoroutines, "task-goroutines");
    if (gs) for (const g of d.goroutines) row(gs, [this.goroutineLink(g)]);
  }

  private async loadStacks(ids: number[]): Promise<Map<number, Frame[]>> {
    const missing = ids.filter((id) => !this.stackCache.has(id));
    if (missing.length > 0) {
      let got: Stacks = {};
      try {
        got = await this.src.stacks(missing);
      } catch (e) {
        console.error(e);
      }
      for (const id of missing) this.stackCache.set(id, got[String(id)] ?? []);
    }
    return new Map(ids.map((id) => [id, this.stackCache.get(id) ?? []]));
  }

  private taskLink(id: number): HTMLElement {
    const t = this.taskById(id);
    if (!t) return el("span", "", id === 0 ? "background" : String(id));
    const a = el("a", "link", `${this.view.str(t[2])} #${id}`);
    a.href = "#";
    a.onclick = (ev) => {
      ev.preventDefault();
      this.view.focusTask(t);
    };
    return a;
  }

  private goroutineLink(g: number): HTMLElement {
    const i = this.view.goroutineLane.get(g);
    if (i === undefined) return el("span", "", `G${g}`);
    const a = el("a", "link", this.view.laneName(i));
    a.href = "#";
    a.onclick = (ev) => {
      ev.preventDefault();
      this.view.showLane(i);
      this.view.revealLane(i);
    };
    return a;
  }
}

/** The task list, sorted by latency (longest first). */
export class TaskList {
  private sorted: TaskTuple[];
  private filter = "";
  private selected = -1;
  private static readonly SHOWN = 500;

  constructor(
    private readonly root: HTMLElement,
    private readonly title: HTMLElement,
    private readonly view: TimelineView,
    meta: Meta,
  ) {
    const lat = (t: TaskTuple) => (t[4] < 0 ? meta.span : t[4]) - (t[3] < 0 ? 0 : t[3]);
    this.sorted = [...meta.tasks].sort((a, b) => lat(b) - lat(a) || a[0] - b[0]);
    this.render();
  }

  setFilter(f: string): void {
    this.filter = f.trim().toLowerCase();
    this.render();
  }

  setSelected(id: number): void {
    this.selected = id;
    for (const row of this.root.querySelectorAll<HTMLElement>(".task")) {
      row.classList.toggle("selected", Number(row.dataset.id) === id);
    }
  }

  render(): void {
    const v = this.view;
    const list = this.filter ? this.sorted.filter((t) => v.str(t[2]).toLowerCase().includes(this.filter)) : this.sorted;
    this.title.textContent = `Tasks (${fmtCount(list.length)}) by latency`;
    this.root.textContent = "";
    if (list.length === 0) {
      this.root.appendChild(el("div", "hint", this.sorted.length ? "No task matches." : "This trace has no tasks."));
      return;
    }
    for (const t of list.slice(0, TaskList.SHOWN)) {
      const row = el("div", "task");
      row.dataset.id = String(t[0]);
      if (t[0] === this.selected) row.classList.add("selected");
      const open = t[3] < 0 || t[4] < 0;
      const lat = (t[4] < 0 ? v.meta.span : t[4]) - (t[3] < 0 ? 0 : t[3]);
      row.appendChild(el("span", "lat", (open ? "≥" : "") + fmtDur(lat)));
      row.appendChild(el("span", "type", v.str(t[2]) || "(no type)"));
      row.appendChild(el("span", "id", `#${t[0]}`));
      row.title = `task ${t[0]}: ${fmtDur(t[3] < 0 ? 0 : t[3])} → ${t[4] < 0 ? "end" : fmtDur(t[4])}, ${t[9]} regions, ${t[10]} logs`;
      row.onclick = () => {
        v.focusTask(t);
      };
      this.root.appendChild(row);
    }
    if (list.length > TaskList.SHOWN)
      this.root.appendChild(el("div", "hint", `${fmtCount(list.length - TaskList.SHOWN)} more; filter by type to narrow.`));
  }
}
