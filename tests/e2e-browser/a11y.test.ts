// axe-core (WCAG 2.1 A/AA and best practices) on each main view, loaded with data: the chats list,
// the chat view (with a row expanded) and the events view. No serious or critical violation.
import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Api, makeTraces } from "./helpers/api.js";
import { launchBrowser, openPage, screenshot, seriousA11yViolations } from "./helpers/browser.js";
import { traceRow, waitForWaterfall } from "./helpers/waterfall.js";

const baseUrl = inject("tracedeckUrl");
const api = new Api(baseUrl);
let browser: Browser;
let chat: { id: string; uuid: string };
let title: string;

beforeAll(async () => {
  browser = await launchBrowser();
  title = `Accessible ${randomUUID().slice(0, 8)}`;
  chat = await api.createChat(title, "/work/a11y");
  await api.recordTraces(makeTraces({ chatId: chat.id, count: 40, turns: 3, errorEvery: 7, prefix: "a11y" }));
  await api.saveSnapshot(chat.id, 1, [{ role: "user", content: "one" }]);
  await api.saveSnapshot(chat.id, 2, [{ role: "user", content: "two" }]);
  await api.startTrace({ chatId: chat.id, toolName: "still_running", toolCallId: "a11y_running" });
});
afterAll(async () => {
  await browser?.close();
});

const report = (findings: Awaited<ReturnType<typeof seriousA11yViolations>>) => JSON.stringify(findings, null, 2);

test("chats list: no serious or critical axe violations", async () => {
  const { page, context } = await openPage(browser, baseUrl);
  try {
    await page.goto("/");
    await page.getByRole("link", { name: title, exact: true }).waitFor({ state: "visible", timeout: 30_000 });
    await screenshot(page, "a11y-chats-list");
    const findings = await seriousA11yViolations(page);
    expect(findings, report(findings)).toEqual([]);
  } finally {
    await context.close();
  }
});

test("chat view: no serious or critical axe violations (a row expanded)", async () => {
  const { page, context } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    await page.getByRole("region", { name: "Session timeline" }).getByRole("button", { name: /^Turn 1:/ }).waitFor();
    const row = traceRow(page, "run_command").first();
    await row.click();
    await row.getByTestId("trace-detail").getByRole("region", { name: "Tokens" }).waitFor({ timeout: 15_000 });
    await screenshot(page, "a11y-chat-view");
    const findings = await seriousA11yViolations(page);
    expect(findings, report(findings)).toEqual([]);
  } finally {
    await context.close();
  }
});

test("events view: no serious or critical axe violations", async () => {
  const { page, context } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}/events`);
    const table = page.getByRole("table", { name: `Events of ${title}` });
    await table.waitFor({ state: "visible", timeout: 30_000 });
    // A live event while the page watches, so the table has rows.
    await api.finishTrace({ chatId: chat.id, toolCallId: "a11y_running", output: "done" });
    await expect.poll(() => table.getByRole("row").count(), { timeout: 15_000 }).toBeGreaterThan(1);
    await screenshot(page, "a11y-events-view");
    const findings = await seriousA11yViolations(page);
    expect(findings, report(findings)).toEqual([]);
  } finally {
    await context.close();
  }
});
