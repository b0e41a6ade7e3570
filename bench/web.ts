// Benchmark: the dashboard's chat view in real Chromium, a 100,000-trace chat next to a 1,000-trace
// baseline measured in the same run.
//   npm run bench:web                               # `npm start` on embedded PGlite in a temporary DATA_DIR
//   DATABASE_URL=postgresql://… npm run bench:web   # that PostgreSQL server instead
//   BENCH_WEB_TRACES=20000 npm run bench:web        # a smaller big chat (default 100,000)
//   BENCH_WEB_WRITE=0 npm run bench:web             # print only; leave BENCHMARKS.md alone
//   BENCH_WEB_DATA_DIR=/tmp/tdbench npm run bench:web  # keep the PGlite folder: a rerun reuses the seeded chats
// For each chat: time to the first waterfall rows (navigation start to the first row on screen),
// frame times while scrolling the waterfall from top to bottom one screenful per frame (p50, p95 of
// requestAnimationFrame deltas), and the JS heap after a forced GC at the top, the middle and the
// bottom (CDP HeapProfiler.collectGarbage + Runtime.getHeapUsage). Figures only: nothing here
// passes or fails; the targets at 100,000 are shown next to the figures.
import { execSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import { Api, makeTraces } from "../tests/e2e-browser/helpers/api.js";
import { CHROMIUM, launchBrowser } from "../tests/e2e-browser/helpers/browser.js";
import { ensureDashboardBuilt, repoRoot, startServer } from "../tests/e2e-browser/helpers/server.js";

const BIG = Number(process.env.BENCH_WEB_TRACES ?? 100_000);
const SMALL = 1_000;
const TURNS_BIG = 100;
const TURNS_SMALL = 10;
const WRITE = process.env.BENCH_WEB_WRITE !== "0";

// What the chat view renders (web/src/views/ChatView.vue and its waterfall component).
// A loaded trace row (placeholders have no data-trace-id) of the treegrid the waterfall scrolls in.
const SCROLLER = process.env.BENCH_WEB_SCROLLER ?? '[role="treegrid"][aria-label="Tool traces by turn"]';
const ROW = process.env.BENCH_WEB_ROW ?? `${SCROLLER} [role="row"][aria-level="2"][data-trace-id]`;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : Number.NaN);

interface Figures {
  traces: number;
  firstRowsMs: number;
  firstRowsAll: number[];
  requests: GraphqlRequest[];
  frameShareOver40: number;
  frames: number;
  frameP50: number;
  frameP95: number;
  frameMax: number;
  longFrames: number;
  scrollMs: number;
  heapTop: number;
  heapMiddle: number;
  heapBottom: number;
  heapTopAgain: number;
  assetsMs: number;
  frameShareOver20: number;
  domTop: number;
  domBottom: number;
  rowsRendered: number;
}

async function heapAfterGc(cdp: CDPSession): Promise<number> {
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("HeapProfiler.collectGarbage");
  const { usedSize } = await cdp.send("Runtime.getHeapUsage");
  return usedSize;
}

/** Scrolls the waterfall from its position to `to` (px) one screenful per frame; returns the frame deltas. */
async function scrollTo(page: Page, to: number): Promise<{ deltas: number[]; elapsed: number }> {
  return page.evaluate(
    async ({ selector, to }) => {
      const el = document.querySelector<HTMLElement>(selector)!;
      const step = Math.max(1, el.clientHeight);
      const deltas: number[] = [];
      const t0 = performance.now();
      let last = await new Promise<number>((r) => requestAnimationFrame(r));
      for (;;) {
        const target = Math.min(to, el.scrollHeight - el.clientHeight);
        if (Math.abs(el.scrollTop - target) < 1) break;
        el.scrollTop = el.scrollTop < target ? Math.min(target, el.scrollTop + step) : Math.max(target, el.scrollTop - step);
        const now = await new Promise<number>((r) => requestAnimationFrame(r));
        deltas.push(now - last);
        last = now;
      }
      // Let the rows of the last position arrive and render.
      for (let i = 0; i < 10; i++) {
        const now = await new Promise<number>((r) => requestAnimationFrame(r));
        deltas.push(now - last);
        last = now;
      }
      return { deltas, elapsed: performance.now() - t0 };
    },
    { selector: SCROLLER, to },
  );
}

