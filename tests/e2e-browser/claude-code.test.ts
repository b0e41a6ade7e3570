// Claude Code watched live: the fixture session's hook bodies (tests/fixtures/claude-code/hooks,
// in firing order) are posted to the e2e server's POST /hooks/claude-code as Claude Code's HTTP hooks
// post them, with {{projects}} replaced by the server's CLAUDE_PROJECTS_DIR (global-setup.ts copies
// the session's transcripts there, so each Stop's transcript read attaches token usage). Then the
// dashboard: the chat in the chat list, its four traces (the Bash failure, Read, the Agent call and
// the Explore subagent's Grep with its marker), turns 1 and 2 with their snapshots in the session
// timeline, a snapshot's conversation (prompt and answer), and the totals' cache read.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Api } from "./helpers/api.js";
import { eventually, launchBrowser, openPage, screenshot, seriousA11yViolations } from "./helpers/browser.js";
import { repoRoot } from "./helpers/server.js";
import { timeline, totalShown, traceRow, traceRows, waitForWaterfall, waterfall } from "./helpers/waterfall.js";

const baseUrl = inject("tracedeckUrl");
const projectsDir = inject("claudeProjectsDir");
const api = new Api(baseUrl);
const hooksDir = join(repoRoot, "tests", "fixtures", "claude-code", "hooks");
const FIRST_PROMPT = "Run the tests and tell me why one fails";
const FIRST_ANSWER = "One test fails: `add` in src/math.ts subtracts (`return a - b;`), so `add(1, 2)` gives -1 instead of 3. Changing it to `a + b` fixes it.";
const SECOND_PROMPT = "Use a subagent to find every caller of add()";
const SECOND_ANSWER = "add() is called from src/app.ts:12 and src/report.ts:40.";

interface ChatStats {
  traceCount: number;
  errorCount: number;
  tokens: { input: string | number; output: string | number; cacheRead: string | number; cacheWrite: string | number };
}

let browser: Browser;
let chat: { id: string; uuid: string; title: string };

