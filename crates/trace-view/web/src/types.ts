// The JSON API of crates/trace-view (src/json.rs) and the codes it uses.

/** Slice kinds: `SliceKind` in src/model.rs. */
export const enum Kind {
  Running = 1,
  Runnable = 2,
  Waiting = 3,
  Syscall = 4,
  ProcRun = 5,
  ThreadRun = 6,
  ThreadSyscall = 7,
  Region = 8,
  Range = 9,
  Task = 10,
}

export const KIND_NAMES: Record<number, string> = {
  1: "running",
  2: "runnable",
  3: "waiting",
  4: "syscall",
  5: "running on proc",
  6: "running on thread",
  7: "syscall on thread",
  8: "region",
  9: "range",
  10: "task",
};

/** Numbers per slice in a row array: start, end, kind, arg, extra, stack0, stack1, count. */
export const S = 8;
/** Numbers per mark: time, kind, category, message, task, stack, count. */
export const M = 7;
/** Numbers per chart point: time, min, max, last. */
export const Q = 4;

export type LaneKind = "gc" | "tasks" | "proc" | "thread" | "goroutine";

export interface LaneMeta {
  kind: LaneKind;
  id: number;
  name: string;
  label: string;
  /** For goroutines: the stack where it was created (0: none). */
  stack: number;
  /** Whether it was created within the trace (else `stack` is its first stack in it). */
  created: boolean;
  rows: number;
  slices: number;
  marks: number;
}

export interface ChartMeta {
  name: string;
  unit: "bytes" | "count";
  series: string[];
  max: number[];
}

/** [id, parent, type, start, end, goroutine, row, stack0, stack1, regions, logs, end goroutine]; -1 = unknown. */
export type TaskTuple = [number, number, number, number, number, number, number, number, number, number, number, number];

export type Strings = Record<string, string>;

export interface Meta {
  title: string;
  version: string;
  base: number;
  span: number;
  stats: { events: number; slices: number; marks: number; stacks: number; samples: number };
  lanes: LaneMeta[];
  charts: ChartMeta[];
  tasks: TaskTuple[];
  strings: Strings;
  /** The trace doctor: what limits what the trace can tell. */
  doctor: { ok: boolean; line: string; findings: string[] };
  mmu: Mmu;
}

/** Minimum mutator utilization: the worst share of the procs left to the program over windows of each length. */
export interface Mmu {
  /** ns, increasing */
  windows: number[];
  /** 0 to 1 */
  values: number[];
  mean: number;
  steps: number;
}

export interface LaneData {
  i: number;
  rows: number[][];
  marks: number[];
}

export interface WindowData {
  t0: number;
  t1: number;
  res: number;
  lanes: LaneData[];
  strings?: Strings;
}

export interface ChartData {
  t0: number;
  t1: number;
  res: number;
  charts: { series: number[][] }[];
}

/** [func, file, line, pc] */
export type Frame = [string, string, number, string];
export type Stacks = Record<string, Frame[]>;

/** A task's details (`/api/task?id=`): the earliest items of each list, and the totals. */
export interface TaskDetails {
  task: TaskTuple;
  /** [time, category, message, goroutine (-1: none), stack] */
  logs: [number, number, number, number, number][];
  /** [start, end, type, goroutine, stack0, stack1] */
  regions: [number, number, number, number, number, number][];
  children: TaskTuple[];
  goroutines: number[];
  nLogs: number;
  nRegions: number;
  nChildren: number;
  nGoroutines: number;
  strings?: Strings;
}

/** What `--html` embeds. */
export interface Embedded extends Meta {
  window: WindowData;
  chartData: ChartData;
  stacks: Stacks;
  /** By task id; tasks beyond the embedding budget are missing. */
  taskDetails: Record<string, TaskDetails>;
  /** CPU samples: time, lane (-1: off any goroutine), stack; all of them or none. */
  samples: number[];
  /** How many samples were left out (all of them, if any). */
  samplesOmitted: number;
}

/** What a flame graph weighs: CPU samples, or ns waiting / in system calls by blocking stack. */
export type FlameKind = "cpu" | "block" | "syscall";

/** A flame graph request: a time range (default: the whole trace), of one goroutine, or one task (its goroutines inside its regions), or all. */
export interface FlameQuery {
  kind: FlameKind;
  t0?: number;
  t1?: number;
  g?: number;
  task?: number;
}

/** `/api/flame`'s answer: nodes [parent, func (-1: no stack), file, line (0: mixed), value], parents first, 0 the root. */
export interface FlameJson {
  kind: FlameKind;
  t0: number;
  t1: number;
  total: number;
  items: number;
  dropped: number;
  nodes: [number, number, number, number, number][];
  strings: Strings;
}

export interface FlameNode {
  parent: number;
  func: string;
  file: string;
  /** 0 if the merged frames differ. */
  line: number;
  value: number;
}

export interface FlameData {
  kind: FlameKind;
  t0: number;
  t1: number;
  total: number;
  /** Samples or slices counted. */
  items: number;
  /** Nodes left out to keep within the cap. */
  dropped: number;
  nodes: FlameNode[];
  /** Why the answer may be incomplete (offline page). */
  note?: string;
}

/** A wake chain request: from goroutine `g` at `t`, or from where task `task` ended. */
export type ChainQuery = { g: number; t: number } | { task: number };

/** `/api/chain`'s answer: steps [g, woken, ran, waker, created, blocked, reason, blockedStack, stack]. */
export interface ChainJson {
  g: number;
  t: number;
  steps: [number, number, number, number, number, number, number, number, number][];
  strings: Strings;
}

export interface ChainStep {
  g: number;
  /** When it became runnable. */
  woken: number;
  /** When it ran. */
  ran: number;
  /** Who made it runnable (-1: no goroutine). */
  waker: number;
  created: boolean;
  /** When it had blocked (-1 if created). */
  blocked: number;
  reason: string;
  blockedStack: number;
  /** The waker's stack as it woke it. */
  stack: number;
}

export interface ChainData {
  g: number;
  t: number;
  steps: ChainStep[];
  note?: string;
}
