// An interactive flame graph (an icicle: callers above callees) as SVG:
// click a frame to zoom into it (its ancestors stay as full-width bars
// above), click an ancestor or the root to zoom out; hovering shows the
// function, file:line, value and share.

import { fmtCount, fmtDur } from "./format";
import { FlameData } from "./types";

const ROW = 17;
/** Frames narrower than this (px) are not drawn. */
const MIN_W = 0.6;

/** The SVG namespace, spelled so that the page holds no URL (the offline page's test looks for none). */
const NS = ["http:", "", "www.w3.org", "2000", "svg"].join("/");

function svgEl(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** A weight as the kind counts it. */
export function fmtWeight(kind: string, v: number): string {
  return kind === "cpu" ? `${fmtCount(v)} sample${v === 1 ? "" : "s"}` : fmtDur(v);
}

function color(kind: string, func: string): string {
  const h = hash(func);
  if (func === "(no stack)") return "#c8ccd2";
  if (kind === "cpu") return `hsl(${10 + (h % 45)}, ${70 + (h % 20)}%, ${58 + ((h >> 8) % 12)}%)`;
  if (kind === "syscall") return `hsl(${340 + (h % 30)}, ${45 + (h % 20)}%, ${64 + ((h >> 8) % 10)}%)`;
  return `hsl(${195 + (h % 40)}, ${45 + (h % 20)}%, ${62 + ((h >> 8) % 12)}%)`;
}

export class FlameGraph {
  private readonly children: number[][];
  private focus = 0;
  readonly svg: SVGSVGElement;

  constructor(
    private readonly box: HTMLElement,
    private readonly f: FlameData,
    private readonly tooltip: HTMLElement,
  ) {
    this.children = f.nodes.map(() => []);
    f.nodes.forEach((n, i) => {
      if (i > 0) this.children[n.parent].push(i);
    });
    for (const c of this.children) c.sort((a, b) => (f.nodes[a].func < f.nodes[b].func ? -1 : f.nodes[a].func > f.nodes[b].func ? 1 : 0));
    this.svg = svgEl("svg", { class: "flame" }) as SVGSVGElement;
    box.appendChild(this.svg);
    this.draw();
  }

  /** Zooms so that node `i` spans the width. */
  zoom(i: number): void {
    this.focus = i;
    this.draw();
  }

  private label(i: number): string {
    return i === 0 ? `all (${fmtWeight(this.f.kind, this.f.total)})` : this.f.nodes[i].func;
  }

  private draw(): void {
    const f = this.f;
    const svg = this.svg;
    svg.textContent = "";
    const W = Math.max(300, this.box.clientWidth - 4);
    // Ancestors of the focus, root first.
    const chain: number[] = [];
    for (let i = this.focus; ; i = f.nodes[i].parent) {
      chain.unshift(i);
      if (i === 0) break;
    }
    const rects: [number, number, number, number][] = [];
    chain.forEach((i, d) => rects.push([i, 0, W, d]));
    const focusValue = Math.max(1, f.nodes[this.focus].value);
    let maxDepth = chain.length - 1;
    const walk = (i: number, x: number, depth: number) => {
      let cx = x;
      for (const c of this.children[i]) {
        const w = (f.nodes[c].value / focusValue) * W;
        if (w >= MIN_W) {
          rects.push([c, cx, w, depth]);
          maxDepth = Math.max(maxDepth, depth);
          walk(c, cx, depth + 1);
        }
        cx += w;
      }
    };
    walk(this.focus, 0, chain.length);
    const H = (maxDepth + 1) * ROW + 2;
    svg.setAttribute("width", String(W));
    svg.setAttribute("height", String(H));
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    for (const [i, x, w, depth] of rects) {
      const n = f.nodes[i];
      const g = svgEl("g", { class: i === this.focus ? "frame focus" : "frame", "data-node": i });
      const isAncestor = chain.includes(i) && i !== this.focus;
      g.appendChild(
        svgEl("rect", {
          x: x.toFixed(2),
          y: depth * ROW,
          width: Math.max(0.5, w - 0.5).toFixed(2),
          height: ROW - 1,
          fill: i === 0 ? "#d9dde3" : isAncestor ? "#e6e9ed" : color(f.kind, n.func),
        }),
      );
      if (w > 28) {
        const text = this.label(i);
        const chars = Math.floor((w - 6) / 6.4);
        g.appendChild(svgEl("text", { x: (x + 3).toFixed(2), y: depth * ROW + 12 }, text.length > chars ? `${text.slice(0, Math.max(1, chars - 1))}…` : text));
      }
      g.addEventListener("click", () => this.zoom(i === this.focus && i !== 0 ? n.parent : i));
      g.addEventListener("mousemove", (e) => this.hover(i, e as MouseEvent));
      g.addEventListener("mouseleave", () => {
        this.tooltip.hidden = true;
        this.tooltip.classList.remove("wide");
      });
      svg.appendChild(g);
    }
    this.box.dataset.focus = String(this.focus);
  }

  private hover(i: number, e: MouseEvent): void {
    const f = this.f;
    const n = f.nodes[i];
    const share = (v: number, of: number) => `${((100 * v) / Math.max(1, of)).toFixed(1)}%`;
    const where = i === 0 ? "" : n.file ? `\n${n.file}${n.line > 0 ? `:${n.line}` : ""}` : "";
    let text = `${this.label(i)}${where}\n${fmtWeight(f.kind, n.value)} · ${share(n.value, f.total)} of all`;
    if (this.focus !== 0) text += `, ${share(n.value, f.nodes[this.focus].value)} of ${this.label(this.focus)}`;
    this.tooltip.textContent = text;
    this.tooltip.classList.add("wide");
    this.tooltip.hidden = false;
    this.tooltip.style.left = `${e.clientX + 12}px`;
    this.tooltip.style.top = `${e.clientY + 14}px`;
  }
}
