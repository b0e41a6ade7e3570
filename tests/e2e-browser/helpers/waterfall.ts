// What the chat view renders, through its accessible structure (web/src/components/waterfall):
// the waterfall is a treegrid "Tool traces by turn" whose rows are turn headers (aria-level 1,
// data-turn) and traces (aria-level 2, data-row = index in start order, data-trace-id); a trace
// row's cells are #, tool, status (a word), latency and the timing bar (data-testid="timing-bar").
import type { Locator, Page } from "playwright-core";

export const waterfall = (page: Page): Locator => page.getByRole("treegrid", { name: "Tool traces by turn" });
export const traceRows = (page: Page): Locator => waterfall(page).locator('[role="row"][aria-level="2"]');
export const turnRows = (page: Page): Locator => waterfall(page).locator('[role="row"][aria-level="1"]');
/** The trace row showing this tool name (tool names are unique in the tests' seeds). */
export const traceRow = (page: Page, toolName: string): Locator => traceRows(page).filter({ has: page.getByText(toolName, { exact: true }) });
/** The "Rows a–b of M traces · n loaded" line above the waterfall. */
export const rowCounts = (page: Page): Locator => page.getByTestId("row-counts");
export const connectionStatus = (page: Page): Locator => page.getByRole("status").filter({ hasText: "Connection:" });
export const timeline = (page: Page): Locator => page.getByRole("region", { name: "Session timeline" });

/** Waits until the view has loaded its index ("… of M traces") and shows at least one trace row. */
export async function waitForWaterfall(page: Page, timeout = 30_000): Promise<void> {
  await waterfall(page).waitFor({ state: "visible", timeout });
  await traceRows(page).first().waitFor({ state: "visible", timeout });
}

/** M as the counts line says it ("of 1,234 traces"), or null while it is loading. */
export async function totalShown(page: Page): Promise<number | null> {
  const text = (await rowCounts(page).textContent()) ?? "";
  const match = /([\d,]+)\s+(?:matching\s+)?traces/.exec(text);
  return match ? Number(match[1]!.replace(/,/g, "")) : null;
}

/** Whether the element's box is inside the waterfall's scrolled viewport (below the sticky axis). */
export async function visibleInWaterfall(page: Page, row: Locator): Promise<boolean> {
  const [box, scroller] = await Promise.all([row.boundingBox(), waterfall(page).boundingBox()]);
  if (!box || !scroller) return false;
  return box.y >= scroller.y + 30 && box.y + box.height <= scroller.y + scroller.height + 1;
}

export interface SeenRow {
  index: number;
  toolName: string;
  traceId: string;
  status: string;
}

/**
 * Every trace row of the (virtualized) waterfall, found by scrolling it from top to bottom half a
 * screen at a time and reading the rows at each position, keyed by their row index. A row shown
 * twice at different indexes shows up as two entries with one trace id.
 */
export async function collectAllRows(page: Page): Promise<Map<number, SeenRow>> {
  const seen = new Map<number, SeenRow>();
  const scroller = waterfall(page);
  await scroller.evaluate((el) => (el.scrollTop = 0));
  for (let guard = 0; guard < 2_000; guard++) {
    await page.waitForTimeout(120);
    // Wait until the rows at this position are loaded (no placeholder rows).
    await page
      .waitForFunction((el) => !el!.querySelector('[role="row"][aria-level="2"][aria-busy="true"]'), await scroller.elementHandle(), { timeout: 10_000 })
      .catch(() => {});
    const rows = await scroller.locator('[role="row"][aria-level="2"]').evaluateAll((els) =>
      els.map((el) => ({
        index: Number(el.getAttribute("data-row")),
        traceId: el.getAttribute("data-trace-id") ?? "",
        toolName: el.querySelector(".tool")?.textContent?.trim() ?? "",
        status: el.querySelectorAll('[role="gridcell"]')[2]?.textContent?.trim() ?? "",
      })),
    );
    for (const row of rows) if (row.traceId) seen.set(row.index, row);
    const done = await scroller.evaluate((el) => {
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) return true;
      el.scrollTop += Math.max(50, Math.floor(el.clientHeight / 2));
      return false;
    });
    if (done) break;
  }
  return seen;
}
