// A dropped WebSocket while traces keep arriving: the page is loaded through a TCP proxy that the
// test cuts (every socket reset, new connections refused for a few seconds) while the server keeps
// taking writes; once the dashboard has reconnected, every trace is in the waterfall exactly once
// and the count is right. (CDP's Network.emulateNetworkConditions({ offline: true }) does not touch
// an open WebSocket in Chromium, crbug.com/563644, so it would not drop anything.)
import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Api, type TraceItem } from "./helpers/api.js";
import { launchBrowser, openPage, screenshot } from "./helpers/browser.js";
import { type DroppableProxy, startProxy } from "./helpers/proxy.js";
import { collectAllRows, connectionStatus, rowCounts, totalShown, waitForWaterfall } from "./helpers/waterfall.js";

const baseUrl = inject("tracedeckUrl");
const api = new Api(baseUrl);
let browser: Browser;
let proxy: DroppableProxy;

beforeAll(async () => {
  browser = await launchBrowser();
  proxy = await startProxy(baseUrl);
});
afterAll(async () => {
  await browser?.close();
  await proxy?.close();
});

test("after the WebSocket drops while traces keep arriving, every trace is shown exactly once", async () => {
  const tag = randomUUID().slice(0, 8);
  const chat = await api.createChat(`Reconnect ${tag}`, "/work/reconnect");
  let clock = Date.now() - 60_000;
  const item = (toolName: string, turnNumber: number): TraceItem => {
    clock += 200;
    return {
      chatId: chat.id,
      toolName,
      toolCallId: `${toolName}_${tag}`,
      turnNumber,
      startedAt: new Date(clock).toISOString(),
      finishedAt: new Date(clock + 50).toISOString(),
      output: "ok",
      tokens: { input: 5, output: 1 },
    };
  };
  const expected: string[] = [];
  const record = async (names: string[], turn: number) => {
    await api.recordTraces(names.map((n) => item(n, turn)));
    expected.push(...names);
  };
  await record(Array.from({ length: 6 }, (_, i) => `before_${i}`), 1);
  await api.saveSnapshot(chat.id, 1, [{ role: "user", content: "turn one" }]);

  // A tall window, so that the rows mostly fit; collectAllRows scrolls for the rest.
  const { page, context, problems } = await openPage(browser, proxy.url, { width: 1400, height: 1600 });
  try {
    await page.goto(`/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    await expect.poll(() => connectionStatus(page).textContent(), { timeout: 15_000 }).toContain("Live");
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Stream:" }).textContent()).toContain("Streaming");
    await expect.poll(() => totalShown(page)).toBe(6);
    // A live trace before the drop, so the stream has a cursor past the first read.
    await api.startTrace({ chatId: chat.id, toolName: "live_before", toolCallId: `live_before_${tag}`, turnNumber: 2 });
    expected.push("live_before");
    await expect.poll(() => totalShown(page)).toBe(7);

    // Drop: every socket reset; reconnects refused while traces keep arriving.
    const acceptedBefore = proxy.stats().accepted;
    proxy.drop();
    await expect.poll(() => connectionStatus(page).textContent(), { timeout: 10_000 }).toMatch(/Reconnecting|Offline/);
    await record(Array.from({ length: 10 }, (_, i) => `during_${i}`), 2);
    await api.finishTrace({ chatId: chat.id, toolCallId: `live_before_${tag}`, output: "finished while dropped" });
    for (let i = 0; i < 3; i++) {
      await api.startTrace({ chatId: chat.id, toolName: `during_live_${i}`, toolCallId: `during_live_${i}_${tag}`, turnNumber: 2 });
      expected.push(`during_live_${i}`);
      if (i < 2) await api.finishTrace({ chatId: chat.id, toolCallId: `during_live_${i}_${tag}`, output: "done" });
    }
    await page.waitForTimeout(2_500);
    expect(await connectionStatus(page).textContent()).toMatch(/Reconnecting|Offline/);
    expect(proxy.stats().refused, "the dashboard tried to reconnect while the connection was down").toBeGreaterThan(0);
    await screenshot(page, "reconnect-dropped");

    proxy.restore();
    await expect.poll(() => connectionStatus(page).textContent(), { timeout: 30_000 }).toContain("Live");
    expect(proxy.stats().accepted).toBeGreaterThan(acceptedBefore);
    // More after the reconnect, live.
    await api.finishTrace({ chatId: chat.id, toolCallId: `during_live_2_${tag}`, output: "finished after" });
    await record(Array.from({ length: 5 }, (_, i) => `after_${i}`), 2);
    await api.saveSnapshot(chat.id, 2, [{ role: "user", content: "turn two" }]);

    const total = expected.length;
    expect(await api.traceCount(chat.id)).toBe(total);
    await expect.poll(() => totalShown(page), { timeout: 20_000 }).toBe(total);
    // Nothing left running: the finishes that arrived during and after the drop were applied.
    await expect.poll(async () => [...(await collectAllRows(page)).values()].filter((r) => r.status.includes("running")).map((r) => r.toolName), { timeout: 20_000 }).toEqual([]);

    const rows = await collectAllRows(page);
    const names = [...rows.values()].map((r) => r.toolName);
    const ids = [...rows.values()].map((r) => r.traceId);
    expect([...rows.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(new Set(ids).size, "each trace id on one row").toBe(ids.length);
    for (const name of expected) expect(names.filter((n) => n === name).length, `${name} shown once`).toBe(1);
    expect(names.length).toBe(total);
    const counts = (await rowCounts(page).textContent()) ?? "";
    expect(counts).toMatch(new RegExp(`of\\s+${total}\\s+traces`));
    // What failed while the connection was down (the totals, the turns) was read again once it was
    // back: no error panel is left, and the totals say what the server holds.
    await expect.poll(async () => (await page.getByRole("alert").allTextContents()).join(" | "), { timeout: 20_000 }).toBe("");
    const totals = page.getByTestId("chat-summary");
    await expect.poll(() => totals.locator("div", { has: page.getByText("Traces", { exact: true }) }).locator("dd").textContent()).toBe(String(total));
    await expect.poll(() => totals.locator("div", { has: page.getByText("Running") }).locator("dd").textContent()).toBe("0");
    await waitForWaterfall(page);
    await page.getByRole("treegrid", { name: "Tool traces by turn" }).evaluate((el) => (el.scrollTop = 0));
    await screenshot(page, "reconnect-after");
    // The drop itself is expected to log failed requests; nothing else.
    expect(problems.filter((p) => !/ERR_CONNECTION|WebSocket|Failed to fetch|net::|socket/i.test(p))).toEqual([]);
  } finally {
    await context.close();
  }
});