beforeAll(async () => {
  browser = await launchBrowser();
  for (const name of readdirSync(hooksDir).filter((f) => f.endsWith(".json")).sort()) {
    const body = readFileSync(join(hooksDir, name), "utf8").replaceAll("{{projects}}", projectsDir);
    const res = await fetch(`${baseUrl}/hooks/claude-code`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await res.text();
    if (res.status !== 204) throw new Error(`${name}: HTTP ${res.status} ${text.slice(0, 500)}`);
  }
  chat = await eventually("the Claude Code chat", async () => {
    const data = await api.gql<{ chats: { edges: { node: { id: string; uuid: string; title: string } }[] } }>(
      `query($filter: ChatFilter) { chats(first: 5, filter: $filter) { edges { node { id uuid title } } } }`,
      { filter: { titleContains: FIRST_PROMPT } },
    );
    return data.chats.edges.find((e) => e.node.title === FIRST_PROMPT)?.node;
  });
  // Usage comes from the transcripts in the background, after each Stop.
  await eventually(
    "the transcript's token usage",
    async () => {
      const data = await api.gql<{ chat: { stats: ChatStats } }>(
        `query($id: ID!) { chat(id: $id) { stats { traceCount errorCount tokens { input output cacheRead cacheWrite } } } }`,
        { id: chat.id },
      );
      return data.chat.stats.traceCount === 4 && Number(data.chat.stats.tokens.cacheRead) > 0 ? data.chat.stats : null;
    },
    30_000,
  );
});
afterAll(async () => {
  await browser?.close();
});

test("a Claude Code session posted through its hooks shows as a chat: traces, the subagent's call, turns, snapshots and token totals", async () => {
  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    // The chat list has it, titled from the first prompt.
    await page.goto("/");
    const link = page.getByRole("link", { name: FIRST_PROMPT, exact: true });
    await link.waitFor({ state: "visible", timeout: 30_000 });
    await link.click();
    await page.waitForURL(`**/chats/${chat.uuid}`);
    await waitForWaterfall(page);
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe(FIRST_PROMPT);
    await expect.poll(() => totalShown(page)).toBe(4);
    await expect.poll(() => traceRows(page).count()).toBe(4);

    // The four calls: the Bash failure, the Read, the Agent call and the subagent's Grep.
    const tools = await traceRows(page).locator(".tool").allTextContents();
    expect([...tools].sort()).toEqual(["Agent", "Bash", "Grep", "Read"]);
    const bash = traceRow(page, "Bash");
    expect(await bash.getByRole("gridcell").nth(2).textContent()).toContain("error");
    expect(await bash.textContent()).toContain("Exit code 1");
    expect(await traceRow(page, "Read").getByRole("gridcell").nth(2).textContent()).toContain("ok");
    expect(await traceRow(page, "Agent").getByRole("gridcell").nth(2).textContent()).toContain("ok");
    // Only the Grep was made inside the subagent: it carries the Explore marker, its id in the title.
    const markers = waterfall(page).getByTestId("subagent-marker");
    expect(await markers.count()).toBe(1);
    const grep = traceRow(page, "Grep");
    const marker = grep.getByTestId("subagent-marker");
    expect(await marker.textContent()).toBe("subagent Explore"); // "subagent" for screen readers only
    expect(await marker.getAttribute("title")).toBe("Called by the Explore subagent a3f9c2e1");
    // Grouped by turn: Bash and Read in turn 1, Agent and Grep in turn 2.
    await expect.poll(() => waterfall(page).locator('[role="row"][aria-level="1"]').count()).toBe(2);

    // The totals count the transcript's usage: cache reads included.
    const summary = page.getByTestId("chat-summary");
    const cacheRead = summary.locator(".stat").filter({ hasText: "Cache read" });
    const cacheReadCount = Number(((await cacheRead.getAttribute("title")) ?? "").replace(/[^\d]/g, ""));
    expect(cacheReadCount).toBeGreaterThan(0);
    expect((await cacheRead.locator("dd").textContent())?.trim()).not.toBe("0");

    // The session timeline: turns 1 and 2, each with its snapshot.
    const item = (turn: number) => timeline(page).locator(`li[data-turn="${turn}"]`);
    await expect.poll(() => timeline(page).getByRole("list", { name: "Turns" }).getByRole("button", { name: /^Turn \d+:/ }).count()).toBe(2);
    expect(await timeline(page).getByRole("button", { name: /^Turn 1: 2 traces, 1 errors/ }).count()).toBe(1);
    expect(await timeline(page).getByRole("button", { name: /^Turn 2: 2 traces, 0 errors/ }).count()).toBe(1);
    for (const turn of [1, 2]) expect(await item(turn).getByTestId("revision").count(), `turn ${turn}'s snapshot`).toBe(1);
    expect(await item(2).textContent()).toContain("current");

    // Expanded, the Grep row says which subagent made it.
    await grep.locator(".line").click();
    const subagent = grep.getByTestId("trace-subagent");
    await subagent.waitFor({ state: "visible" });
    expect(await subagent.textContent()).toContain("Explore");
    expect(await subagent.textContent()).toContain("a3f9c2e1");
    await screenshot(page, "claude-code-chat");
    expect(await seriousA11yViolations(page)).toEqual([]);
    await grep.locator(".line").click();
    await grep.getByTestId("trace-subagent").waitFor({ state: "detached" });

    // A snapshot's conversation: the prompts and the assistant's answers up to its turn.
    const conversations: [number, string[]][] = [
      [1, [FIRST_PROMPT, FIRST_ANSWER]],
      [2, [FIRST_PROMPT, FIRST_ANSWER, SECOND_PROMPT, SECOND_ANSWER]],
    ];
    for (const [turn, texts] of conversations) {
      await item(turn).getByRole("button", { name: "View state" }).click();
      const dialog = page.getByRole("dialog", { name: `State at the end of turn ${turn}` });
      await dialog.waitFor({ state: "visible" });
      const conversation = dialog.getByTestId("conversation");
      await conversation.waitFor({ state: "visible" });
      const messages = conversation.locator(".message");
      const shown = await messages.evaluateAll((els) => els.map((el) => [el.querySelector(".role")?.textContent ?? "", el.querySelector(".text")?.textContent ?? ""]));
      expect(shown).toEqual(texts.map((text, i) => [i % 2 === 0 ? "user" : "assistant", text]));
      if (turn === 2) await screenshot(page, "claude-code-snapshot");
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
    }

    // The chat view as the docs show it.
    await waterfall(page).evaluate((el) => (el.scrollTop = 0));
    await screenshot(page, "dashboard-claude-code");
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});
