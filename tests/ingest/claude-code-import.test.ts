// importTranscripts on a real PGlite database: the fixture session and its subagent become the
// chat the hooks would make (traces with the transcript's times, outputs and errors, the
// subagent's call with its agentId and type, a snapshot per closed turn, tokens equal to ccusage's
// count); importing again writes nothing; a file imported while it grew ends as if imported whole;
// a session recorded live through the hooks first imports without conflicts or duplicates.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createClaudeCodeHooks } from "../../server/ingest/claude-code/hooks.js";
import { type ImportProgress, importTranscripts } from "../../server/ingest/claude-code/import.js";
import { listTranscriptFiles } from "../../server/ingest/claude-code/transcript-file.js";
import { silentLogger } from "../../server/logger.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ccusageTotals } from "../helpers/ccusage-count.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/claude-code");
const SESSION = "7d3f1c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";
const RESUMED = "9e8d7c6b-5a49-4382-8716-f5e4d3c2b1a0";
const AGENT = "a3f9c2e1";
const BASIC = readFileSync(join(FIXTURES, "session-basic.jsonl"), "utf8");
const SUBAGENT = readFileSync(join(FIXTURES, SESSION, "subagents", `agent-${AGENT}.jsonl`), "utf8");

let db: TestDatabase;
let t: TestApp;
let projects: string;

/** A session id of its own for each test (the fixture's, with its last digits changed). */
let sessions = 0;
const newSessionId = () => `${SESSION.slice(0, -4)}${String(++sessions).padStart(4, "0")}`;

/** Writes the basic session (and its subagent) under the projects folder as `sessionId`; returns both paths. */
function writeSession(sessionId: string, main = BASIC, sub: string | null = SUBAGENT): { main: string; sub: string } {
  const mainPath = join(projects, "-home-user-project", `${sessionId}.jsonl`);
  const subPath = join(projects, "-home-user-project", sessionId, "subagents", `agent-${AGENT}.jsonl`);
  mkdirSync(dirname(subPath), { recursive: true });
  writeFileSync(mainPath, main.replaceAll(SESSION, sessionId));
  if (sub !== null) writeFileSync(subPath, sub.replaceAll(SESSION, sessionId));
  return { main: mainPath, sub: subPath };
}

const target = () => ({ services: t.app.services, prisma: db.prisma });

const chatOf = async (sessionId: string) =>
  (await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "claude-code", externalId: sessionId } } })).chatId;

const tracesOf = (chatId: string) => db.prisma.toolTrace.findMany({ where: { chatId }, orderBy: [{ startedAt: "asc" }, { toolCallId: "asc" }] });

async function chatTokens(chatId: string) {
  const rows = await db.prisma.modelStep.findMany({ where: { chatId } });
  const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
  return { input: sum((r) => r.inputTokens), output: sum((r) => r.outputTokens), cacheRead: sum((r) => r.cacheReadTokens), cacheWrite: sum((r) => r.cacheWriteTokens) };
}

/** What a chat holds, without ids and write times: equal for two imports that ended alike. */
async function contentOf(chatId: string) {
  const traces = (await tracesOf(chatId)).map((r) => ({
    toolCallId: r.toolCallId,
    toolName: r.toolName,
    toolInput: r.toolInput,
    messageId: r.messageId,
    turnNumber: r.turnNumber,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString(),
    latencyMs: r.latencyMs,
    status: r.status,
    output: r.toolOutput,
    error: r.error,
    agentId: r.agentId,
    agentType: r.agentType,
  }));
  const steps = (await db.prisma.modelStep.findMany({ where: { chatId }, orderBy: { stepKey: "asc" } })).map(({ chatId: _c, updatedAt: _u, ...s }) => s);
  const snapshots = (await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } })).map((r) => ({ turn: r.turn, state: r.state }));
  const chat = await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId } });
  return { traces, steps, snapshots, nextTurn: chat.nextTurn, title: chat.title, workspace: chat.workspace };
}

