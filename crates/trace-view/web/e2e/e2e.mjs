// End-to-end test of `trace-tool view` in headless Chromium, driven by
// playwright-core. Run by `cargo xtask e2e`, which builds the tool, records a
// trace with our runtime and installs what is missing; by hand:
//
//   node e2e/e2e.mjs --tool PATH/trace-tool --out DIR [--chromium /usr/bin/chromium]
//        --fixture NAME=TRACE[:large][:plain][:cpu][:noblock][:cut] ... [--html NAME=TRACE]
//
// For each fixture it starts `trace-tool view TRACE`, opens the printed URL
// and checks, like a user would, that the lanes, a task, a region and a log
// marker are drawn; zooms with the keyboard and the mouse wheel; clicks a
// slice and waits for its stack in the details panel; clicks the slowest
// task in the task list; and saves screenshots in DIR. A fixture marked
// `:large` is timed from the start of `trace-tool view` to the first
// complete frame, which must take less than 5 s, and needs no tasks. With
// `--html`, the same checks run on the offline page `--html` writes,
// opened from a file:// URL with the network disabled.
//
// Every page but a large one also gets its flame graphs and wake chains:
// a time range selected with Shift+drag, its blocking and CPU flame graphs
// (`:cpu`: the trace must have CPU samples; `:noblock`: its goroutines
// need not block), a click zooming into a frame,
// the hover text; and, on pages with tasks (not `:plain`), the slowest
// task's flame graph and wake chain. The offline page must compute the
// flame graph the server answers for the same range. A fixture marked
// `:cut` is a trace that breaks off: it is shown up to there, and the
// doctor's line must say so.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const LARGE_LIMIT_MS = 5000;

function parseArgs(argv) {
  const a = { fixtures: [], html: [], chromium: "/usr/bin/chromium" };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === "--tool") a.tool = resolve(v);
    else if (k === "--out") a.out = resolve(v);
    else if (k === "--chromium") a.chromium = v;
    else if (k === "--fixture" || k === "--html") {
      const [name, value] = v.split(/=(.*)/s);
      let rest = value;
      const flags = new Set();
      for (;;) {
        const m = rest.match(/:(large|plain|cpu|noblock|cut)$/);
        if (!m) break;
        flags.add(m[1]);
        rest = rest.slice(0, -m[0].length);
      }
      (k === "--fixture" ? a.fixtures : a.html).push({
        name,
        path: resolve(rest),
        large: flags.has("large"),
        plain: flags.has("plain") || flags.has("large"),
        cpu: flags.has("cpu"),
        noblock: flags.has("noblock"),
        cut: flags.has("cut"),
      });
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.tool || !a.out || (a.fixtures.length === 0 && a.html.length === 0)) throw new Error("need --tool, --out and fixtures");
  return a;
}

const args = parseArgs(process.argv.slice(2));
mkdirSync(args.out, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

/** Starts `trace-tool view` and resolves with its URL and the process. */
function serve(path) {
  return new Promise((resolveUrl, reject) => {
    const t0 = Date.now();
    const child = spawn(args.tool, ["view", path], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`no URL after 60 s: ${out} ${err}`)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) {
        clearTimeout(timer);
        resolveUrl({ url: m[0], child, t0, urlMs: Date.now() - t0, log: () => err.trim() });
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => reject(new Error(`trace-tool view exited with ${code}: ${err}`)));
  });
}

async function launch() {
  const dir = mkdtempSync(join(tmpdir(), "trace-view-e2e-"));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: args.chromium,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { ctx, dir };
}

/**
 * Waits until `predicate` holds in the page, polling from here: the page's
 * Content-Security-Policy forbids the `eval` that `page.waitForFunction`
 * relies on, and `page.evaluate` is not subject to it.
 */
