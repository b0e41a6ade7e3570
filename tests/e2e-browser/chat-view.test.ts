// The chat view in Chromium: opened from the chats list, a live trace's running bar, and an
// expanded row's input, output and token breakdown. Data is seeded through the GraphQL API.
import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Api, makeTraces } from "./helpers/api.js";
import { launchBrowser, openPage, screenshot } from "./helpers/browser.js";
import { rowCounts, totalShown, traceRow, traceRows, waitForWaterfall, waterfall } from "./helpers/waterfall.js";

const baseUrl = inject("tracedeckUrl");
const api = new Api(baseUrl);
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

test("opening a chat from the chats list shows its traces", async () => {
  const tag = randomUUID().slice(0, 8);
  const title = `Open me ${tag}`;
  const chat = await api.createChat(title, "/work/open");
  const items = makeTraces({ chatId: chat.id, count: 12, turns: 2, prefix: `open_${tag}` }).map((item, i) => ({ ...item, toolName: `open_tool_${i}` }));
  await api.recordTraces(items);
  await api.saveSnapshot(chat.id, 1, [{ role: "user", content: "first" }]);

  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    await page.goto("/");
    const link = page.getByRole("link", { name: title, exact: true });
    await link.waitFor({ state: "visible", timeout: 30_000 });
    // Its row in the list says 12 traces.
    await expect.poll(() => page.getByRole("row", { name: new RegExp(`^${title},`) }).textContent()).toContain("12");
    await screenshot(page, "chats-list");

    await link.click();
    await page.waitForURL(`**/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe(title);
    await expect.poll(() => totalShown(page)).toBe(12);
    await expect.poll(() => traceRows(page).count()).toBe(12);
    for (let i = 0; i < 12; i++) expect(await traceRow(page, `open_tool_${i}`).count(), `open_tool_${i}`).toBe(1);
    // Grouped by turn: two turn headers.
    await expect.poll(() => waterfall(page).locator('[role="row"][aria-level="1"]').count()).toBe(2);
    await screenshot(page, "chat-view-opened");
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test("a trace started through the API shows as running, its bar grows, and it settles when finished", async () => {
  const tag = randomUUID().slice(0, 8);
  const chat = await api.createChat(`Live bar ${tag}`);
  // A few finished traces just before, so the axis has a scale.
  const now = Date.now();
  await api.recordTraces(makeTraces({ chatId: chat.id, count: 4, turns: 1, start: now - 4_000, spacingMs: 400, prefix: `live_${tag}` }));

  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    await expect.poll(() => totalShown(page)).toBe(4);

    await api.startTrace({ chatId: chat.id, toolName: "live_probe", toolCallId: `probe_${tag}`, toolInput: { command: "sleep 5" } });
    const row = traceRow(page, "live_probe");
    await row.waitFor({ state: "visible", timeout: 15_000 });
    await expect.poll(() => row.getByRole("gridcell").nth(2).textContent()).toContain("running");
    const bar = row.getByTestId("timing-bar");
    const width = async () => (await bar.boundingBox())?.width ?? 0;
    const latency = () => row.getByRole("gridcell").nth(3).textContent();

    const w1 = await width();
    const l1 = await latency();
    await page.waitForTimeout(1_000);
    const w2 = await width();
    const l2 = await latency();
    await screenshot(page, "live-running");
    expect(w2, `bar width ${w1} → ${w2} px a second later`).toBeGreaterThan(w1 + 1);
    expect(l2).not.toBe(l1);

    await api.finishTrace({ chatId: chat.id, toolCallId: `probe_${tag}`, output: "slept", tokens: { input: 10, output: 5 } });
    await expect.poll(() => row.getByRole("gridcell").nth(2).textContent(), { timeout: 15_000 }).toContain("ok");
    expect(await row.getByRole("gridcell").nth(2).textContent()).not.toContain("running");
    // Settled: the bar no longer grows (let the 250 ms width transition finish first).
    await page.waitForTimeout(600);
    const s1 = await width();
    const settledLatency = await latency();
    await page.waitForTimeout(1_000);
    const s2 = await width();
    expect(Math.abs(s2 - s1), `settled bar width ${s1} → ${s2} px`).toBeLessThan(0.5);
    expect(await latency()).toBe(settledLatency);
    expect(await page.getByTestId("now-line").count()).toBe(0);
    await screenshot(page, "live-settled");
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test("expanding a row shows its input, output and token breakdown", async () => {
  const tag = randomUUID().slice(0, 8);
  const chat = await api.createChat(`Expand ${tag}`);
  const start = Date.now() - 10_000;
  await api.recordTraces([
    { chatId: chat.id, toolName: "read_file", toolCallId: `a_${tag}`, messageId: `m1_${tag}`, startedAt: new Date(start).toISOString(), finishedAt: new Date(start + 120).toISOString(), toolInput: { path: "README.md" }, output: "# Tracedeck", tokens: { input: 10, output: 2 } },
    {
      chatId: chat.id,
      toolName: "run_command",
      toolCallId: `b_${tag}`,
      messageId: `m2_${tag}`,
      startedAt: new Date(start + 500).toISOString(),
      finishedAt: new Date(start + 2_600).toISOString(),
      toolInput: { command: "npm run expand-probe", cwd: "/work/app" },
      output: `built expand-probe-output ${tag}`,
      tokens: { input: 1234, output: 567, cacheRead: 8910, cacheWrite: 111, reasoning: 22 },
    },
  ]);

  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    const row = traceRow(page, "run_command");
    await row.click();
    await expect.poll(() => row.getAttribute("aria-expanded")).toBe("true");
    expect(page.url()).toContain("trace=");

    const detail = row.getByTestId("trace-detail");
    const input = detail.getByRole("region", { name: "Input" });
    const output = detail.getByRole("region", { name: "Output" });
    const tokens = detail.getByRole("region", { name: "Tokens" });
    await expect.poll(() => input.textContent(), { timeout: 15_000 }).toContain("npm run expand-probe");
    expect(await input.textContent()).toContain("/work/app");
    expect(await output.textContent()).toContain(`built expand-probe-output ${tag}`);
    const kind = async (label: string) =>
      (await tokens.getByRole("row").filter({ has: page.getByRole("rowheader", { name: label, exact: true }) }).getByRole("cell").textContent())?.trim();
    expect(await kind("Input")).toBe("1,234");
    expect(await kind("Output")).toBe("567");
    expect(await kind("Cache read")).toBe("8,910");
    expect(await kind("Cache write")).toBe("111");
    expect(await kind("Reasoning")).toBe("22");
    // The other row stays collapsed.
    expect(await traceRow(page, "read_file").getAttribute("aria-expanded")).toBe("false");
    await row.scrollIntoViewIfNeeded();
    await screenshot(page, "row-expanded");

    // A reload with ?trace= in the URL opens with the same row expanded.
    await page.reload();
    await waitForWaterfall(page);
    await expect.poll(() => traceRow(page, "run_command").getAttribute("aria-expanded"), { timeout: 15_000 }).toBe("true");
    expect(await rowCounts(page).textContent()).toContain("2");
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});