/** The fixture's times, read from its lines independently of the parser: a call's assistant line and its result's line. */
function timesOf(text: string, toolUseId: string): { startedAt: string; finishedAt: string } {
  let startedAt = "";
  let finishedAt = "";
  for (const line of text.split("\n").filter(Boolean)) {
    const record = JSON.parse(line);
    const content = Array.isArray(record.message?.content) ? record.message.content : [];
    if (record.type === "assistant" && content.some((b: any) => b.type === "tool_use" && b.id === toolUseId)) startedAt ||= record.timestamp;
    if (record.type === "user" && content.some((b: any) => b.type === "tool_result" && b.tool_use_id === toolUseId)) finishedAt ||= record.timestamp;
  }
  return { startedAt, finishedAt };
}

function hookBodies(sessionId: string): Record<string, any>[] {
  return readdirSync(join(FIXTURES, "hooks"))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(FIXTURES, "hooks", name), "utf8").replaceAll("{{projects}}", projects).replaceAll(SESSION, sessionId)));
}

beforeAll(async () => {
  db = await createTestDatabase();
  projects = mkdtempSync(join(tmpdir(), "tracedeck-import-projects-"));
  t = await startTestApp(db, { listen: false, claudeCodeConfig: { readTranscripts: true, projectsDir: projects, readMaxBytes: 16 * 1024 * 1024 } });
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
  if (projects) rmSync(projects, { recursive: true, force: true });
});