async function until(page, predicate, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(predicate)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${predicate}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function ready(page, timeout = 30000) {
  // Let the page handle what the test just did (scroll events fire with the next frame).
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await until(page, () => document.body.dataset.state === "ready" && Boolean(window.traceView), timeout);
  // One more frame, so that what is drawn matches the data.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

const kinds = (page) => page.evaluate(() => window.traceView.drawnKinds());
const win = (page) => page.evaluate(() => window.traceView.window());
const find = (page, kind, lane) => page.evaluate(([k, l]) => window.traceView.find(k, l), [kind, lane]);

/** Clicks a drawn item of `kind` and waits for its details (and stacks, if `stacks`). */
async function clickItem(page, kind, { lane, stacks = true } = {}) {
  const at = await find(page, kind, lane);
  check(at !== null, `a ${kind} is drawn${lane ? ` on a ${lane} lane` : ""}`);
  await page.mouse.move(at.x, at.y);
  await page.mouse.click(at.x, at.y);
  await page.waitForSelector("#details h3", { timeout: 5000 });
  if (stacks) {
    await until(page, () => Number(document.getElementById("details").dataset.stacks || 0) > 0, 10000);
  }
  return page.evaluate(() => {
    const d = document.getElementById("details");
    return {
      kind: d.dataset.kind,
      title: d.querySelector("h3")?.textContent ?? "",
      text: d.textContent,
      frames: d.querySelectorAll(".frames li").length,
      funcs: [...d.querySelectorAll(".frames .func")].map((e) => e.textContent),
    };
  });
}

/**
 * Clicks tasks in the task list (slowest first) until one has logs or
 * regions in its details panel; returns what the panel lists.
 */
async function findTaskWithDetails(page) {
  const n = Math.min(await page.locator("#task-list .task").count(), 20);
  let last = null;
  for (let i = 0; i < n; i++) {
    const row = page.locator("#task-list .task").nth(i);
    const label = await row.textContent();
    await row.click();
    await until(page, () => ["loaded", "none", "error"].includes(document.getElementById("details").dataset.task), 5000);
    last = await page.evaluate(() => {
      const d = document.getElementById("details");
      const rows = (cls) => d.querySelectorAll(`.${cls} tr`).length;
      return {
        state: d.dataset.task,
        logs: rows("task-logs"),
        regions: rows("task-regions"),
        children: rows("task-children"),
        goroutines: rows("task-goroutines"),
      };
    });
    last.label = label;
    check(last.state === "loaded", `the details of task ${label} load`);
    if (last.logs + last.regions > 0) return last;
  }
  return last;
}

async function zoom(page) {
  const before = await win(page);
  const box = await page.locator("#canvas").boundingBox();
  const x = box.x + 210 + (box.width - 218) / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  const z0 = Date.now();
  for (let i = 0; i < 3; i++) await page.keyboard.press("w");
  await ready(page);
  const zoomMs = Date.now() - z0;
  console.log(`  three zoom steps drawn with fresh data in ${zoomMs} ms`);
  const byKeys = await win(page);
  check(byKeys.t1 - byKeys.t0 < (before.t1 - before.t0) * 0.3, `W zooms in (${fmt(before.t1 - before.t0)} → ${fmt(byKeys.t1 - byKeys.t0)})`);
  await page.keyboard.down("Control");
  await page.mouse.wheel(0, 300);
  await page.keyboard.up("Control");
  await ready(page);
  const byWheel = await win(page);
  check(byWheel.t1 - byWheel.t0 > (byKeys.t1 - byKeys.t0) * 1.5, `Ctrl+wheel zooms out (${fmt(byWheel.t1 - byWheel.t0)})`);
  await page.keyboard.press("d");
  await ready(page);
  const panned = await win(page);
  check(panned.t0 > byWheel.t0, "D pans right");
  await page.keyboard.press("0");
  await ready(page);
  return zoomMs;
}

/** Selects the time range between two fractions of the plot's width with Shift+drag. */
async function selectRange(page, from, to) {
  const box = await page.locator("#canvas").boundingBox();
  const plotX = box.x + 210;
  const plotW = box.width - 218;
  const y = box.y + box.height * 0.6;
  await page.keyboard.down("Shift");
  await page.mouse.move(plotX + plotW * from, y);
  await page.mouse.down();
  await page.mouse.move(plotX + plotW * ((from + to) / 2), y, { steps: 4 });
  await page.mouse.move(plotX + plotW * to, y, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.up("Shift");
  await until(page, () => document.getElementById("details").dataset.kind === "range", 5000);
  return page.evaluate(() => window.traceView.range());
}

/** Clicks a flame graph button of the details panel and waits for the graph. */
async function openFlame(page, kind) {
  await page.click(`#details [data-action=flame-${kind}]`);
  await until(page, () => ["loaded", "empty", "none", "error"].includes(document.getElementById("details").dataset.flame), 20000);
  return page.evaluate(() => {
    const d = document.getElementById("details");
    return {
      state: d.dataset.flame,
      title: d.querySelector("h3")?.textContent ?? "",
      info: [...d.querySelectorAll(".hint")].map((e) => e.textContent).join(" "),
      frames: d.querySelectorAll("svg.flame g.frame").length,
    };
  });
}

/** Clicks the widest frame below the root, checks that the graph zooms to it, and hovers a frame. */
async function zoomFlame(page) {
  const target = await page.evaluate(() => {
    let best = null;
    for (const g of document.querySelectorAll("#details svg.flame g.frame")) {
      if (g.dataset.node === "0") continue;
      const r = g.querySelector("rect").getBoundingClientRect();
      if (!best || r.width > best.w) best = { node: g.dataset.node, x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2, w: r.width };
    }
    return best;
  });
  check(target !== null, "the flame graph has frames below the root");
  await page.mouse.click(target.x, target.y);
  await until(page, () => document.querySelector("#details .flame-box")?.dataset.focus !== "0", 5000);
  const focus = await page.evaluate(() => document.querySelector("#details .flame-box").dataset.focus);
  check(focus === target.node, `clicking a frame zooms into it (node ${focus})`);
  await page.mouse.move(target.x + 1, target.y);
  await until(page, () => !document.getElementById("tooltip").hidden, 5000);
  const tip = await page.locator("#tooltip").textContent();
  check(/%/.test(tip) && /\n/.test(tip), `hovering a frame shows its function, place, value and share (${tip.replace(/\n/g, " · ")})`);
  return tip;
}

/** The flame graphs of a time range and, with tasks, of the slowest task and its wake chain. */
async function checkFlames(page, name, { plain, cpu, noblock }) {
  const out = {};
  if (!plain) {
    const first = page.locator("#task-list .task").first();
    await first.click();
    await until(page, () => document.getElementById("details").dataset.kind === "task", 5000);
    await ready(page);
    const f0 = Date.now();
    const tf = await openFlame(page, "block");
    check(tf.state === "loaded" || tf.state === "empty", `the slowest task's blocking flame graph loads in ${Date.now() - f0} ms (${tf.info.slice(0, 90)})`);
    await page.screenshot({ path: join(args.out, `${name}-task-flame.png`) });
    await page.click("#details .actions button:first-child");
    await until(page, () => document.getElementById("details").dataset.kind === "task", 5000);
    await page.click("#details [data-action=chain]");
    await until(page, () => /^(\d+|none|error)$/.test(document.getElementById("details").dataset.chain ?? ""), 10000);
    const chain = await page.evaluate(() => ({
      state: document.getElementById("details").dataset.chain,
      rows: document.querySelectorAll("#details .chain tr").length,
      text: document.getElementById("details").textContent,
    }));
    check(/^\d+$/.test(chain.state), `the task's wake chain loads (${chain.state} steps)`);
    out.taskChain = Number(chain.state);
    await page.screenshot({ path: join(args.out, `${name}-chain.png`) });
    await page.keyboard.press("Escape");
    await page.keyboard.press("0");
    await ready(page);
  }
  // A runnable slice says who made it runnable; its chain starts with it.
  for (let i = 0; i < 14 && (await find(page, "woken", "goroutine")) === null; i++) {
    await page.keyboard.press("w");
    await ready(page);
  }
  if ((await find(page, "woken", "goroutine")) !== null) {
    const s = await clickItem(page, "woken", { lane: "goroutine", stacks: false });
    check(/Woken by|Made runnable by/.test(s.text), `a runnable slice says who made it runnable (${s.title})`);
    await page.click("#details [data-action=chain]");
    await until(page, () => /^(\d+|none|error)$/.test(document.getElementById("details").dataset.chain ?? ""), 10000);
    const steps = await page.evaluate(() => document.getElementById("details").dataset.chain);
    check(Number(steps) >= 1, `the slice's wake chain starts with its wake (${steps} steps)`);
    out.sliceChain = Number(steps);
    await page.screenshot({ path: join(args.out, `${name}-slice-chain.png`) });
    await page.keyboard.press("Escape");
  } else console.log("  (no runnable slice with a waker on screen)");
  await page.keyboard.press("0");
  await ready(page);
  const r = await selectRange(page, 0.05, 0.95);
  check(r !== null && r.t1 > r.t0, `Shift+drag selects a time range (${fmt(r.t1 - r.t0)})`);
  await ready(page);
  const f0 = Date.now();
  const bf = await openFlame(page, "block");
  out.blockFlameMs = Date.now() - f0;
  if (noblock) check(bf.state === "loaded" || bf.state === "empty", `the range's blocking flame graph answers in ${out.blockFlameMs} ms (${bf.info.slice(0, 80)})`);
  else check(bf.state === "loaded" && bf.frames > 1, `the range's blocking flame graph is drawn in ${out.blockFlameMs} ms (${bf.frames} frames; ${bf.info.slice(0, 80)})`);
  out.blockFlame = bf.info.replace(/ Click.*$/s, "");
  out.range = r;
  if (bf.state === "loaded") {
    await page.screenshot({ path: join(args.out, `${name}-block-flame.png`) });
    out.hover = await zoomFlame(page);
    await page.screenshot({ path: join(args.out, `${name}-block-flame-zoomed.png`) });
  }
  const cf = await openFlame(page, "cpu");
  if (cpu) check(cf.state === "loaded" && cf.frames > 1, `the range's CPU flame graph is drawn (${cf.frames} frames; ${cf.info.slice(0, 80)})`);
  else check(cf.state === "loaded" || cf.state === "empty", `the range's CPU flame graph answers (${cf.info.slice(0, 80)})`);
  out.cpuFlame = cf.info.replace(/ Click.*$/s, "");
  if (cf.state === "loaded") {
    await zoomFlame(page);
    await page.screenshot({ path: join(args.out, `${name}-cpu-flame.png`) });
  }
  await page.keyboard.press("Escape");
  await ready(page);
  return out;
}

function fmt(ns) {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
}

/** The checks every page gets; `annotated` pages must show tasks, regions and logs. */
async function checkPage(page, name, { annotated, plain = !annotated, cpu = false, noblock = false, large = false, cut = false }) {
  const k = await kinds(page);
  console.log(`  drawn: ${JSON.stringify(k)}`);
  const lanes = await page.evaluate(() => window.traceView.lanesShown());
  check(lanes.some((l) => l.startsWith("Proc ")), "proc lanes are drawn");
  check(lanes.some((l) => /^G\d+/.test(l)), "goroutine lanes are drawn");
  check((k.running ?? 0) > 0 || (k.merged ?? 0) > 0, "goroutine states are drawn");
  check((k.chart ?? 0) > 0, "charts are drawn");
  if (annotated) {
    check((k.task ?? 0) > 0, "a task is drawn");
    check((k.region ?? 0) > 0, "a region is drawn");
    check((k.log ?? 0) > 0, "a log marker is drawn");
  }
  await page.screenshot({ path: join(args.out, `${name}-overview.png`) });

  // The trace doctor's line, and the MMU curve.
  const doctor = (await page.locator("#doctor").textContent()) ?? "";
  check(doctor.length > 0, `the doctor line is shown (${doctor})`);
  if (cut) check(/^⚠ truncated in generation \d+/.test(doctor), `the doctor line says first where the trace breaks off (${doctor.slice(0, 90)})`);
  await page.click("#mmu-button");
  await until(page, () => document.getElementById("details").dataset.kind === "mmu", 5000);
  const mmuPoints = await page.locator("#details svg.mmu circle").count();
  check(mmuPoints > 0, `the MMU curve is drawn (${mmuPoints} window lengths)`);
  await page.screenshot({ path: join(args.out, `${name}-mmu.png`) });

  // Threads are folded at first: unfold them, look, fold them again.
  const threads = await find(page, "group:thread");
  check(threads !== null, "the Threads group is drawn");
  await page.mouse.click(threads.x, threads.y);
  await ready(page);
  const shown = await page.evaluate(() => window.traceView.lanesShown());
  const kt = await kinds(page);
  check(shown.some((l) => /^M\d+/.test(l)), "unfolded, thread lanes are drawn");
  check((kt["running on thread"] ?? 0) + (kt.merged ?? 0) > 0, "goroutines are drawn on threads");
  await page.screenshot({ path: join(args.out, `${name}-threads.png`) });
  await page.mouse.click(threads.x, threads.y);
  await ready(page);

  const zoomMs = await zoom(page);
  const timings = { zoomMs };

  if (annotated) {
    const region = await clickItem(page, "region");
    check(region.kind === "region" && region.frames > 0, `clicking a region shows its stack (${region.title}: ${region.funcs[0]})`);
    await page.screenshot({ path: join(args.out, `${name}-region.png`) });
    const log = await clickItem(page, "log");
    check(log.kind === "log" && log.text.includes("Message") && log.frames > 0, `clicking a log marker shows its message and stack (${log.title})`);
    // The slowest task, from the task list.
    const first = page.locator("#task-list .task").first();
    const label = await first.textContent();
    await first.click();
    await until(page, () => document.getElementById("details").dataset.kind === "task", 5000);
    await ready(page);
    const taskText = await page.locator("#details").textContent();
    check(taskText.includes("Task id"), `the task list jumps to the slowest task (${label})`);
    const k2 = await kinds(page);
    check((k2.task ?? 0) > 0, "the task is on screen after the jump");
    await page.screenshot({ path: join(args.out, `${name}-task.png`) });
    // The task's details panel: logs, regions, child tasks, goroutines.
    const details = await findTaskWithDetails(page);
    check(details.goroutines > 0, `a task's details list the goroutines that ran it (${details.label}: ${details.goroutines} goroutines)`);
    check(details.logs + details.regions > 0, `a task's details list its logs and regions (${details.logs} logs, ${details.regions} regions, ${details.children} children)`);
    await page.screenshot({ path: join(args.out, `${name}-task-details.png`) });
  } else {
    // Zoom into the middle until goroutine states are resolved, then click one with a stack.
    for (let i = 0; i < 12; i++) {
      const k3 = await kinds(page);
      if ((k3.waiting ?? 0) > 0) break;
      await page.keyboard.press("w");
      await ready(page);
    }
    const waiting = await clickItem(page, "waiting");
    check(waiting.frames > 0, `clicking a waiting goroutine shows where it blocked (${waiting.title}: ${waiting.funcs[0]})`);
    await page.screenshot({ path: join(args.out, `${name}-zoomed.png`) });
    // Lanes load as they scroll into view: jump to the last goroutines.
    await page.keyboard.press("0");
    await ready(page);
    const s0 = Date.now();
    await page.evaluate(() => {
      const s = document.getElementById("scroller");
      s.scrollTop = s.scrollHeight;
    });
    await ready(page);
    timings.scrollMs = Date.now() - s0;
    const last = await page.evaluate(() => window.traceView.lanesShown());
    const k4 = await kinds(page);
    check(last.length > 0 && /^G\d+/.test(last[last.length - 1]), `scrolling to the last lanes loads them (${last[last.length - 1]}, ${timings.scrollMs} ms)`);
    check(Object.keys(k4).some((k) => k !== "chart"), "the last lanes are drawn");
    await page.screenshot({ path: join(args.out, `${name}-bottom.png`) });
  }
  const flames = large ? {} : await checkFlames(page, name, { plain, cpu, noblock });
  return { drawn: k, doctor, mmuPoints, ...timings, flames };
}

const results = [];
const { ctx, dir } = await launch();
const errors = [];
try {
  for (const f of args.fixtures) {
    console.log(`${f.name}: ${f.path}`);
    const server = await serve(f.path);
    try {
      const page = await ctx.newPage();
      page.on("pageerror", (e) => errors.push(`${f.name}: ${e.message}`));
      const g0 = Date.now();
      await page.goto(server.url);
      await ready(page, 60000);
      const openMs = Date.now() - server.t0;
      const pageMs = Date.now() - g0;
      console.log(`  ${server.log().split("\n")[0]}`);
      console.log(`  opened in ${openMs} ms (URL after ${server.urlMs} ms, page ready ${pageMs} ms after loading it)`);
      if (f.large) check(openMs < LARGE_LIMIT_MS, `the large trace opens in under ${LARGE_LIMIT_MS / 1000} s (${(openMs / 1000).toFixed(2)} s)`);
      const more = await checkPage(page, f.name, { annotated: !f.plain, plain: f.plain, cpu: f.cpu, noblock: f.noblock, large: f.large, cut: f.cut });
      results.push({ fixture: f.name, mode: "served", openMs, urlMs: server.urlMs, pageMs, ...more });
      await page.close();
    } finally {
      server.child.kill();
    }
  }
  for (const f of args.html) {
    console.log(`${f.name} (--html): ${f.path}`);
    const file = join(args.out, `${f.name}.html`);
    const r = spawnSync(args.tool, ["view", f.path, "--html", file], { encoding: "utf8" });
    check(r.status === 0, `trace-tool view --html writes ${file}`);
    const page = await ctx.newPage();
    page.on("pageerror", (e) => errors.push(`${f.name} (html): ${e.message}`));
    // Offline: any request but the file itself fails.
    const requests = [];
    await page.route("**/*", (route) => {
      const u = route.request().url();
      if (u.startsWith("file://")) return route.continue();
      requests.push(u);
      return route.abort();
    });
    const g0 = Date.now();
    await page.goto(`file://${file}`);
    await ready(page, 60000);
    const openMs = Date.now() - g0;
    console.log(`  opened in ${openMs} ms`);
    check(requests.length === 0, `the offline page makes no network request (${requests.join(", ")})`);
    const more = await checkPage(page, `${f.name}-html`, { annotated: !f.plain, plain: f.plain, cpu: f.cpu, noblock: f.noblock });
    results.push({ fixture: f.name, mode: "html", openMs, ...more });
    // The page merges embedded data as the server does: the same trace draws the same.
    const served = results.find((r) => r.fixture === f.name && r.mode === "served");
    if (served) check(JSON.stringify(served.drawn) === JSON.stringify(more.drawn), "the offline page draws what the served page draws");
    if (served && JSON.stringify(served.flames.range) !== JSON.stringify(more.flames.range))
      console.log(`  (not comparing flame graphs: the ranges differ, ${JSON.stringify(served.flames.range)} and ${JSON.stringify(more.flames.range)})`);
    else if (served)
      check(
        served.flames.blockFlame === more.flames.blockFlame && served.flames.cpuFlame === more.flames.cpuFlame,
        `the offline page computes the flame graphs the server answers (${more.flames.blockFlame}; ${more.flames.cpuFlame})`,
      );
    await page.close();
  }
} finally {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
}
if (errors.length) throw new Error(`errors in the page:\n${errors.join("\n")}`);
writeFileSync(join(args.out, "results.json"), JSON.stringify(results, null, 2));
console.log(`e2e: ok (${results.length} pages); screenshots and results.json in ${args.out}`);
