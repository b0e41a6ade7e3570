// Tracedeck's agent across a crash: real server processes (node --import tsx server/index.ts) on one
// PGlite data folder, the scripted provider, no sandbox. The first server is killed with SIGKILL
// (its whole process group) while two chats' turns sleep in run_command; a second server starts on
// the same folder. It must abandon what the dead process left running (turns and their traces, with
// their events, and the commands themselves), leave traces of external writers to the age rule,
// resume an auto-fix loop whose fix turn was cut, and let a chat go on from its latest snapshot with
// a new turn number.
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, onTestFailed, test } from "vitest";
import { openDatabase } from "../../server/db/client.js";
import { type GraphQLResponse, post } from "../helpers/app.js";
import { killAllSpawnedServers, type SpawnedServer, spawnServer } from "../helpers/server-process.js";
import { isAlive, makeTempDir, removeDir, waitUntil } from "./helpers.js";

/** Arrival, not speed: tsx and PGlite start-up on a shared two-core machine. */
const ARRIVAL_MS = 90_000;

let dataDir: string;
let root: string;
let scripts: string;
let env: Record<string, string>;
let first: SpawnedServer | undefined;
let second: SpawnedServer | undefined;
let graphqlUrl = "";
/** The sleep commands the first server started (found by their command line and working folder). */
const sleepers = new Map<string, number>();

const chats = { resume: "", fix: "", external: "" };
const SLEEP_RESUME = "41.25";
const SLEEP_FIX = "42.25";

