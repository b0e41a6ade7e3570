// POST /hooks/claude-code over real HTTP on a real database: the fixture session's hooks become a
// chat whose calls reach a graphql-ws subscriber live as they start and end; repeats, finishes
// without starts and out-of-order deliveries end right; bad bodies write nothing; token usage read
// from the transcripts lands on the right steps and equals ccusage's count of the same files;
// transcript paths outside CLAUDE_PROJECTS_DIR, symlinks out of it and FIFOs are never read.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execute, startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { ccusageTotals } from "../helpers/ccusage-count.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/claude-code");
const SESSION = "7d3f1c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";

let db: TestDatabase;
let t: TestApp;
let projects: string;
let outside: string;
const clients = wsClients(() => t.wsUrl);

/** The fixture hook bodies in order, transcript paths pointing into this run's projects folder. */
function hookBodies(): { name: string; body: Record<string, any> }[] {
  return readdirSync(join(FIXTURES, "hooks"))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((name) => ({ name, body: JSON.parse(readFileSync(join(FIXTURES, "hooks", name), "utf8").replaceAll("{{projects}}", projects)) }));
}

const hook = (name: string, overrides: Record<string, unknown> = {}) => ({ ...hookBodies().find((h) => h.name.includes(name))!.body, ...overrides });

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${t.url}/hooks/claude-code`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

const chatOf = async (sessionId: string) => (await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "claude-code", externalId: sessionId } } })).chatId;

beforeAll(async () => {
  db = await createTestDatabase();
  projects = mkdtempSync(join(tmpdir(), "tracedeck-claude-projects-"));
  outside = mkdtempSync(join(tmpdir(), "tracedeck-claude-outside-"));
  const project = join(projects, "-home-user-project");
  mkdirSync(project, { recursive: true });
  cpSync(join(FIXTURES, "session-basic.jsonl"), join(project, `${SESSION}.jsonl`));
  cpSync(join(FIXTURES, SESSION), join(project, SESSION), { recursive: true });
  t = await startTestApp(db, { claudeCodeConfig: { readTranscripts: true, projectsDir: projects, readMaxBytes: 16 * 1024 * 1024 } });
});
afterAll(async () => {
  await clients.disposeAll();
  await t?.stop();
  await db?.destroy();
  rmSync(projects, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("a Claude Code session through its hooks", () => {
  test("every call's start and finish reach a subscriber live; turns close with snapshots; usage from the transcripts equals ccusage's count", async () => {
    const [first, ...rest] = hookBodies();
    expect((await post(first!.body)).status).toBe(204);
    const chatId = await chatOf(SESSION);
    const chat = await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId } });
    expect(chat.title).toBe("project");
    expect(chat.workspace).toBe("/home/user/project");

    const stream = subscribe(clients.client(), `subscription($chatId: ID!) { chatEvents(chatId: $chatId) { ... on ChatEvent { kind trace { toolCallId status agentId agentType } } } }`, { chatId });
    await stream.until((r) => r.length >= 1); // the opening: live from here
    const kinds = () => stream.received.map((r) => (r.data?.chatEvents as any)?.kind).filter(Boolean);
    for (const { name, body } of rest) {
      const before = kinds().length;
      const answer = await post(body);
      expect(answer, name).toEqual({ status: 204, text: "" });
      // A call's start and finish are seen before the next hook is sent.
      if (/pre-tool-use/.test(name)) await stream.until(() => kinds().slice(before).includes("trace_started"));
      if (/post-tool-use/.test(name)) await stream.until(() => kinds().slice(before).includes("trace_finished"));
    }
    await t.app.claudeCode.idle();

    const renamed = await db.prisma.chat.findUniqueOrThrow({ where: { id: chatId } });
    expect(renamed.title).toBe("Run the tests and tell me why one fails");
    const traces = await db.prisma.toolTrace.findMany({ where: { chatId }, orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
    expect(traces.map((x) => [x.toolName, x.status, x.turnNumber, x.agentType])).toEqual([
      ["Bash", "error", 1, null],
      ["Read", "ok", 1, null],
      ["Agent", "ok", 2, null],
      ["Grep", "ok", 2, "Explore"],
    ]);
    const failed = traces[0]!;
    expect(failed.error).toMatch(/^Exit code 1/);
    expect(traces[1]!.toolOutput).toBeTruthy();

    const revisions = await db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } });
    expect(revisions.map((r) => r.turn)).toEqual([1, 2]);
    const state = revisions[0]!.state as any;
    expect(state).toMatchObject({ source: "claude-code", sessionId: SESSION, prompt: "Run the tests and tell me why one fails", toolCalls: 2 });
    expect(state.messages.map((m: any) => m.role)).toEqual(["user", "assistant"]);

    // Each tool call is joined to the message that asked for it; the two parallel calls share one step.
    expect(traces[0]!.messageId).not.toBeNull();
    expect(traces[0]!.messageId).toBe(traces[1]!.messageId);
    expect(traces[3]!.messageId).not.toBe(traces[2]!.messageId);

    const steps = await db.prisma.modelStep.findMany({ where: { chatId } });
    const total = (k: "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheWriteTokens") => steps.reduce((n, s) => n + s[k], 0);
    const expected = ccusageTotals([join(projects, "-home-user-project", `${SESSION}.jsonl`), ...readdirSync(join(projects, "-home-user-project", SESSION, "subagents")).map((f) => join(projects, "-home-user-project", SESSION, "subagents", f))]);
    expect({ input: total("inputTokens"), output: total("outputTokens"), cacheRead: total("cacheReadTokens"), cacheWrite: total("cacheWriteTokens") }).toEqual({
      input: expected.input,
      output: expected.output,
      cacheRead: expected.cacheRead,
      cacheWrite: expected.cacheWrite,
    });
    expect(expected.cacheRead).toBeGreaterThan(0);

    // The chat says whose session it records, and Tracedeck's own agent keeps out of it.
    const asked = await execute(t.app, `query($id: ID!) { chat(id: $id) { source } }`, { id: chatId });
    expect(asked.data).toEqual({ chat: { source: "claude-code" } });
    const refused = await execute(t.app, `mutation($id: ID!) { sendMessage(chatId: $id, text: "hello") { __typename ... on Error { message } } }`, { id: chatId });
    expect(refused.data?.sendMessage).toMatchObject({ __typename: "ConflictError", message: expect.stringMatching(/records a claude-code session/) });

    // Every tool hook and the last prompt delivered again, as a retrying sender would: nothing changes.
    const settled = await databaseFingerprint(db.prisma);
    for (const { body } of hookBodies().filter((h) => /tool-use|session-start|subagent-start|08-user-prompt/.test(h.name))) expect((await post(body)).status).toBe(204);
    await t.app.claudeCode.idle();
    expect(await databaseFingerprint(db.prisma)).toEqual(settled);
  });

  test("a finish without its start records the call whole; a start after its finish changes nothing; a later, different finish does not replace the first", async () => {
    const session = "00000000-0000-4000-8000-0000000000f1";
    const pre = hook("03-pre-tool-use-bash", { session_id: session, tool_use_id: "toolu_disorder_1" });
    const post1 = hook("06-post-tool-use-failure-bash", { session_id: session, tool_use_id: "toolu_disorder_1" });
    expect((await post(post1)).status).toBe(204);
    const chatId = await chatOf(session);
    const recorded = await db.prisma.toolTrace.findFirstOrThrow({ where: { chatId, toolCallId: "toolu_disorder_1" } });
    expect(recorded).toMatchObject({ toolName: "Bash", status: "error" });
    expect(recorded.finishedAt).not.toBeNull();

    const before = await databaseFingerprint(db.prisma);
    expect((await post(pre)).status).toBe(204);
    expect((await post({ ...post1, hook_event_name: "PostToolUse", tool_response: { stdout: "later" } })).status).toBe(204);
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });

  test("deliveries out of order across calls: each call ends with its own result", async () => {
    const session = "00000000-0000-4000-8000-0000000000f2";
    const a = { ...hook("04-pre-tool-use-read"), session_id: session, tool_use_id: "toolu_order_a" };
    const b = { ...hook("04-pre-tool-use-read"), session_id: session, tool_use_id: "toolu_order_b" };
    const finish = (pre: Record<string, any>, text: string) => ({ ...hook("05-post-tool-use-read"), session_id: session, tool_use_id: pre.tool_use_id, tool_response: text });
    for (const body of [a, b, finish(b, "B"), finish(a, "A")]) expect((await post(body)).status).toBe(204);
    const chatId = await chatOf(session);
    const rows = await db.prisma.toolTrace.findMany({ where: { chatId }, orderBy: { toolCallId: "asc" } });
    expect(rows.map((r) => [r.toolCallId, r.status, r.toolOutput])).toEqual([
      ["toolu_order_a", "ok", "A"],
      ["toolu_order_b", "ok", "B"],
    ]);
  });
});

describe("bad bodies are refused clearly and write nothing", () => {
  const cases: [string, unknown, number, RegExp][] = [
    ["not JSON", "{nope", 400, /not JSON/],
    ["no session_id", { hook_event_name: "PreToolUse", tool_name: "Bash", tool_use_id: "x" }, 400, /session_id/],
    ["a tool event without tool_use_id", { session_id: "s-bad", hook_event_name: "PreToolUse", tool_name: "Bash" }, 400, /tool_use_id/],
    ["a prompt that is not text", { session_id: "s-bad", hook_event_name: "UserPromptSubmit", prompt: 42 }, 400, /prompt/],
    ["a list", [1, 2], 400, /hook/i],
  ];
  for (const [name, body, status, message] of cases) {
    test(name, async () => {
      const before = await databaseFingerprint(db.prisma);
      const answer = await post(body);
      expect(answer.status).toBe(status);
      expect(answer.text).toMatch(message);
      expect(await databaseFingerprint(db.prisma)).toEqual(before);
      expect(await db.prisma.ingestSession.count({ where: { externalId: "s-bad" } })).toBe(0);
    });
  }

  test("an event Tracedeck does not record is answered 204 and writes nothing", async () => {
    const before = await databaseFingerprint(db.prisma);
    expect(await post({ session_id: "s-future", hook_event_name: "PreCompact", trigger: "auto" })).toEqual({ status: 204, text: "" });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });

  test("the POST guard applies: a foreign Origin and a form body are refused", async () => {
    const body = hook("03-pre-tool-use-bash", { session_id: "s-guard" });
    expect((await post(body, { origin: "https://evil.example" })).status).toBe(403);
    const form = await fetch(`${t.url}/hooks/claude-code`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(body) });
    expect(form.status).toBe(415);
    expect(await db.prisma.ingestSession.count({ where: { externalId: "s-guard" } })).toBe(0);
  });
});

describe("transcript paths are hostile", () => {
  async function stopWith(session: string, transcriptPath: string) {
    expect((await post({ ...hook("02-user-prompt-submit"), session_id: session })).status).toBe(204);
    expect((await post({ ...hook("07-stop"), session_id: session, transcript_path: transcriptPath })).status).toBe(204);
    await t.app.claudeCode.idle();
    const chatId = await chatOf(session);
    return { steps: await db.prisma.modelStep.count({ where: { chatId } }), offsets: await db.prisma.ingestTranscript.count({ where: { chatId } }) };
  }

  test("a transcript outside CLAUDE_PROJECTS_DIR is not read", async () => {
    const file = join(outside, "stolen.jsonl");
    cpSync(join(FIXTURES, "session-basic.jsonl"), file);
    expect(await stopWith("00000000-0000-4000-8000-0000000000e1", file)).toEqual({ steps: 0, offsets: 0 });
    expect(await stopWith("00000000-0000-4000-8000-0000000000e2", join(projects, "..", file.split("/").slice(-2).join("/")))).toEqual({ steps: 0, offsets: 0 });
  });

  test("a symlink inside the folder pointing out of it is not read", async () => {
    const target = join(outside, "elsewhere.jsonl");
    cpSync(join(FIXTURES, "session-basic.jsonl"), target);
    const link = join(projects, "-home-user-project", "link.jsonl");
    symlinkSync(target, link);
    expect(await stopWith("00000000-0000-4000-8000-0000000000e3", link)).toEqual({ steps: 0, offsets: 0 });
  });

  test("a FIFO is not opened for a blocking read", async () => {
    const fifo = join(projects, "-home-user-project", "pipe.jsonl");
    execFileSync("mkfifo", [fifo]);
    expect(await stopWith("00000000-0000-4000-8000-0000000000e4", fifo)).toEqual({ steps: 0, offsets: 0 });
  }, 15_000);

  test("a transcript inside the folder is read once per new line: a second Stop adds nothing", async () => {
    const session = "00000000-0000-4000-8000-0000000000e5";
    const file = join(projects, "-home-user-project", `${session}.jsonl`);
    writeFileSync(file, readFileSync(join(FIXTURES, "session-basic.jsonl")));
    const first = await stopWith(session, file);
    expect(first.steps).toBeGreaterThan(0);
    const chatId = await chatOf(session);
    const offset = (await db.prisma.ingestTranscript.findFirstOrThrow({ where: { chatId } })).offset;
    expect(Number(offset)).toBe(readFileSync(file).length);
    const before = await db.prisma.modelStep.findMany({ where: { chatId }, orderBy: { stepKey: "asc" } });
    await stopWith(session, file);
    expect(await db.prisma.modelStep.findMany({ where: { chatId }, orderBy: { stepKey: "asc" } })).toEqual(before);
  });
});