describe("importing a session", () => {
  test("its calls become traces with the transcript's times, outputs and errors; the subagent's call carries its agent; each closed turn a snapshot; tokens equal ccusage's", async () => {
    const sessionId = newSessionId();
    const paths = writeSession(sessionId);
    const progress: ImportProgress[] = [];
    const summary = await importTranscripts(target(), await listTranscriptFiles(dirname(paths.main)), (p) => progress.push(p));

    const expected = ccusageTotals([paths.main, paths.sub]);
    expect(summary).toEqual({
      files: 2,
      sessions: 1,
      chats: { created: 1, updated: 0 },
      traces: 4,
      turns: 2,
      tokens: { ...expected, reasoning: 0 },
      skipped: { calls: 0, unanswered: 0, turns: 0, openTurns: 0, badLines: 0, files: 0 },
      errors: [],
    });
    const chatId = await chatOf(sessionId);
    expect(progress.map(({ file, traces, turns, index, total, created, chatId: c }) => ({ file, traces, turns, index, total, created, c }))).toEqual([
      { file: paths.main, traces: 3, turns: 2, index: 1, total: 2, created: true, c: chatId },
      { file: paths.sub, traces: 1, turns: 0, index: 2, total: 2, created: true, c: chatId },
    ]);

    const chat = await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId } });
    expect(chat.title).toBe("Run the tests and tell me why one fails");
    expect(chat.workspace).toBe("/home/user/project");
    expect(chat.nextTurn).toBe(3);

    const traces = await tracesOf(chatId);
    const byId = (id: string) => traces.find((r) => r.toolCallId === id)!;
    const main = BASIC.replaceAll(SESSION, sessionId);
    expect(traces.map((r) => [r.toolName, r.toolCallId, r.turnNumber])).toEqual([
      ["Bash", "toolu_01AAAAAAAAAAAAAAAAAAAAAAAA", 1],
      ["Read", "toolu_01BBBBBBBBBBBBBBBBBBBBBBBB", 1],
      ["Agent", "toolu_01CCCCCCCCCCCCCCCCCCCCCCCC", 2],
      ["Grep", "toolu_01DDDDDDDDDDDDDDDDDDDDDDDD", 2],
    ]);
    for (const [id, text] of [
      ["toolu_01AAAAAAAAAAAAAAAAAAAAAAAA", main],
      ["toolu_01BBBBBBBBBBBBBBBBBBBBBBBB", main],
      ["toolu_01CCCCCCCCCCCCCCCCCCCCCCCC", main],
      ["toolu_01DDDDDDDDDDDDDDDDDDDDDDDD", SUBAGENT],
    ] as const) {
      const times = timesOf(text, id);
      expect(times.startedAt && times.finishedAt, id).toBeTruthy();
      expect(byId(id).startedAt.toISOString(), id).toBe(times.startedAt);
      expect(byId(id).finishedAt?.toISOString(), id).toBe(times.finishedAt);
      expect(byId(id).latencyMs, id).toBe(Date.parse(times.finishedAt) - Date.parse(times.startedAt));
    }

    const bash = byId("toolu_01AAAAAAAAAAAAAAAAAAAAAAAA");
    expect(bash.status).toBe("error");
    expect(bash.error).toMatch(/^Exit code 1\n FAIL {2}tests\/math.test.ts/);
    expect(bash.toolOutput).toBeNull();
    expect(bash.toolInput).toEqual({ command: "npm test", description: "Run the test suite" });
    expect(bash.messageId).toMatch(/^msg_01AAAAAAAAAAAAAAAAAAAAAAAA:req_/);
    expect(byId("toolu_01BBBBBBBBBBBBBBBBBBBBBBBB").messageId).toBe(bash.messageId); // one step, two calls

    const read = byId("toolu_01BBBBBBBBBBBBBBBBBBBBBBBB");
    expect(read.status).toBe("ok");
    expect(read.toolOutput).toContain("return a - b;");
    expect(read.error).toBeNull();

    const agent = byId("toolu_01CCCCCCCCCCCCCCCCCCCCCCCC");
    expect(agent.toolOutput).toBe("Found 2 callers of add():\n- src/app.ts:12\n- src/report.ts:40");
    expect([agent.agentId, agent.agentType]).toEqual([null, null]);

    const grep = byId("toolu_01DDDDDDDDDDDDDDDDDDDDDDDD");
    expect([grep.agentId, grep.agentType, grep.status]).toEqual([AGENT, "Explore", "ok"]);
    expect(grep.toolOutput).toContain("src/report.ts:40:  return add(x, y);");
    expect(grep.messageId).toMatch(/^msg_01EEEEEEEEEEEEEEEEEEEEEEEE:/);

    // Every step's usage once (the largest of its lines), the subagent's included: ccusage's totals.
    expect(await chatTokens(chatId)).toEqual(expected);
    const step = await db.prisma.modelStep.findUniqueOrThrow({ where: { chatId_stepKey: { chatId, stepKey: bash.messageId! } } });
    expect(step.outputTokens).toBe(187); // not the first lines' intermediate 1

    const revisions = await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } });
    expect(revisions.map((r) => r.turn)).toEqual([1, 2]);
    const [one, two] = revisions.map((r) => r.state as Record<string, any>);
    expect(one).toMatchObject({ source: "claude-code", sessionId, cwd: "/home/user/project", prompt: "Run the tests and tell me why one fails", toolCalls: 2 });
    expect(one!.messages).toEqual([
      { role: "user", content: "Run the tests and tell me why one fails" },
      { role: "assistant", content: expect.stringMatching(/^One test fails: `add` in src\/math.ts subtracts/) },
    ]);
    expect(two).toMatchObject({ prompt: "Use a subagent to find every caller of add()", toolCalls: 2 });
    expect(two!.messages).toHaveLength(4);
    expect(two!.messages.at(-1)).toEqual({ role: "assistant", content: "add() is called from src/app.ts:12 and src/report.ts:40." });
  });

  test("a resumed session: every prompt a turn (a slash command too), the API error's turn closed, the cut line skipped, lines without requestId counted each", async () => {
    const file = join(projects, "resumed", `${RESUMED}.jsonl`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, readFileSync(join(FIXTURES, "session-resumed.jsonl")));
    const summary = await importTranscripts(target(), [file]);
    expect(summary).toMatchObject({ files: 1, sessions: 1, chats: { created: 1, updated: 0 }, traces: 2, turns: 4 });
    expect(summary.skipped).toEqual({ calls: 0, unanswered: 0, turns: 0, openTurns: 0, badLines: 1, files: 0 });
    const chatId = await chatOf(RESUMED);
    expect((await tracesOf(chatId)).map((r) => [r.toolName, r.toolCallId, r.turnNumber, r.status])).toEqual([
      ["Edit", "toolu_01EEEEEEEEEEEEEEEEEEEEEEEE", 1, "ok"],
      ["Edit", "toolu_01FFFFFFFFFFFFFFFFFFFFFFFF", 4, "ok"],
    ]);
    const prompts = (await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } })).map((r) => (r.state as any).prompt);
    expect(prompts).toEqual(["Add a --verbose flag to the CLI", "Now document it in README.md", "/model haiku", "Now document the flag in README.md"]);
    expect(await chatTokens(chatId)).toEqual(ccusageTotals([file]));
    expect(summary.tokens).toEqual({ ...ccusageTotals([file]), reasoning: 0 });
  });

  test("importing the same files again writes nothing at all", async () => {
    const sessionId = newSessionId();
    const paths = writeSession(sessionId);
    await importTranscripts(target(), [paths.main, paths.sub]);
    const before = await databaseFingerprint(db.prisma);
    const again = await importTranscripts(target(), [paths.main, paths.sub]);
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    expect(again).toMatchObject({ files: 2, chats: { created: 0, updated: 0 }, traces: 0, turns: 0, tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 } });
    expect(again.skipped).toEqual({ calls: 4, unanswered: 0, turns: 2, openTurns: 0, badLines: 0, files: 0 });
  });

  test("a file imported while it grew adds only what is new, and ends as the whole file imported at once", async () => {
    const whole = newSessionId();
    const wholePaths = writeSession(whole);
    await importTranscripts(target(), [wholePaths.main, wholePaths.sub]);

    const grown = newSessionId();
    const mainLines = BASIC.replaceAll(SESSION, grown).split("\n").filter(Boolean);
    const subLines = SUBAGENT.replaceAll(SESSION, grown).split("\n").filter(Boolean);
    const paths = writeSession(grown, "", "");
    /** The first `lines` lines (and half of the next one for x.5: a writer caught mid-line). */
    const head = (all: string[], lines: number) =>
      all.slice(0, Math.floor(lines)).map((l) => `${l}\n`).join("") + (lines % 1 ? all[Math.floor(lines)]!.slice(0, 40) : "");
    // After the thinking line (an intermediate usage); between the calls and their results; after
    // one result; mid-line; turn 1 closed and turn 2 prompted; the Agent call running while its
    // subagent calls Grep, then has its result; the Agent call's result; the end.
    const cuts: [main: number, sub: number][] = [[3, 0], [5, 0], [6, 0], [7.5, 0], [11, 0], [13, 0], [13, 2], [13, 2.5], [13, 3], [13, subLines.length], [14, subLines.length], [mainLines.length, subLines.length]];
    const totals = { traces: 0, turns: 0 };
    const added: number[] = [];
    for (const [main, sub] of cuts) {
      writeFileSync(paths.main, head(mainLines, main));
      writeFileSync(paths.sub, head(subLines, sub));
      const result = await importTranscripts(target(), [paths.main, paths.sub]);
      expect(result.errors).toEqual([]);
      totals.traces += result.traces;
      totals.turns += result.turns;
      added.push(result.traces);
    }
    expect(totals).toEqual({ traces: 4, turns: 2 });
    // Read once its result is written, Bash once its result's line is whole, Grep with its result, Agent with its.
    expect(added).toEqual([0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0]);

    const expected = await contentOf(await chatOf(whole));
    const actual = await contentOf(await chatOf(grown));
    const normalise = (c: typeof expected, id: string) => JSON.parse(JSON.stringify(c).replaceAll(id, "SESSION"));
    expect(normalise(actual, grown)).toEqual(normalise(expected, whole));
    expect(await chatTokens(await chatOf(grown))).toEqual(ccusageTotals([paths.main, paths.sub]));
  });

  test("a subagent's calls wait while their launching call is unknown, and are placed once its result names the agent", async () => {
    const sessionId = newSessionId();
    const lines = BASIC.replaceAll(SESSION, sessionId).split("\n").filter(Boolean);
    // A Task prompt that does not match the subagent's first line, and no .meta.json: only the result links them.
    const sub = SUBAGENT.replace("Find every caller of add() under src/ and report each as file:line.", "Search for add() callers.");
    const paths = writeSession(sessionId, `${lines.slice(0, 13).join("\n")}\n`, sub);
    const first = await importTranscripts(target(), [paths.main, paths.sub]);
    expect(first).toMatchObject({ traces: 2, skipped: { unanswered: 2 } }); // the Agent call and its subagent's Grep
    writeFileSync(paths.main, `${lines.join("\n")}\n`);
    const second = await importTranscripts(target(), [paths.main, paths.sub]);
    expect(second).toMatchObject({ traces: 2, turns: 1, skipped: { unanswered: 0, calls: 2 } });
    const grep = await db.prisma.toolTrace.findFirstOrThrow({ where: { chatId: await chatOf(sessionId), toolCallId: "toolu_01DDDDDDDDDDDDDDDDDDDDDDDD" } });
    expect([grep.turnNumber, grep.agentId, grep.agentType]).toEqual([2, AGENT, "Explore"]);
  });

  test("the first lines only: calls without a result and the open turn are left for later", async () => {
    const sessionId = newSessionId();
    const lines = BASIC.replaceAll(SESSION, sessionId).split("\n").filter(Boolean);
    const paths = writeSession(sessionId, "", null);
    // A text line before the message's tool calls, no stop reason yet: not the turn's answer.
    writeFileSync(paths.main, `${lines.slice(0, 4).join("\n")}\n`);
    expect(await importTranscripts(target(), [paths.main])).toMatchObject({ traces: 0, turns: 0, skipped: { unanswered: 0, openTurns: 1 } });
    writeFileSync(paths.main, `${lines.slice(0, 6).join("\n")}\n`);
    const first = await importTranscripts(target(), [paths.main]);
    expect(first).toMatchObject({ traces: 0, turns: 0, skipped: { unanswered: 2, openTurns: 1 } });
    const chatId = await chatOf(sessionId);
    expect(await db.prisma.toolTrace.count({ where: { chatId } })).toBe(0);
    // The step's usage is there already: the four lines of msg_01AAA… are all written.
    expect((await chatTokens(chatId)).output).toBe(187);
  });
});