async function gql(query: string, variables?: Record<string, unknown>) {
  const result: GraphQLResponse = await post(graphqlUrl, query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data as Record<string, any>;
}

function writeScript(name: string, steps: unknown[]) {
  writeFileSync(join(scripts, `${name}.json`), JSON.stringify({ steps }));
}

async function newChat(title: string, settings?: Record<string, unknown>) {
  const chat = (await gql(`mutation($title: String!) { createChat(input: { title: $title }) { ... on Chat { uuid } } }`, { title })).createChat.uuid as string;
  if (settings) {
    mkdirSync(join(root, settings.workspace as string), { recursive: true });
    const updated = await gql(
      `mutation($chatId: ID!, $input: AgentSettingsInput!) { updateAgentSettings(chatId: $chatId, input: $input) { __typename ... on AgentSettings { stored } ... on Error { message } } }`,
      { chatId: chat, input: settings },
    );
    expect(updated.updateAgentSettings).toEqual({ __typename: "AgentSettings", stored: true });
  }
  return chat;
}

const SEND = `mutation($chatId: ID!, $text: String!) { sendMessage(chatId: $chatId, text: $text) { __typename ... on SendMessagePayload { turnNumber } ... on Error { message } } }`;

async function turnsOf(chatId: string) {
  const data = await gql(
    `query($id: ID!) { chat(id: $id) { activeTurn { turnNumber } agentTurns(last: 50) { id turnNumber trigger status outcome error fixAttempt fixFollows messages { kind text } } } }`,
    { id: chatId },
  );
  return data.chat as { activeTurn: { turnNumber: number } | null; agentTurns: Record<string, any>[] };
}

async function tracesOf(chatId: string) {
  const data = await gql(`query($id: ID!) { chat(id: $id) { traces(first: 100) { edges { node { uuid toolName status turnNumber error } } } } }`, { id: chatId });
  return (data.chat.traces.edges as { node: Record<string, any> }[]).map((e) => e.node);
}

async function poll(what: string, check: () => Promise<boolean>, timeoutMs = ARRIVAL_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The live `sleep <seconds>` process whose working folder is `dir`, if any. */
function sleepIn(dir: string, seconds: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!/(^|\/)sleep$/.test(argv[0] ?? "") || argv[1] !== seconds) continue;
      if (readlinkSync(`/proc/${entry}/cwd`) === dir && isAlive(Number(entry))) return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

const logsOnFailure = () =>
  onTestFailed(() => {
    console.log(`first server:\n${first?.output().slice(-4000) ?? "not started"}\nsecond server:\n${second?.output().slice(-4000) ?? "not started"}`);
  });

beforeAll(async () => {
  dataDir = makeTempDir("tracedeck-agent-restart-data-");
  cpSync(inject("pgliteTemplateDir"), dataDir, { recursive: true });
  root = makeTempDir("tracedeck-agent-restart-root-");
  scripts = makeTempDir("tracedeck-agent-restart-scripts-");
  env = {
    DATA_DIR: dataDir,
    AGENT_SANDBOX: "off",
    AGENT_PROVIDER: "scripted",
    AGENT_MODEL: "resume",
    AGENT_SCRIPTS_DIR: scripts,
    AGENT_WORKSPACES_ROOT: root,
  };

  // Chat "resume": turn 1 writes a file and answers; turn 2 sleeps in run_command.
  writeScript("resume", [
    { toolCalls: [{ name: "write_file", input: { path: "notes.txt", content: "one\n" } }], usage: { input: 10, output: 2 } },
    { text: "turn 1 done" },
    { expect: "second", toolCalls: [{ name: "run_command", input: { program: "sleep", args: [SLEEP_RESUME], timeoutMs: 120_000 } }] },
    { text: "turn 2 done (never reached)" },
  ]);
  // Chat "fix": turn 1 writes a file the build refuses; the fix turn (2) sleeps in run_command.
  writeScript("fix", [
    { toolCalls: [{ name: "write_file", input: { path: "app.mjs", content: "export const x = ;\n" } }] },
    { text: "written" },
    { expect: "The build failed", toolCalls: [{ name: "run_command", input: { program: "sleep", args: [SLEEP_FIX], timeoutMs: 120_000 } }] },
    { text: "fix turn done (never reached)" },
  ]);

  first = spawnServer(env);
  const url = await first.listening;
  graphqlUrl = `${url}/graphql`;

  chats.resume = await newChat("resume", { provider: "scripted", model: "resume", workspace: "resume", buildCommand: [] });
  chats.fix = await newChat("fix", { provider: "scripted", model: "fix", workspace: "fix", buildCommand: ["node", "--check", "app.mjs"], fixAttempts: 2 });
  chats.external = await newChat("external writer");

  expect((await gql(SEND, { chatId: chats.resume, text: "first" })).sendMessage).toEqual({ __typename: "SendMessagePayload", turnNumber: 1 });
  await poll("turn 1 of the resume chat to end", async () => (await turnsOf(chats.resume)).agentTurns[0]?.status === "ok");
  expect((await gql(SEND, { chatId: chats.resume, text: "second" })).sendMessage).toEqual({ __typename: "SendMessagePayload", turnNumber: 2 });
  expect((await gql(SEND, { chatId: chats.fix, text: "write the app" })).sendMessage).toEqual({ __typename: "SendMessagePayload", turnNumber: 1 });

  // External writers' traces: one fresh, one started two hours ago (the sweep's age rule).
  const START = `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { __typename ... on ToolTrace { uuid status } ... on Error { message } } }`;
  const fresh = (await gql(START, { input: { chatId: chats.external, toolName: "external_fresh", toolCallId: "ext-1" } })).startToolTrace;
  const old = (await gql(START, { input: { chatId: chats.external, toolName: "external_old", toolCallId: "ext-2", startedAt: new Date(Date.now() - 2 * 3600_000).toISOString() } })).startToolTrace;
  expect([fresh.status, old.status]).toEqual(["running", "running"]);

  // Both chats sleep in run_command; then the whole process group dies.
  for (const [chat, seconds] of [
    [chats.resume, SLEEP_RESUME],
    [chats.fix, SLEEP_FIX],
  ] as const) {
    await poll(`the sleep of ${chat}`, async () => (await tracesOf(chat)).some((t) => t.toolName === "run_command" && t.status === "running") && sleepIn(join(root, chat === chats.resume ? "resume" : "fix"), seconds) !== undefined);
  }
  sleepers.set("resume", sleepIn(join(root, "resume"), SLEEP_RESUME)!);
  sleepers.set("fix", sleepIn(join(root, "fix"), SLEEP_FIX)!);
  const fixTurns = await turnsOf(chats.fix);
  expect(fixTurns.agentTurns.map((t) => [t.turnNumber, t.trigger, t.status, t.fixFollows])).toEqual([
    [1, "user", "ok", true],
    [2, "autofix", "running", false],
  ]);

  await first.kill();
  expect((await first.exited).signal).toBe("SIGKILL");

  // What the model does from now on: the cut turns' steps play differently after the restart.
  writeScript("resume", [
    { text: "unused" },
    { text: "unused" },
    { expect: "third", text: "continued from turn 1", usage: { input: 7, output: 3 } },
    { text: "WRONG: the conversation held the abandoned turn 2" },
  ]);
  writeScript("fix", [
    { text: "unused" },
    { text: "unused" },
    { expect: "The build failed", toolCalls: [{ name: "write_file", input: { path: "app.mjs", content: "export const x = 1;\n" } }] },
    { text: "fixed" },
  ]);

  second = spawnServer(env);
  graphqlUrl = `${await second.listening}/graphql`;
}, 4 * ARRIVAL_MS);

afterAll(async () => {
  await killAllSpawnedServers();
  // Whatever an assertion left behind: the sleeps this file caused.
  for (const pid of sleepers.values()) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  removeDir(dataDir);
  removeDir(root);
  removeDir(scripts);
});

describe("after kill -9 and a restart on the same data folder", () => {
  test("the turn that was running is abandoned, and so is its running run_command trace", async () => {
    logsOnFailure();
    const { agentTurns } = await turnsOf(chats.resume);
    expect(agentTurns.slice(0, 2).map((t) => [t.turnNumber, t.status])).toEqual([
      [1, "ok"],
      [2, "abandoned"],
    ]);
    expect(agentTurns[1]!.outcome).toMatch(/the server stopped during the turn/);
    const traces = await tracesOf(chats.resume);
    expect(traces.map((t) => `${t.turnNumber}:${t.toolName}:${t.status}`)).toEqual(["1:write_file:ok", "2:run_command:abandoned"]);
    expect(traces[1]!.error).toBe("the server stopped while the tool ran");
  });

  test("the commands the dead server started do not outlive it", async () => {
    logsOnFailure();
    expect(sleepers.size).toBe(2);
    for (const [chat, pid] of sleepers) {
      expect(await waitUntil(() => !isAlive(pid), 10_000), `the sleep of chat ${chat} (pid ${pid}) still runs`).toBe(true);
    }
    // Killed by the new server at start-up (each sleep led its own process group), not by chance.
    const killed = second!.lines().find((l) => l.msg === "agent.killed_leftover_commands");
    expect(killed?.groups).toEqual(expect.arrayContaining([...sleepers.values()]));
  });

  test("traces of external writers (no owner) are left to the age rule: a fresh one keeps running, a two-hour-old one is abandoned", async () => {
    logsOnFailure();
    const traces = await tracesOf(chats.external);
    expect(Object.fromEntries(traces.map((t) => [t.toolName, t.status]))).toEqual({ external_fresh: "running", external_old: "abandoned" });
  });

  test("an auto-fix loop cut during its fix turn resumes at start-up with the due attempt", async () => {
    logsOnFailure();
    await poll(
      "the resumed fix turn to end",
      async () => {
        const { agentTurns, activeTurn } = await turnsOf(chats.fix);
        return activeTurn === null && agentTurns.length >= 3;
      },
      20_000,
    );
    const { agentTurns } = await turnsOf(chats.fix);
    expect(agentTurns.map((t) => [t.turnNumber, t.trigger, t.status, t.fixAttempt])).toEqual([
      [1, "user", "ok", null],
      [2, "autofix", "abandoned", 1],
      [3, "autofix", "ok", 1],
    ]);
    expect(agentTurns[2]!.outcome).toMatch(/build passed after 1 attempt/);
    expect(agentTurns[2]!.messages.map((m: any) => m.text)).toEqual(["fixed"]);
    expect(readFileSync(join(root, "fix", "app.mjs"), "utf8")).toBe("export const x = 1;\n");
    expect(second!.lines().some((l) => l.msg === "agent.resumed_autofix" && l.chatId === chats.fix && l.afterTurn === 2 && l.attempt === 1)).toBe(true);
    const traces = await tracesOf(chats.fix);
    expect(traces.map((t) => `${t.turnNumber}:${t.toolName}:${t.status}`)).toEqual([
      "1:write_file:ok",
      "1:build:error",
      "2:run_command:abandoned",
      "3:write_file:ok",
      "3:build:ok",
    ]);
  });

  test("a new message continues from the latest snapshot (turn 1's conversation) as turn 3", async () => {
    logsOnFailure();
    const sent = (await gql(SEND, { chatId: chats.resume, text: "third" })).sendMessage;
    expect(sent).toEqual({ __typename: "SendMessagePayload", turnNumber: 3 });
    await poll("turn 3 to end", async () => (await turnsOf(chats.resume)).activeTurn === null, 20_000);
    const { agentTurns } = await turnsOf(chats.resume);
    expect(agentTurns.map((t) => [t.turnNumber, t.trigger, t.status])).toEqual([
      [1, "user", "ok"],
      [2, "user", "abandoned"],
      [3, "user", "ok"],
    ]);
    expect(agentTurns[2]!.messages.map((m: any) => [m.kind, m.text])).toEqual([["assistant", "continued from turn 1"]]);
    expect(readFileSync(join(root, "resume", "notes.txt"), "utf8")).toBe("one\n");
  });

  test("the event log has a turn_finished and a trace_finished for what was abandoned, and the snapshots are intact", async () => {
    logsOnFailure();
    await poll("the fix chat to settle", async () => (await turnsOf(chats.fix)).activeTurn === null, 20_000);
    await second!.stop();
    expect(existsSync(join(dataDir, "tracedeck.lock"))).toBe(false);
    const db = await openDatabase({ dataDir });
    try {
      for (const chatId of [chats.resume, chats.fix]) {
        const turn2 = await db.prisma.agentTurn.findFirstOrThrow({ where: { chatId, turnNumber: 2 } });
        const trace = await db.prisma.toolTrace.findFirstOrThrow({ where: { chatId, turnNumber: 2, toolName: "run_command" } });
        expect([turn2.status, trace.status]).toEqual(["abandoned", "abandoned"]);
        expect(trace.finishedAt).not.toBeNull();
        const events = await db.prisma.chatEvent.findMany({ where: { chatId }, orderBy: { seq: "asc" } });
        const about = (id: string) => events.filter((e) => e.subjectId === id).map((e) => e.kind);
        expect(about(turn2.id)).toEqual(["turn_started", "turn_finished"]);
        expect(about(trace.id)).toEqual(["trace_started", "trace_finished"]);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      }
      // The abandoned turns saved no snapshot: the heads are the last turns that ended.
      const heads = await db.prisma.agentSnapshot.findMany({ where: { chatId: { in: [chats.resume, chats.fix] } } });
      expect(Object.fromEntries(heads.map((h) => [h.chatId === chats.resume ? "resume" : "fix", h.turn]))).toEqual({ resume: 3, fix: 3 });
      // Gone runs are forgotten; the second server stopped cleanly and forgot its own.
      expect(await db.prisma.agentRun.count()).toBe(0);
    } finally {
      await db.close();
    }
  });
});
