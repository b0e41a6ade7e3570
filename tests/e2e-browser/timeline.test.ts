// The session timeline next to the waterfall: a turn's button scrolls the (virtualized) waterfall to
// the turn's first row, and restoring a turn (after confirming) marks the later turns superseded.
// One chat of 600 traces across 20 turns, a snapshot saved at the end of each.
import { randomUUID } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Api, makeTraces } from "./helpers/api.js";
import { launchBrowser, openPage, screenshot } from "./helpers/browser.js";
import { timeline, totalShown, traceRows, visibleInWaterfall, waitForWaterfall, waterfall } from "./helpers/waterfall.js";

const baseUrl = inject("tracedeckUrl");
const api = new Api(baseUrl);
const TRACES = 600;
const TURNS = 20;
const PER_TURN = TRACES / TURNS;
let browser: Browser;
let chat: { id: string; uuid: string };

beforeAll(async () => {
  browser = await launchBrowser();
  const tag = randomUUID().slice(0, 8);
  chat = await api.createChat(`Timeline ${tag}`, "/work/timeline");
  await api.recordTraces(makeTraces({ chatId: chat.id, count: TRACES, turns: TURNS, errorEvery: 29, prefix: `tl_${tag}` }));
  for (let turn = 1; turn <= TURNS; turn++) {
    await api.saveSnapshot(chat.id, turn, [
      { role: "user", content: `Please do step ${turn}` },
      { role: "assistant", content: `Step ${turn} done` },
    ]);
  }
});
afterAll(async () => {
  await browser?.close();
});

test("clicking a turn in the session timeline scrolls the waterfall to the turn's first row", async () => {
  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    await expect.poll(() => totalShown(page)).toBe(TRACES);
    const turnButtons = timeline(page).getByRole("list", { name: "Turns" }).getByRole("button", { name: /^Turn \d+:/ });
    await expect.poll(() => turnButtons.count()).toBe(TURNS);

    const scrollTop = () => waterfall(page).evaluate((el) => el.scrollTop);
    expect(await scrollTop()).toBe(0);
    const turn = 15;
    const firstRow = (turn - 1) * PER_TURN;
    // Not rendered (or off screen) before the jump.
    const target = waterfall(page).locator(`[role="row"][aria-level="2"][data-row="${firstRow}"]`);
    expect((await target.count()) === 0 || !(await visibleInWaterfall(page, target))).toBe(true);

    await timeline(page).getByRole("button", { name: new RegExp(`^Turn ${turn}: ${PER_TURN} traces`) }).click();
    await expect.poll(scrollTop).toBeGreaterThan(0);
    const header = waterfall(page).locator(`[role="row"][aria-level="1"][data-turn="${turn}"]`);
    await header.waitFor({ state: "visible" });
    await expect.poll(() => visibleInWaterfall(page, header)).toBe(true);
    await target.waitFor({ state: "visible" });
    await expect.poll(() => visibleInWaterfall(page, target)).toBe(true);
    // Its row is loaded (a trace, not a placeholder) and belongs to the turn.
    await expect.poll(() => target.getAttribute("data-trace-id")).toBeTruthy();
    const top = await scrollTop();
    await screenshot(page, "timeline-jump");

    // Back to an early turn: the waterfall scrolls up again.
    await timeline(page).getByRole("button", { name: /^Turn 2: / }).click();
    await expect.poll(scrollTop).toBeLessThan(top);
    const second = waterfall(page).locator(`[role="row"][aria-level="2"][data-row="${PER_TURN}"]`);
    await expect.poll(() => visibleInWaterfall(page, second)).toBe(true);
    expect(await traceRows(page).count()).toBeLessThan(TRACES); // virtualized
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test("restoring a turn (confirmed in a dialog) shows the later turns superseded", async () => {
  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    const item = (turn: number) => timeline(page).locator(`li[data-turn="${turn}"]`);
    await item(TURNS).waitFor({ state: "attached" });
    expect(await item(TURNS).textContent()).toContain("current");

    const restoreAt = 10;
    await item(restoreAt).getByRole("button", { name: /^Restore/ }).click();
    const dialog = page.getByRole("alertdialog", { name: "Restore this snapshot?" });
    await dialog.waitFor({ state: "visible" });
    expect(await dialog.textContent()).toContain(`Turns ${restoreAt + 1}–${TURNS} will be marked superseded`);
    await screenshot(page, "restore-dialog");
    await dialog.getByRole("button", { name: `Restore turn ${restoreAt}` }).click();
    await dialog.waitFor({ state: "detached" });

    const result = page.getByTestId("restore-result");
    await expect.poll(() => result.textContent(), { timeout: 15_000 }).toContain(`Superseded now: turns ${restoreAt + 1}–${TURNS}`);
    expect(await result.textContent()).toContain(`Restored turn ${restoreAt}`);
    for (let turn = restoreAt + 1; turn <= TURNS; turn++) {
      await expect.poll(() => item(turn).getByTestId("superseded").count(), { message: `turn ${turn} superseded` }).toBe(1);
    }
    for (let turn = 1; turn <= restoreAt; turn++) expect(await item(turn).getByTestId("superseded").count(), `turn ${turn} not superseded`).toBe(0);
    expect(await item(restoreAt).textContent()).toContain("current");
    expect(await item(TURNS).textContent()).not.toContain("current");
    // The waterfall's turn headers say so too (those rendered).
    await timeline(page).getByRole("button", { name: new RegExp(`^Turn ${TURNS}: `) }).click();
    const header = waterfall(page).locator(`[role="row"][aria-level="1"][data-turn="${TURNS}"]`);
    await expect.poll(() => header.textContent()).toContain("superseded");
    await timeline(page).getByRole("button", { name: new RegExp(`^Turn ${restoreAt}: `) }).click();
    await result.scrollIntoViewIfNeeded();
    await screenshot(page, "restore-superseded");

    // What the server holds agrees.
    const revisions = await api.revisions(chat.id);
    expect(revisions.filter((r) => r.supersededAt).map((r) => r.turn).sort((a, b) => a - b)).toEqual(Array.from({ length: TURNS - restoreAt }, (_, i) => restoreAt + 1 + i));
    expect(revisions.find((r) => r.isCurrent)?.turn).toBe(restoreAt);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});