describe("a session recorded live, then imported", () => {
  test("through the hook handler (usage read from the transcripts): the import finds everything there, no conflict, no duplicate", async () => {
    const sessionId = newSessionId();
    const paths = writeSession(sessionId);
    for (const body of hookBodies(sessionId)) await t.app.claudeCode.handle(body);
    await t.app.claudeCode.idle();
    const chatId = await chatOf(sessionId);
    expect(await db.prisma.toolTrace.count({ where: { chatId } })).toBe(4);
    expect(await db.prisma.agentSnapshotRevision.count({ where: { chatId } })).toBe(2);
    const before = await databaseFingerprint(db.prisma);

    const summary = await importTranscripts(target(), [paths.main, paths.sub]);
    expect(summary).toMatchObject({ chats: { created: 0, updated: 0 }, traces: 0, turns: 0, tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 } });
    expect(summary.skipped).toEqual({ calls: 4, unanswered: 0, turns: 2, openTurns: 0, badLines: 0, files: 0 });
    expect(await db.prisma.ingestSession.count({ where: { externalId: sessionId } })).toBe(1);
    // The hooks recorded it all, usage included: the import writes nothing.
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    expect(await chatTokens(chatId)).toEqual(ccusageTotals([paths.main, paths.sub]));
  });

  test("hooks up to the second prompt (no transcript reading), imported mid-session, then the rest of the hooks: each call once, each turn once, the live calls joined to their steps", async () => {
    const sessionId = newSessionId();
    const paths = writeSession(sessionId);
    const hooks = createClaudeCodeHooks({
      services: t.app.services,
      config: { readTranscripts: false, projectsDir: projects, readMaxBytes: 1024 * 1024 },
      log: silentLogger,
    });
    const bodies = hookBodies(sessionId);
    expect(bodies[7]).toMatchObject({ hook_event_name: "UserPromptSubmit", prompt: "Use a subagent to find every caller of add()" });
    for (const body of bodies.slice(0, 8)) await hooks.handle(body); // turn 1 stopped, turn 2 prompted
    const chatId = await chatOf(sessionId);
    expect(await db.prisma.modelStep.count({ where: { chatId } })).toBe(0);

    const summary = await importTranscripts(target(), [paths.main, paths.sub]);
    expect(summary).toMatchObject({ chats: { created: 0, updated: 1 }, traces: 2, turns: 0 });
    // Turn 1 saved by the hooks' Stop; turn 2 is open in the hooks, their Stop saves it.
    expect(summary.skipped).toEqual({ calls: 2, unanswered: 0, turns: 1, openTurns: 1, badLines: 0, files: 0 });
    expect(summary.tokens).toEqual({ ...ccusageTotals([paths.main, paths.sub]), reasoning: 0 });
    // Ordered by call id: the hooks' calls carry the time they were delivered, the import's the transcript's.
    const traces = (await tracesOf(chatId)).sort((a, b) => a.toolCallId!.localeCompare(b.toolCallId!));
    expect(traces.map((r) => [r.toolCallId, r.turnNumber, r.agentId])).toEqual([
      ["toolu_01AAAAAAAAAAAAAAAAAAAAAAAA", 1, null],
      ["toolu_01BBBBBBBBBBBBBBBBBBBBBBBB", 1, null],
      ["toolu_01CCCCCCCCCCCCCCCCCCCCCCCC", 2, null],
      ["toolu_01DDDDDDDDDDDDDDDDDDDDDDDD", 2, AGENT],
    ]);
    // The calls the hooks recorded now belong to their step.
    expect(traces.slice(0, 2).map((r) => r.messageId?.split(":")[0])).toEqual(["msg_01AAAAAAAAAAAAAAAAAAAAAAAA", "msg_01AAAAAAAAAAAAAAAAAAAAAAAA"]);

    // The rest of the hooks repeat calls the import recorded: no error, nothing twice.
    for (const body of bodies.slice(8)) await hooks.handle(body);
    expect(await db.prisma.toolTrace.count({ where: { chatId } })).toBe(4);
    const revisions = await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } });
    expect(revisions.map((r) => [r.turn, (r.state as any).prompt])).toEqual([
      [1, "Run the tests and tell me why one fails"],
      [2, "Use a subagent to find every caller of add()"],
    ]);
    expect(await chatTokens(chatId)).toEqual(ccusageTotals([paths.main, paths.sub]));

    const before = await databaseFingerprint(db.prisma);
    const again = await importTranscripts(target(), [paths.main, paths.sub]);
    expect(again).toMatchObject({ traces: 0, turns: 0, skipped: { calls: 4, turns: 2, openTurns: 0 } });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });
});

describe("files that cannot be read", () => {
  test("are reported and the others imported", async () => {
    const sessionId = newSessionId();
    const paths = writeSession(sessionId);
    const missing = join(projects, "gone.jsonl");
    const progress: ImportProgress[] = [];
    const summary = await importTranscripts(target(), [missing, paths.main, paths.sub], (p) => progress.push(p));
    expect(summary.errors).toEqual([{ file: missing, message: "no such file" }]);
    expect(summary).toMatchObject({ files: 2, traces: 4, turns: 2, skipped: { files: 1 } });
    expect(progress[0]).toMatchObject({ index: 1, total: 3, file: missing, error: "no such file" });
    expect(progress.map((p) => p.index)).toEqual([1, 2, 3]);
  });
});
