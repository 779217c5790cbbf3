// Entry point: picks the data source, builds the view and panels, and wires
// the mouse and keyboard.
//
// `window.traceView` exposes the state to end-to-end tests: where items of
// each kind were drawn (to click them like a user would), the window shown,
// and whether every lane on screen has its data (`document.body.dataset.state`
// is "ready" then).

import { pickSource } from "./data";
import { fmtCount, fmtDur } from "./format";
import { Details, TaskList } from "./panels";
import { Kind, KIND_NAMES } from "./types";
import { showError, TimelineView } from "./view";

function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e;
}

async function main(): Promise<void> {
  const src = pickSource();
  const meta = await src.meta();
  document.title = `${meta.title} — trace`;
  $("title").textContent = meta.title;
  $("info").textContent = `${meta.version} · ${fmtDur(meta.span)} · ${fmtCount(meta.stats.events)} events · ${fmtCount(
    meta.lanes.filter((l) => l.kind === "goroutine").length,
  )} goroutines${src.kind === "embedded" ? " · offline" : ""}`;
  const doctor = $("doctor");
  // A trace that breaks off says so first: the rest of the line may be cut.
  const findings = [...meta.doctor.findings].sort(
    (a, b) => Number(b.startsWith("truncated")) - Number(a.startsWith("truncated")),
  );
  doctor.textContent = meta.doctor.ok ? "doctor: ok" : `⚠ ${findings.join("; ")}`;
  doctor.classList.toggle("warn", !meta.doctor.ok);
  doctor.title = meta.doctor.ok
    ? "The trace doctor found nothing that limits this trace."
    : `The trace doctor: ${meta.doctor.findings.join("\n")}`;
  const canvas = $("canvas") as HTMLCanvasElement;
  const scroller = $("scroller");
  const view = new TimelineView(meta, src, canvas, scroller, $("spacer"));
  const tooltip = $("tooltip");
  const details = new Details($("details"), view, src, tooltip);
  const tasks = new TaskList($("task-list"), $("tasks-title"), view, meta);
  view.listener = {
    select(sel) {
      details.show(sel);
      tasks.setSelected(sel?.type === "slice" && sel.item[2] === Kind.Task ? sel.item[4] : -1);
    },
    viewChanged() {},
  };
  $("status").hidden = true;
  if (meta.tasks.length === 0) $("tasks").classList.add("empty");

  new ResizeObserver(() => view.resize()).observe(scroller);
  scroller.addEventListener("scroll", () => {
    tooltip.hidden = true;
    view.update();
  });

  // Toolbar.
  $("zoom-in").onclick = () => view.zoomAt(null, 0.5);
  $("zoom-out").onclick = () => view.zoomAt(null, 2);
  $("zoom-fit").onclick = () => view.fit();
  const filter = $("filter") as HTMLInputElement;
  filter.oninput = () => {
    view.filter = filter.value;
    view.layout();
  };
  ($("task-filter") as HTMLInputElement).oninput = (e) => tasks.setFilter((e.target as HTMLInputElement).value);
  $("toggle-tasks").onclick = () => {
    const hidden = $("tasks").classList.toggle("hidden");
    $("toggle-tasks").classList.toggle("on", !hidden);
    view.resize();
  };
  $("mmu-button").onclick = () => {
    view.select(null);
    details.showMmu(meta.mmu);
  };
  const help = $("help");
  $("help-button").onclick = () => (help.hidden = !help.hidden);
  $("help-close").onclick = () => (help.hidden = true);

  // Mouse.
  const local = (e: MouseEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  let drag: { x: number; y: number; t0: number; t1: number; top: number; moved: boolean } | null = null;
  // Shift+drag: a time range, for flame graphs.
  let ranging: { t: number } | null = null;
  canvas.addEventListener("mousedown", (e) => {
    if (e.button !== 0) return;
    const p = local(e);
    if (e.shiftKey && p.x >= view.plotX) {
      ranging = { t: view.timeAt(p.x) };
      view.setRange(null);
      e.preventDefault();
      return;
    }
    drag = { ...p, t0: view.t0, t1: view.t1, top: scroller.scrollTop, moved: false };
    e.preventDefault();
  });
  window.addEventListener("mousemove", (e) => {
    const p = local(e);
    if (ranging) {
      const t = view.timeAt(Math.min(Math.max(p.x, view.plotX), view.plotX + view.plotW));
      view.setRange({ t0: Math.min(ranging.t, t), t1: Math.max(ranging.t, t) });
      return;
    }
    if (drag) {
      const dx = p.x - drag.x;
      const dy = p.y - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        const dt = dx * ((drag.t1 - drag.t0) / view.plotW);
        view.setWindow(drag.t0 - dt, drag.t1 - dt);
        scroller.scrollTop = drag.top - dy;
        canvas.style.cursor = "grabbing";
      }
      return;
    }
    if (e.target !== canvas) return;
    tooltip.classList.remove("wide");
    view.setMouse(p);
    const h = view.hit(p.x, p.y);
    if (!h) {
      tooltip.hidden = true;
      canvas.style.cursor = "default";
      return;
    }
    canvas.style.cursor = "pointer";
    tooltip.hidden = false;
    if (h.type === "mark") tooltip.textContent = `log ${view.str(h.item[2])}: ${view.str(h.item[3])}`;
    else {
      const [s, en, kind, arg, extra, , , count] = h.item;
      tooltip.textContent = `${view.sliceLabel(kind, arg, extra, count)} · ${fmtDur(en - s)}`;
    }
    tooltip.style.left = `${e.clientX + 12}px`;
    tooltip.style.top = `${e.clientY + 14}px`;
  });
  canvas.addEventListener("mouseleave", () => {
    tooltip.hidden = true;
    view.setMouse(null);
  });
  window.addEventListener("mouseup", (e) => {
    if (ranging) {
      ranging = null;
      const r = view.range;
      if (r && (r.t1 - r.t0) / view.nsPerPx >= 3) {
        const t0 = Math.max(0, Math.floor(r.t0));
        const t1 = Math.min(meta.span + 1, Math.ceil(r.t1));
        if (t0 < t1) {
          view.setRange({ t0, t1 });
          view.select(null);
          details.showRange(t0, t1);
          return;
        }
      }
      view.setRange(null);
      return;
    }
    const d = drag;
    drag = null;
    canvas.style.cursor = "default";
    if (!d || d.moved || e.target !== canvas) return;
    const p = local(e);
    if (p.x < view.plotX) {
      const at = view.entryAt(p.x, p.y);
      if (at && at.entry.type === "group") {
        const key = at.entry.key;
        if (!view.collapsed.delete(key)) view.collapsed.add(key);
        view.layout();
      } else if (at && at.entry.type === "lane") {
        view.toggleRows(at.entry.i);
      }
      return;
    }
    view.select(view.hit(p.x, p.y));
  });
  canvas.addEventListener("dblclick", (e) => {
    const p = local(e);
    const h = view.hit(p.x, p.y);
    if (h?.type === "slice") {
      const [s, en] = h.item;
      const d = Math.max(en - s, 100);
      view.setWindow(s - d * 0.05, en + d * 0.05);
    }
  });
  canvas.addEventListener(
    "wheel",
    (e) => {
      const p = local(e);
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      if (e.ctrlKey || e.metaKey || e.altKey) {
        e.preventDefault();
        view.zoomAt(p.x, Math.exp(e.deltaY * unit * 0.002));
      } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        e.preventDefault();
        view.pan((e.shiftKey && e.deltaX === 0 ? e.deltaY : e.deltaX) * unit);
      }
    },
    { passive: false },
  );

  // Keyboard.
  window.addEventListener("keydown", (e) => {
    const t = e.target as HTMLElement;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) {
      if (e.key === "Escape") t.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const m = view.mouseX();
    const step = view.plotW * 0.15;
    switch (e.key) {
      case "w":
      case "W":
      case "+":
      case "=":
        view.zoomAt(m, 0.6);
        break;
      case "s":
      case "S":
      case "-":
      case "_":
        view.zoomAt(m, 1 / 0.6);
        break;
      case "a":
      case "A":
      case "ArrowLeft":
        view.pan(-step);
        break;
      case "d":
      case "D":
      case "ArrowRight":
        view.pan(step);
        break;
      case "ArrowUp":
        scroller.scrollTop -= 60;
        break;
      case "ArrowDown":
        scroller.scrollTop += 60;
        break;
      case "0":
      case "Home":
        view.fit();
        break;
      case "f":
      case "F": {
        const s = view.selection;
        if (s?.type === "slice") {
          const d = Math.max(s.item[1] - s.item[0], 100);
          view.setWindow(s.item[0] - d * 0.05, s.item[1] + d * 0.05);
        }
        break;
      }
      case "Escape":
        view.setRange(null);
        view.select(null);
        help.hidden = true;
        break;
      case "?":
        help.hidden = !help.hidden;
        break;
      default:
        return;
    }
    e.preventDefault();
  });

  view.fit();
  details.show(null);

  // For end-to-end tests.
  const hooks = {
    view,
    /** Where an item of a kind (`running`, `region`, `task`, `log`, `range`, …) is drawn, in page coordinates. */
    find(kind: string, laneKind?: string): { x: number; y: number; lane: string } | null {
      const list = view.drawn.get(kind) ?? [];
      const r = canvas.getBoundingClientRect();
      const viewTop = view.pinnedH;
      const candidates = list
        .filter((d) => d.y > viewTop && d.y < r.height - 4 && (!laneKind || (d.lane >= 0 && meta.lanes[d.lane].kind === laneKind)))
        .sort((a, b) => b.w - a.w);
      const d = candidates[0];
      if (!d) return null;
      return { x: r.left + d.x, y: r.top + d.y, lane: d.lane >= 0 ? view.laneName(d.lane) : "" };
    },
    /** How many items of each kind the last frame drew (up to 50 remembered per kind). */
    drawnKinds(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const [k, v] of view.drawn) out[k] = v.length;
      return out;
    },
    window(): { t0: number; t1: number } {
      return { t0: view.t0, t1: view.t1 };
    },
    range(): { t0: number; t1: number } | null {
      return view.range;
    },
    lanesShown(): string[] {
      return view.visibleLanes(0).map((i) => view.laneName(i));
    },
    kinds: KIND_NAMES,
  };
  (window as unknown as { traceView: typeof hooks }).traceView = hooks;
}

main().catch((e) => {
  showError(e);
  document.body.dataset.state = "error";
});
