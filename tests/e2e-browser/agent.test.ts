// Tracedeck's own agent in Chromium: the chat's agent settings changed through the panel's form,
// a message typed in the dashboard (Ctrl+Enter), and the turn followed live without a reload: the
// running turn with its elapsed time and Cancel, its tool calls in the waterfall, the assistant's
// words, then a failing build's auto-fix turn ("auto-fix 1/3", "build failed" on the turn before)
// and the end ("build passed after 1 attempt"); then a restore of turn 1 with "Also rewind files"
// puts the workspace's file back. The agent plays a script (AGENT_PROVIDER=scripted,
// see global-setup.ts) in a workspace whose build is `npm run build` → `node check.mjs`.
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { Api } from "./helpers/api.js";
import { launchBrowser, openPage, screenshot, seriousA11yViolations } from "./helpers/browser.js";
import { timeline, traceRow, waterfall } from "./helpers/waterfall.js";

const baseUrl = inject("tracedeckUrl");
const scriptsDir = inject("agentScriptsDir");
const workspacesRoot = inject("agentWorkspacesRoot");
const api = new Api(baseUrl);
let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** Step N plays when the conversation holds N assistant messages (across turns). */
const script = {
  steps: [
    {
      text: "I'll add greeting.txt with the greeting.",
      toolCalls: [{ name: "write_file", input: { path: "greeting.txt", content: "hello\n" } }],
      usage: { input: 812, output: 64, cacheWrite: 2048 },
    },
    {
      text: "Giving the file system a moment before I finish.",
      toolCalls: [{ name: "run_command", input: { program: "sleep", args: ["3"] } }],
      usage: { input: 140, output: 38, cacheRead: 2048 },
    },
    { text: "Added greeting.txt.", usage: { input: 96, output: 12, cacheRead: 2200 } },
    // The build failed: the auto-fix turn's message holds check.mjs's complaint.
    {
      text: 'The check wants "hello world": fixing greeting.txt.',
      expect: "The build failed",
      toolCalls: [{ name: "write_file", input: { path: "greeting.txt", content: "hello world\n" } }],
      usage: { input: 420, output: 71, cacheRead: 2300 },
    },
    { text: "Fixed: greeting.txt now says hello world, and the build passes.", usage: { input: 88, output: 20, cacheRead: 2700 } },
  ],
};

function seedWorkspace(name: string) {
  const dir = join(workspacesRoot, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "greeting", private: true, scripts: { build: "node check.mjs" } }, null, 2));
  writeFileSync(
    join(dir, "check.mjs"),
    [
      'import { readFileSync } from "node:fs";',
      'const text = readFileSync("greeting.txt", "utf8").trim();',
      'if (text !== "hello world") {',
      '  console.error(`greeting.txt: expected "hello world", found "${text}"`);',
      "  process.exit(1);",
      "}",
      'console.log("greeting ok");',
    ].join("\n"),
  );
}