const FIRST_ROW_SCRIPT = `(() => {
  const selector = ${JSON.stringify(ROW)};
  const observer = new MutationObserver(() => {
    if (window.__firstRowAt !== undefined) return;
    for (const el of document.querySelectorAll(selector)) {
      const r = el.getBoundingClientRect();
      if (r.height > 0 && r.bottom > 0 && r.top < innerHeight && (el.textContent || "").trim() !== "") {
        window.__firstRowAt = performance.now();
        observer.disconnect();
        return;
      }
    }
  });
  observer.observe(document, { childList: true, subtree: true, characterData: true });
})();`;

/** A fresh context (cold HTTP cache) on the chat view; resolves once the first row is on screen. */
interface GraphqlRequest {
  operation: string;
  /** ms since navigation start */
  start: number;
  end: number;
}

/** A fresh context (cold HTTP cache) on the chat view; resolves once the first row is on screen. */
async function openChat(browser: Browser, baseUrl: string, chatUuid: string): Promise<{ context: BrowserContext; page: Page; firstRowsMs: number; requests: GraphqlRequest[]; assetsMs: number }> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // At document start: note the moment (ms since navigation start) the first row is on screen.
  // A string, not a function: tsx would wrap named inner functions in a helper the page lacks.
  await page.addInitScript(FIRST_ROW_SCRIPT);
  // The dashboard's GraphQL requests over HTTP (epoch ms here; made relative to navigation below).
  const started = new Map<object, { operation: string; start: number }>();
  const done: { operation: string; start: number; end: number }[] = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.pathname !== "/graphql") return;
    // urql sends queries as GET (within the URL limit), the rest as POST.
    let body: { operationName?: string; query?: string } = {};
    try {
      body = request.method() === "GET" ? { operationName: url.searchParams.get("operationName") ?? undefined, query: url.searchParams.get("query") ?? undefined } : (request.postDataJSON() as typeof body);
    } catch {
      // not JSON
    }
    const operation = body.operationName || /(?:query|mutation)\s+(\w+)/.exec(body.query ?? "")?.[1] || "?";
    started.set(request, { operation, start: Date.now() });
  });
  page.on("requestfinished", (request) => {
    const s = started.get(request);
    if (s) done.push({ ...s, end: Date.now() });
  });
  await page.goto(`/chats/${chatUuid}`);
  await page.waitForFunction(() => (window as unknown as { __firstRowAt?: number }).__firstRowAt !== undefined, undefined, { timeout: 60_000 });
  await page.waitForTimeout(1_500);
  const [firstRowsMs, origin, assetsMs] = await page.evaluate(
    () =>
      [
        (window as unknown as { __firstRowAt: number }).__firstRowAt,
        performance.timeOrigin,
        // When the last script or stylesheet of the build had arrived.
        Math.max(0, ...performance.getEntriesByType("resource").filter((e) => /\.(js|css)(\?|$)/.test(e.name)).map((e) => (e as PerformanceResourceTiming).responseEnd)),
      ] as const,
  );
  const requests = [...done, ...[...started.values()].filter((r) => !done.some((d) => d.operation === r.operation && d.start === r.start)).map((r) => ({ ...r, end: Number.NaN }))]
    .map((r) => ({ operation: r.operation, start: r.start - origin, end: r.end - origin }))
    .filter((r) => r.start <= firstRowsMs);
  return { context, page, firstRowsMs, requests, assetsMs };
}

