// Formatting of times, sizes and counts, and the color scheme.

import { Kind } from "./types";

/** A duration in ns, e.g. `1.25 ms`. */
export function fmtDur(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1e3) return `${trim(ns)} ns`;
  if (a < 1e6) return `${trim(ns / 1e3)} µs`;
  if (a < 1e9) return `${trim(ns / 1e6)} ms`;
  return `${trim(ns / 1e9)} s`;
}

function trim(v: number): string {
  const a = Math.abs(v);
  const digits = a >= 100 ? 1 : a >= 10 ? 2 : 3;
  return v.toFixed(digits).replace(/\.?0+$/, "");
}

/** A time since the first event, in ns. */
export function fmtTime(ns: number): string {
  return fmtDur(ns);
}

export function fmtBytes(v: number): string {
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${trim(v / 1024)} KiB`;
  if (v < 1024 * 1024 * 1024) return `${trim(v / 1024 / 1024)} MiB`;
  return `${trim(v / 1024 / 1024 / 1024)} GiB`;
}

export function fmtCount(v: number): string {
  return v.toLocaleString("en-US");
}

/** A step for axis ticks: 1, 2 or 5 × 10^k ns, at least `min` ns. */
export function niceStep(min: number): number {
  let p = Math.pow(10, Math.floor(Math.log10(Math.max(min, 1))));
  for (;;) {
    for (const m of [1, 2, 5]) if (m * p >= min) return m * p;
    p *= 10;
  }
}

function hash(s: string | number): number {
  const str = String(s);
  let h = 2166136261;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function hashColor(key: string | number, sat = 55, light = 62): string {
  return `hsl(${hash(key) % 360}, ${sat}%, ${light}%)`;
}

export const COLORS: Record<number, string> = {
  [Kind.Running]: "#3f9e6e",
  [Kind.Runnable]: "#f2b84b",
  [Kind.Waiting]: "#d5dde3",
  [Kind.Syscall]: "#e0715f",
  [Kind.ThreadSyscall]: "#e0715f",
};

/** The color of a range by name. */
export function rangeColor(name: string): string {
  if (name.startsWith("stop-the-world")) return "#c62828";
  if (name.startsWith("GC concurrent mark")) return "#f08c30";
  if (name.startsWith("GC incremental sweep")) return "#a1887f";
  if (name.startsWith("GC mark assist")) return "#ab7ac0";
  return hashColor(name, 40, 60);
}

export const SERIES_COLORS = ["#3b78c2", "#e0862d", "#5b9e45", "#9467bd"];