test("a message typed in the dashboard runs live: the running turn, its tool calls, the assistant's words, the auto-fix loop and its end", async () => {
  const tag = randomUUID().slice(0, 8);
  const scriptName = `greeting-${tag}`;
  const workspace = `greeting-${tag}`;
  writeFileSync(join(scriptsDir, `${scriptName}.json`), JSON.stringify(script));
  seedWorkspace(workspace);
  const chat = await api.createChat(`Add a greeting ${tag}`, "/work/greeting");

  const { page, context, problems } = await openPage(browser, baseUrl);
  try {
    await page.goto(`/chats/${chat.uuid}`);
    const panel = page.getByTestId("agent-panel");
    await panel.waitFor({ state: "visible", timeout: 30_000 });
    await expect.poll(() => panel.getByTestId("agent-settings").textContent()).toContain("scripted");

    // The settings through the panel's form: the script as the model, the seeded workspace.
    await panel.getByRole("button", { name: "Change…" }).click();
    const form = panel.getByRole("form", { name: "Agent settings" });
    await form.getByLabel("Model").fill(scriptName);
    await form.getByLabel("Workspace").fill(workspace);
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => panel.getByTestId("agent-settings").textContent()).toContain(scriptName);
    expect(await panel.getByTestId("agent-settings").textContent()).toContain(workspace);

    // Type and send with Ctrl+Enter.
    const box = panel.getByRole("textbox", { name: "Message to the agent" });
    await box.fill("Add greeting.txt that says hello world");
    await box.press("Control+Enter");

    // The running turn, live: its number, what started it, the elapsed time ticking, Cancel.
    const running = panel.getByTestId("running-turn");
    await expect.poll(() => running.textContent()).toContain("Turn 1 running");
    expect(await running.textContent()).toContain("your message");
    await panel.getByRole("button", { name: "Cancel turn 1" }).waitFor({ state: "visible" });
    expect(await box.inputValue()).toBe("");
    // The tool calls as waterfall rows, the sleeping run_command shown running.
    await traceRow(page, "write_file").waitFor({ state: "visible", timeout: 15_000 });
    const sleeper = traceRow(page, "run_command");
    await sleeper.waitFor({ state: "visible", timeout: 15_000 });
    const turn1 = panel.locator('[data-testid="agent-turn"][data-turn="1"]');
    await expect.poll(() => turn1.textContent()).toContain("I'll add greeting.txt with the greeting.");
    const elapsed = () => running.locator(".elapsed").textContent();
    const e1 = await elapsed();
    await page.waitForTimeout(1_200);
    const e2 = await elapsed();
    await screenshot(page, "agent-running");
    expect(e2, "the running turn's elapsed time ticks").not.toBe(e1);

    // Turn 1 ends; its build fails; the auto-fix turn 2 runs and the build passes.
    const turn2 = panel.locator('[data-testid="agent-turn"][data-turn="2"]');
    await expect.poll(() => turn2.getAttribute("data-status"), { timeout: 30_000 }).toBe("ok");
    expect(await turn1.getAttribute("data-status")).toBe("ok");
    expect(await turn1.textContent()).toContain("Added greeting.txt.");
    expect(await turn1.locator('[data-mark="build"]').textContent()).toContain("build failed");
    expect(await turn2.locator('[data-mark="fix"]').textContent()).toContain("auto-fix 1/3");
    expect(await turn2.textContent()).toContain("Fixed: greeting.txt now says hello world, and the build passes.");
    await expect.poll(() => turn2.getByTestId("turn-outcome").textContent()).toContain("build passed after 1 attempt");
    // Nothing runs any more: no running line, no Cancel, the box is ready.
    await expect.poll(() => running.count()).toBe(0);
    expect(await panel.getByRole("button", { name: /^Cancel turn/ }).count()).toBe(0);

    // The session timeline marks the loop.
    const t1 = timeline(page).locator('li.turn[data-turn="1"]');
    const t2 = timeline(page).locator('li.turn[data-turn="2"]');
    await expect.poll(() => t1.locator('[data-mark="build"]').textContent()).toContain("build failed");
    await expect.poll(() => t2.locator('[data-mark="fix"]').textContent()).toContain("auto-fix 1/3");
    await expect.poll(() => t2.locator('[data-mark="build"]').textContent()).toContain("build passed after 1 attempt");
    // Both turns closed with a snapshot, and the timeline says so without a reload.
    await expect.poll(() => t2.getByTestId("revision").count()).toBe(1);
    await expect.poll(() => timeline(page).getByTestId("next-turn").textContent()).toContain("Next: turn 3");
    // Every call settled in the waterfall: write_file, run_command and a failed build; write_file and a passing build.
    await expect.poll(() => waterfall(page).locator('[role="row"][aria-level="2"]').count()).toBe(5);
    await expect.poll(() => sleeper.getByRole("gridcell").nth(2).textContent()).toContain("ok");
    await expect.poll(() => waterfall(page).locator('[role="row"][aria-level="1"][data-turn="2"]').textContent()).not.toContain("running");
    expect(await traceRow(page, "build").count()).toBe(2);

    // The chat's totals caught up too: nothing running, the failed build counted.
    const summary = page.getByTestId("chat-summary");
    await expect.poll(() => summary.locator(".live").count()).toBe(0);
    await expect.poll(() => summary.locator(".bad").count()).toBe(1);

    // What the server says agrees with what the page shows.
    const turns = await api.agentTurns(chat.id);
    expect(turns.map((t) => [t.turnNumber, t.trigger, t.status, t.fixAttempt, t.fixFollows])).toEqual([
      [1, "user", "ok", null, true],
      [2, "autofix", "ok", 1, false],
    ]);

    await screenshot(page, "agent-finished");
    const findings = await seriousA11yViolations(page);
    expect(findings, JSON.stringify(findings, null, 2)).toEqual([]);

    // Restore turn 1 with its files: greeting.txt goes back to what turn 1 left ("hello").
    await t1.getByRole("button", { name: "Restore…" }).click();
    const dialog = page.getByRole("alertdialog", { name: "Restore this snapshot?" });
    const rewind = dialog.getByRole("checkbox", { name: "Also rewind files" });
    expect(await rewind.isChecked()).toBe(false);
    await rewind.check();
    await dialog.getByRole("button", { name: "Restore turn 1" }).click();
    const result = timeline(page).getByTestId("rewind-result");
    await expect.poll(() => result.textContent()).toContain("1 rewritten, 0 deleted, 0 skipped");
    expect(await result.locator('li[data-file="rewritten"]').textContent()).toContain("greeting.txt");
    expect(readFileSync(join(workspacesRoot, workspace, "greeting.txt"), "utf8")).toBe("hello\n");
    await expect.poll(() => t2.getByTestId("superseded").count()).toBe(1);
    await screenshot(page, "agent-rewound");
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});