async function measure(baseUrl: string, chatUuid: string, traces: number): Promise<Figures> {
  const browser = await launchBrowser(["--enable-precise-memory-info"]);
  try {
    // First rows: the median of three cold loads (a fresh context each).
    const loads: number[] = [];
    for (let i = 0; i < 2; i++) {
      const opened = await openChat(browser, baseUrl, chatUuid);
      loads.push(opened.firstRowsMs);
      await opened.context.close();
    }
    const { context, page, firstRowsMs: last, requests, assetsMs } = await openChat(browser, baseUrl, chatUuid);
    loads.push(last);
    const firstRowsMs = pct(loads, 0.5);
    const cdp = await context.newCDPSession(page);
    await cdp.send("HeapProfiler.enable");

    await page.waitForSelector(SCROLLER, { timeout: 30_000 });
    await page.waitForTimeout(1_000);

    const heapTop = await heapAfterGc(cdp);
    const domTop = await page.evaluate(() => document.getElementsByTagName("*").length);
    const height = await page.$eval(SCROLLER, (el) => el.scrollHeight - el.clientHeight);

    const first = await scrollTo(page, Math.floor(height / 2));
    // Past the waterfall's settle time, after which it rebuilds its row measurements.
    await page.waitForTimeout(1_500);
    const heapMiddle = await heapAfterGc(cdp);
    const second = await scrollTo(page, height);
    await page.waitForTimeout(1_500);
    const heapBottom = await heapAfterGc(cdp);
    const domBottom = await page.evaluate(() => document.getElementsByTagName("*").length);
    const rowsRendered = await page.$$eval(ROW, (els) => els.length);
    // Straight back to the top: what the rows scrolled past still hold shows here.
    await page.$eval(SCROLLER, (el) => (el.scrollTop = 0));
    await page.waitForTimeout(1_500);
    const heapTopAgain = await heapAfterGc(cdp);

    const deltas = [...first.deltas, ...second.deltas];
    await context.close();
    return {
      traces,
      firstRowsMs,
      firstRowsAll: loads,
      requests,
      frameShareOver40: deltas.filter((d) => d > 40).length / deltas.length,
      frames: deltas.length,
      frameP50: pct(deltas, 0.5),
      frameP95: pct(deltas, 0.95),
      frameMax: Math.max(...deltas),
      longFrames: deltas.filter((d) => d > 50).length,
      scrollMs: first.elapsed + second.elapsed,
      heapTop,
      heapMiddle,
      heapBottom,
      heapTopAgain,
      assetsMs,
      frameShareOver20: deltas.filter((d) => d > 20).length / deltas.length,
      domTop,
      domBottom,
      rowsRendered,
    };
  } finally {
    await browser.close();
  }
}

/** A chat seeded by an earlier run in the same BENCH_WEB_DATA_DIR, if any. */
async function findSeeded(api: Api, title: string, count: number): Promise<string | null> {
  const data = await api.gql<{ chats: { edges: { node: { uuid: string; title: string; stats: { traceCount: number } } }[] } }>(
    `query($t: String!) { chats(first: 10, filter: { titleContains: $t }) { edges { node { uuid title stats { traceCount } } } } }`,
    { t: title },
  );
  return data.chats.edges.find((e) => e.node.title === title && e.node.stats.traceCount === count)?.node.uuid ?? null;
}

async function seed(api: Api, title: string, count: number, turns: number): Promise<{ uuid: string; ms: number | null }> {
  const reused = await findSeeded(api, title, count);
  if (reused) return { uuid: reused, ms: null };
  const t0 = performance.now();
  const chat = await api.createChat(title, "/work/bench");
  const items = makeTraces({ chatId: chat.id, count, turns, spacingMs: 20, errorEvery: 37, prefix: `b${count}` });
  const perTurn = Math.ceil(count / turns);
  for (let i = 0; i < items.length; i += 1_000) {
    await api.recordTraces(items.slice(i, i + 1_000));
    // Close each turn once its traces are in (a snapshot per turn, as an agent saves one).
    const closed = Math.floor(Math.min(items.length, i + 1_000) / perTurn);
    for (let t = Math.floor(i / perTurn) + 1; t <= closed; t++) {
      await api.saveSnapshot(chat.id, t, [{ role: "user", content: `turn ${t}` }, { role: "assistant", content: `done ${t}` }]);
    }
    if (count >= 10_000 && (i / 1_000) % 10 === 9) process.stdout.write(`  ${(i + 1_000).toLocaleString("en")} traces…\n`);
  }
  return { uuid: chat.uuid, ms: performance.now() - t0 };
}

