// The details panel (what is selected, with its stacks) and the task list
// (tasks sorted by latency; a click zooms to the task).

import { DataSource } from "./data";
import { fmtCount, fmtDur } from "./format";
import { Frame, Kind, KIND_NAMES, Meta, Mmu, Stacks, TaskDetails, TaskTuple } from "./types";
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
  ) {}

  private taskById(id: number): TaskTuple | undefined {
    return this.view.meta.tasks.find((t) => t[0] === id);
  }

  show(sel: Selection): void {
    const root = this.root;
    root.textContent = "";
    root.dataset.kind = "";
    delete root.dataset.stacks;
    delete root.dataset.task;
    if (!sel) {
      root.appendChild(el("div", "hint", "Click a slice, a log marker (▼) or a task for details and stacks."));
      return;
    }
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
    const seq = ++this.seq;
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
    ++this.seq;
    root.textContent = "";
    delete root.dataset.stacks;
    delete root.dataset.task;
    root.dataset.kind = "mmu";
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
