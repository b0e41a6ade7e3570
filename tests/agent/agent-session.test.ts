// Tracedeck's agent end to end in process: sendMessage through GraphQL, the scripted provider, the
// real tools on a real workspace, the auto-fix loop on a real build, snapshots at every turn,
// cancellation, the one-turn-per-chat conflict, and a restore with file rewind.
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { makeTempDir, removeDir } from "./helpers.js";

const DEMO = join(import.meta.dirname, "../../demo");

let db: TestDatabase;
let t: TestApp;
let root: string;
let scripts: string;

beforeAll(async () => {
  db = await createTestDatabase();
  root = makeTempDir("tracedeck-agent-root-");
  scripts = makeTempDir("tracedeck-agent-scripts-");
  cpSync(join(DEMO, "scripts"), scripts, { recursive: true });
  t = await startTestApp(db, {
    listen: false,
    agentConfig: { workspacesRoot: root, providers: { openai: { timeoutMs: 5000 }, anthropic: { timeoutMs: 5000 }, scriptsDir: scripts } },
  });
  await t.app.agent.start();
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
  removeDir(root);
  removeDir(scripts);
});

async function gql(query: string, variables?: Record<string, unknown>) {
  const result = await execute(t.app, query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data as Record<string, any>;
}

async function newChat(workspaceName: string, script: string, extra: Record<string, unknown> = {}) {
  const chat = (await gql(`mutation { createChat(input: { title: "agent" }) { ... on Chat { uuid } } }`)).createChat.uuid as string;
  const dir = join(root, workspaceName);
  mkdirSync(dir, { recursive: true });
  const settings = await gql(
    `mutation($chatId: ID!, $input: AgentSettingsInput!) { updateAgentSettings(chatId: $chatId, input: $input) { __typename ... on AgentSettings { provider model workspace fixAttempts stored } ... on Error { message } } }`,
    { chatId: chat, input: { provider: "scripted", model: script, workspace: workspaceName, ...extra } },
  );
  expect(settings.updateAgentSettings).toMatchObject({ __typename: "AgentSettings", provider: "scripted", model: script, workspace: workspaceName, stored: true });
  return { chat, dir };
}

const SEND = `mutation($chatId: ID!, $text: String!) { sendMessage(chatId: $chatId, text: $text) { __typename ... on SendMessagePayload { turnNumber turn { status trigger } } ... on Error { message } } }`;

const send = async (chatId: string, text: string) => (await gql(SEND, { chatId, text })).sendMessage;

async function turnsOf(chatId: string) {
  const data = await gql(
    `query($id: ID!) { chat(id: $id) { activeTurn { turnNumber } agentTurns(last: 50) { turnNumber trigger status outcome error fixAttempt fixFollows steps prompt tokens { input output cacheRead cacheWrite } messages { kind text } } } }`,
    { id: chatId },
  );
  return data.chat as { activeTurn: { turnNumber: number } | null; agentTurns: Record<string, any>[] };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const settle = (chatId: string) => t.app.agent.idle(chatId);

function writeScript(name: string, steps: unknown[]) {
  writeFileSync(join(scripts, `${name}.json`), JSON.stringify({ steps }));
}

describe("the demo session: a failing build, auto-fix, a passing build", () => {
  test("traces, the failed build, the injected errors, the passing build and a snapshot per turn", async () => {
    const { chat, dir } = await newChat("demo", "demo");
    cpSync(join(DEMO, "workspace"), dir, { recursive: true });
    const sent = await send(chat, "Add a stats module with mean and median.");
    expect(sent).toMatchObject({ __typename: "SendMessagePayload", turnNumber: 1, turn: { status: "running", trigger: "user" } });
    await settle(chat);

    const { agentTurns, activeTurn } = await turnsOf(chat);
    expect(activeTurn).toBeNull();
    expect(agentTurns.map((x) => [x.turnNumber, x.trigger, x.status, x.fixFollows])).toEqual([
      [1, "user", "ok", true],
      [2, "autofix", "ok", false],
    ]);
    expect(agentTurns[0]!.outcome).toMatch(/build failed with exit code 1; auto-fix attempt 1 of 3 follows/);
    expect(agentTurns[1]!.outcome).toMatch(/build passed after 1 attempt/);
    expect(agentTurns[1]!.prompt).toContain("The build failed");
    expect(agentTurns[1]!.fixAttempt).toBe(1);
    expect(agentTurns[0]!.tokens.input).toBeGreaterThan(0);
    expect(agentTurns[0]!.messages.filter((m: any) => m.kind === "assistant").length).toBeGreaterThan(1);

    const traces = await db.prisma.toolTrace.findMany({ where: { chatId: chat }, orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
    expect(traces.map((x) => `${x.turnNumber}:${x.toolName}:${x.status}`)).toEqual([
      "1:list_files:ok",
      "1:read_file:ok",
      "1:write_file:ok",
      "1:run_command:ok",
      "1:build:error",
      "2:edit_file:ok",
      "2:build:ok",
    ]);
    const failedBuild = traces[4]!;
    expect(failedBuild.error).toBe("build failed with exit code 1");
    expect(failedBuild.toolOutput).toMatch(/stats\.mjs/);
    expect(traces.every((x) => x.ownerRunId === t.app.agent.runId && x.latencyMs !== null)).toBe(true);
    expect(readFileSync(join(dir, "src/stats.mjs"), "utf8")).toContain("values.length;");

    const revisions = await db.prisma.agentSnapshotRevision.findMany({ where: { chatId: chat }, orderBy: { turn: "asc" } });
    expect(revisions.map((r) => r.turn)).toEqual([1, 2]);
    const first = revisions[0]!.state as any;
    expect(first.pending.autofix).toMatchObject({ attempt: 1, maxAttempts: 3 });
    expect(first.pending.autofix.message).toContain("The build failed");
    expect(first.agent).toMatchObject({ provider: "scripted", model: "demo", workspace: "demo" });
    const second = revisions[1]!.state as any;
    expect(second.pending.autofix).toBeNull();
    // The injected errors are the user message of turn 2, in the conversation the next turn continues.
    const injected = second.messages.find((m: any) => m.role === "user" && JSON.stringify(m.content).includes("The build failed"));
    expect(injected).toBeDefined();

    const kinds = (await db.prisma.chatEvent.findMany({ where: { chatId: chat }, orderBy: { seq: "asc" } })).map((e) => e.kind);
    expect(kinds.filter((k) => k === "turn_started")).toHaveLength(2);
    expect(kinds.filter((k) => k === "turn_finished")).toHaveLength(2);
    expect(kinds).toContain("assistant_message");
    expect(kinds.indexOf("turn_started")).toBeLessThan(kinds.indexOf("trace_started"));
  });

  test("a build that never passes stops after the set attempts", async () => {
    writeScript("never-fixed", [
      { toolCalls: [{ name: "write_file", input: { path: "src/broken.mjs", content: "export const x = ;\n" } }] },
      { text: "written" },
      { expect: "The build failed", toolCalls: [{ name: "write_file", input: { path: "src/broken.mjs", content: "export const x = (;\n" } }] },
      { text: "tried" },
      { expect: "The build failed", toolCalls: [{ name: "write_file", input: { path: "src/broken.mjs", content: "export const x = [;\n" } }] },
      { text: "tried again" },
    ]);
    const { chat, dir } = await newChat("never", "never-fixed", { fixAttempts: 2 });
    cpSync(join(DEMO, "workspace"), dir, { recursive: true });
    await send(chat, "break it");
    await settle(chat);
    const { agentTurns } = await turnsOf(chat);
    expect(agentTurns.map((x) => [x.trigger, x.fixAttempt, x.fixFollows])).toEqual([
      ["user", null, true],
      ["autofix", 1, true],
      ["autofix", 2, false],
    ]);
    expect(agentTurns[2]!.outcome).toMatch(/build still failing after 2 attempts; auto-fix stopped/);
    expect(agentTurns[2]!.messages.some((m: any) => m.kind === "error" && /auto-fix stopped/.test(m.text))).toBe(true);
    const builds = await db.prisma.toolTrace.count({ where: { chatId: chat, toolName: "build" } });
    expect(builds).toBe(3);
  });
});

describe("one turn at a time, and cancellation", () => {
  test("a second message while a turn runs is a conflict; cancelTurn kills the command and ends the turn cancelled", async () => {
    writeScript("sleeper", [{ toolCalls: [{ name: "run_command", input: { program: "sleep", args: ["30"], timeoutMs: 60_000 } }] }, { text: "slept" }]);
    const { chat } = await newChat("sleeper", "sleeper");
    await send(chat, "sleep");
    await waitFor(async () => (await db.prisma.toolTrace.count({ where: { chatId: chat, toolName: "run_command", status: "running" } })) === 1);

    const second = await send(chat, "again");
    expect(second.__typename).toBe("ConflictError");
    expect(second.message).toMatch(/still running/);

    const started = Date.now();
    const cancelled = await gql(`mutation($chatId: ID!) { cancelTurn(chatId: $chatId) { __typename ... on CancelTurnPayload { turn { status outcome } } ... on Error { message } } }`, { chatId: chat });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(cancelled.cancelTurn).toMatchObject({ __typename: "CancelTurnPayload", turn: { status: "cancelled" } });
    const trace = await db.prisma.toolTrace.findFirstOrThrow({ where: { chatId: chat, toolName: "run_command" } });
    expect(trace.status).toBe("cancelled");
    // The turn's snapshot answers the cut call, so the conversation can go on.
    const head = await t.app.services.snapshots.loadCurrent(chat);
    const messages = (head!.state as any).messages as any[];
    expect(messages.at(-1).content[0]).toMatchObject({ type: "tool_result", is_error: true });

    const none = await gql(`mutation($chatId: ID!) { cancelTurn(chatId: $chatId) { __typename ... on Error { message } } }`, { chatId: chat });
    expect(none.cancelTurn).toMatchObject({ __typename: "NotFoundError", message: "this chat has no running turn" });
  });
});

describe("restore with file rewind", () => {
  test("puts write_file and edit_file changes back as they were at the end of the turn, and the next message continues from there", async () => {
    writeScript("rewind", [
      { toolCalls: [{ name: "write_file", input: { path: "notes.txt", content: "one\n" } }] },
      { text: "turn 1 done" },
      { toolCalls: [{ name: "edit_file", input: { path: "notes.txt", oldText: "one", newText: "two" } }, { name: "write_file", input: { path: "extra.txt", content: "new\n" } }] },
      { text: "turn 2 done" },
      { text: "turn 3 answers" },
    ]);
    const { chat, dir } = await newChat("rewind", "rewind", { buildCommand: [] });
    await send(chat, "first");
    await settle(chat);
    chmodSync(join(dir, "notes.txt"), 0o755); // as it stands at the end of turn 1
    await send(chat, "second");
    await settle(chat);
    chmodSync(join(dir, "notes.txt"), 0o600);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("two\n");
    expect(existsSync(join(dir, "extra.txt"))).toBe(true);

    const restored = await gql(
      `mutation($chatId: ID!) { restoreSnapshot(chatId: $chatId, turn: 1, rewindFiles: true) { __typename ... on RestoreSnapshotPayload { nextTurn files { rewritten deleted skipped { path } note } } ... on Error { message } } }`,
      { chatId: chat },
    );
    expect(restored.restoreSnapshot).toMatchObject({ __typename: "RestoreSnapshotPayload", files: { rewritten: ["notes.txt"], deleted: ["extra.txt"], skipped: [] } });
    expect(restored.restoreSnapshot.files.note).toMatch(/run_command/);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("one\n");
    expect(statSync(join(dir, "notes.txt")).mode & 0o777).toBe(0o755);
    expect(existsSync(join(dir, "extra.txt"))).toBe(false);

    // The next message continues from turn 1's conversation: the script sees 2 assistant messages, so plays step 2.
    writeScript("rewind", [
      { text: "unused" },
      { text: "unused" },
      { expect: "third", text: "continued from turn 1" },
    ]);
    await send(chat, "third");
    await settle(chat);
    const { agentTurns } = await turnsOf(chat);
    const last = agentTurns.at(-1)!;
    expect(last.status).toBe("ok");
    expect(last.messages.map((m: any) => m.text)).toEqual(["continued from turn 1"]);

    // Turn 2 is on the branch the restore left: its files cannot be rebuilt from pre-images.
    const offBranch = await gql(
      `mutation($chatId: ID!) { restoreSnapshot(chatId: $chatId, turn: 2, rewindFiles: true) { __typename ... on Error { message } } }`,
      { chatId: chat },
    );
    expect(offBranch.restoreSnapshot).toMatchObject({ __typename: "ConflictError", message: expect.stringMatching(/not on the chat's current history/) });
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("one\n");
  });
});

describe("a workspace swapped for a symlink mid-turn", () => {
  test("the next tool call is refused and nothing is written where the symlink leads", async () => {
    writeScript("swap", [
      { toolCalls: [{ name: "run_command", input: { program: "sleep", args: ["2"] } }] },
      { toolCalls: [{ name: "write_file", input: { path: "x.txt", content: "escaped" } }] },
      { text: "done" },
    ]);
    const { chat, dir } = await newChat("swap", "swap", { buildCommand: [] });
    const elsewhere = makeTempDir("tracedeck-agent-elsewhere-");
    try {
      await send(chat, "go");
      await waitFor(async () => (await db.prisma.toolTrace.count({ where: { chatId: chat, toolName: "run_command", status: "running" } })) === 1);
      renameSync(dir, `${dir}-moved`);
      symlinkSync(elsewhere, dir);
      await settle(chat);
      expect(existsSync(join(elsewhere, "x.txt"))).toBe(false);
      const write = await db.prisma.toolTrace.findFirstOrThrow({ where: { chatId: chat, toolName: "write_file" } });
      expect(write.status).toBe("error");
      expect(write.error).toMatch(/now leads to/);
    } finally {
      removeDir(elsewhere);
    }
  });
});