function machine(): string {
  let model = cpus()[0]?.model ?? "unknown CPU";
  model = model.replace(/\s+/g, " ").trim();
  let chromium = "";
  try {
    chromium = execSync(`${CHROMIUM} --version`, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    // none
  }
  return `nproc ${execSync("nproc", { encoding: "utf8" }).trim()} (${model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Node ${process.version}, ${chromium || "Chromium"}; the server (PGlite in its process) and Chromium share those cores`;
}

ensureDashboardBuilt((line) => console.log(line));
// BENCH_WEB_DATA_DIR: a PGlite folder kept between runs, so a rerun reuses the seeded chats.
const keptDir = process.env.BENCH_WEB_DATA_DIR || undefined;
if (keptDir) mkdirSync(keptDir, { recursive: true });
const server = await startServer({ dataDir: keptDir, env: process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {} });
const database = process.env.DATABASE_URL ? "PostgreSQL (DATABASE_URL)" : "embedded PGlite";
console.log(`Tracedeck dashboard benchmark: ${server.url}, ${database}, ${BIG.toLocaleString("en")} traces next to ${SMALL.toLocaleString("en")}\n`);

try {
  const api = new Api(server.url);
  console.log(`seeding ${SMALL.toLocaleString("en")} traces (${TURNS_SMALL} turns)…`);
  const small = await seed(api, `bench ${SMALL}`, SMALL, TURNS_SMALL);
  console.log(`seeding ${BIG.toLocaleString("en")} traces (${TURNS_BIG} turns, recordToolTraces batches of 1,000 over HTTP)…`);
  const big = await seed(api, `bench ${BIG}`, BIG, TURNS_BIG);
  const seedRate = (n: number, t: number | null) => (t == null ? "reused from an earlier run (BENCH_WEB_DATA_DIR)" : `${(t / 1000).toFixed(1)} s (${Math.round((n / t) * 1000).toLocaleString("en")} traces/s)`);
  console.log(`seeded: ${SMALL.toLocaleString("en")} traces: ${seedRate(SMALL, small.ms)}; ${BIG.toLocaleString("en")} traces: ${seedRate(BIG, big.ms)}\n`);

  // Warm-up (discarded): the server's first queries and the browser's first start.
  {
    const browser = await launchBrowser();
    const opened = await openChat(browser, server.url, small.uuid);
    await opened.context.close();
    await browser.close();
  }
  const smallFigures = await measure(server.url, small.uuid, SMALL);
  const bigFigures = await measure(server.url, big.uuid, BIG);

  const flat = bigFigures.heapBottom - bigFigures.heapMiddle;
  const rows: [string, (f: Figures) => string, string][] = [
    ["first rows on screen (navigation start →), median of 3", (f) => `${ms(f.firstRowsMs)} (${f.firstRowsAll.map((x) => Math.round(x)).join(", ")})`, "< 1 s"],
    ["  of which: the build's JS and CSS loaded (last load)", (f) => ms(f.assetsMs), ""],
    ["scroll top → bottom, one screenful a frame", (f) => `${f.frames} frames, ${(f.scrollMs / 1000).toFixed(1)} s`, ""],
    ["frame time p50", (f) => `${f.frameP50.toFixed(1)} ms`, ""],
    ["frame time p95", (f) => `${f.frameP95.toFixed(1)} ms`, "< 33 ms"],
    ["frames that missed a vsync (> 20 ms)", (f) => `${(f.frameShareOver20 * 100).toFixed(1)} %`, "< 5 % (that is p95 < 33 ms)"],
    ["frames that missed two vsyncs or more (> 40 ms)", (f) => `${(f.frameShareOver40 * 100).toFixed(1)} %`, ""],
    ["frame time max / frames over 50 ms", (f) => `${ms(f.frameMax)} / ${f.longFrames}`, ""],
    ["JS heap after GC: top", (f) => mib(f.heapTop), ""],
    ["JS heap after GC: middle", (f) => mib(f.heapMiddle), ""],
    ["JS heap after GC: bottom", (f) => mib(f.heapBottom), "flat (bottom ≈ middle)"],
    ["JS heap after GC: back at the top", (f) => mib(f.heapTopAgain), ""],
    ["DOM elements: top / bottom", (f) => `${f.domTop} / ${f.domBottom}`, ""],
    ["rows in the DOM at the bottom", (f) => String(f.rowsRendered), ""],
  ];
  const header = `| | ${BIG.toLocaleString("en")} traces | ${SMALL.toLocaleString("en")} traces (baseline) | target at ${BIG.toLocaleString("en")} |`;
  const table = [header, "| --- | --- | --- | --- |", ...rows.map(([what, fig, target]) => `| ${what} | ${fig(bigFigures)} | ${fig(smallFigures)} | ${target} |`)].join("\n");
  const verdicts = [
    `first rows < 1 s: ${bigFigures.firstRowsMs < 1000 ? "met" : "NOT met"} (${ms(bigFigures.firstRowsMs)})`,
    `p95 frame < 33 ms: ${bigFigures.frameP95 < 33 ? "met" : "NOT met"} (p95 ${bigFigures.frameP95.toFixed(1)} ms; rAF deltas come in whole vsyncs of 16.7 ms, so this asks that under 5 % of frames miss a vsync: ${(bigFigures.frameShareOver20 * 100).toFixed(1)} % did)`,
    `heap flat: ${Math.abs(flat) <= 0.1 * bigFigures.heapMiddle ? "met" : "NOT met"} (middle → bottom ${flat >= 0 ? "+" : ""}${mib(flat)}, ${bigFigures.heapMiddle ? ((flat / bigFigures.heapMiddle) * 100).toFixed(0) : "?"} %; top → middle ${mib(bigFigures.heapMiddle - bigFigures.heapTop)})`,
  ];
  const breakdown = (f: Figures) =>
    [...f.requests]
      .sort((a, b) => a.start - b.start)
      .map((r) => `${r.operation} ${Math.round(r.start)}–${Number.isNaN(r.end) ? "…" : Math.round(r.end)} ms`)
      .join(", ") || "none";
  const requestLines = [
    `GraphQL requests started before the first row (last load, ms since navigation start), ${BIG.toLocaleString("en")}: ${breakdown(bigFigures)}`,
    `GraphQL requests started before the first row (last load, ms since navigation start), ${SMALL.toLocaleString("en")}: ${breakdown(smallFigures)}`,
  ];
  const seeding = `Seeding over HTTP (recordToolTraces, batches of 1,000, a snapshot per turn): ${BIG.toLocaleString("en")} traces: ${seedRate(BIG, big.ms)}; ${SMALL.toLocaleString("en")} traces: ${seedRate(SMALL, small.ms)}.`;
  console.log(table);
  console.log(`\n${verdicts.join("\n")}\n${requestLines.join("\n")}\n${seeding}`);

  if (WRITE) {
    const section = `## Dashboard

The chat view (\`/chats/:id\`) in headless Chromium against \`npm start\` (${database}), a ${BIG.toLocaleString("en")}-trace chat
(${TURNS_BIG} turns, one error in 37, tokens on every trace) next to a ${SMALL.toLocaleString("en")}-trace chat measured in the same run.

${table}

- ${verdicts.join("\n- ")}
- ${requestLines.join("\n- ")}
- ${seeding}

How it is measured (\`bench/web.ts\`): the first rows are timed from navigation start to the first
loaded waterfall row (\`${ROW}\`) on screen, noted by a MutationObserver installed before the page's
own scripts; the median of three loads, each in a fresh browser context (cold HTTP cache), after one
discarded warm-up load. Frame times are the deltas between \`requestAnimationFrame\` callbacks while the waterfall
(\`${SCROLLER}\`) scrolls from the top to the middle, then to the bottom, one screenful a frame. The JS
heap is \`Runtime.getHeapUsage\` after two forced collections (\`HeapProfiler.collectGarbage\`) at the
top, the middle and the bottom.

Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}.

Run it: \`npm run bench:web\` (\`DATABASE_URL=postgresql://… npm run bench:web\` for PostgreSQL,
\`BENCH_WEB_TRACES=20000\` for a smaller big chat, \`BENCH_WEB_DATA_DIR=/some/folder\` to keep the
PGlite folder so that a rerun reuses the seeded chats, \`BENCH_WEB_WRITE=0\` to leave this file
alone). It needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH). It is not part of CI.
`;
    const file = join(repoRoot, "BENCHMARKS.md");
    const existing = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n\nFigures only: nothing here passes or fails a build.\n";
    const start = existing.indexOf("## Dashboard");
    let next = start < 0 ? -1 : existing.indexOf("\n## ", start + 1);
    if (next >= 0) next += 1;
    const updated = start < 0 ? `${existing.trimEnd()}\n\n${section}` : `${existing.slice(0, start)}${section}${next >= 0 ? `\n${existing.slice(next)}` : ""}`;
    writeFileSync(file, updated);
    console.log(`\nwrote the Dashboard section of BENCHMARKS.md`);
  }
} finally {
  await server.stop();
}
