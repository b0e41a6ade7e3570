// Export and import of a chat (issue 11): a chat with several turns of Tracedeck's agent, traces
// with tokens on shared model steps, errors, a timeout, a running call, and snapshots restored
// twice (lineage through superseded turns) is exported over real HTTP as JSON Lines, then imported
// into an empty database: every table matches row for row, the event log is rebuilt 1..n in time
// order with the kinds the live writes appended, the counters are right, and a second import adds
// nothing. The OTLP export decodes as an ExportTraceServiceRequest with the GenAI attributes.
// Runs on both backends.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { PrismaClient } from "../../server/db/generated/prisma/client.js";
import { writeJsonlExport } from "../../server/export/jsonl.js";
import { readChatRecords } from "../../server/export/records.js";
import type { Sink } from "../../server/export/sink.js";
import { importExportFile } from "../../server/ingest/tracedeck/import.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { recordingLogger } from "../helpers/graphql-fixtures.js";
import { rawRequest } from "../helpers/raw-http.js";
import { createServiceHarness, type ServiceHarness } from "../helpers/services.js";

const require = createRequire(import.meta.url);
const root = require("@opentelemetry/otlp-transformer/build/src/generated/root.js");
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

let source: TestDatabase;
let target: TestDatabase;
let t: TestApp;
let harness: ServiceHarness;
let work: string;
let chatId: string;
let records: Record<string, any>[];
const ids: Record<string, string> = {};

const tokens = (input: number, output: number, cacheRead = 0, cacheWrite = 0, reasoning = 0) => ({ input, output, cacheRead, cacheWrite, reasoning });

/** A chat that uses every part the export carries. */
async function buildChat(app: TestApp["app"]): Promise<string> {
  const s = app.services;
  const chat = await s.chats.create({ title: "Fix the build", workspace: "/work/app" });
  const id = chat.id;
  const ownerRunId = randomUUID();
  const turn = (prompt: string, trigger: "user" | "autofix" = "user") => s.agentTurns.start({ chatId: id, trigger, prompt, provider: "scripted", model: "demo", ownerRunId, ...(trigger === "autofix" ? { fixAttempt: 1 } : {}) });

  // Turn 1: one model step with two calls (its usage on each), an error in another step, and a
  // call without a message id (a step of its own).
  const t1 = await turn("Fix the build");
  const recorded = await s.traces.recordBatch([
    { chatId: id, toolName: "read_file", toolCallId: "call_1", messageId: "msg_1", toolInput: { path: "src/a.ts" }, output: "export const a = 1;", latencyMs: 12, tokens: tokens(1200, 80, 9000, 300, 20) },
    { chatId: id, toolName: "list_files", toolCallId: "call_2", messageId: "msg_1", toolInput: {}, output: "src/a.ts\nsrc/b.ts", latencyMs: 5, tokens: tokens(1200, 80, 9000, 300, 20) },
    { chatId: id, toolName: "run_command", toolCallId: "call_3", messageId: "msg_2", toolInput: { program: "npm", args: ["run", "build"] }, error: "exit 1: TS2304", latencyMs: 2100, tokens: tokens(1500, 60, 10000, 0, 0) },
    { chatId: id, toolName: "write_file", toolCallId: "call_4", toolInput: { path: "src/b.ts", content: "x" }, output: "written", latencyMs: 3, tokens: tokens(10, 5) },
  ]);
  ids.ownStep = recorded[3]!.id;
  ids.errorTrace = recorded[2]!.id;
  ids.okTrace = recorded[0]!.id;
  await s.agentTurns.say({ chatId: id, turnNumber: t1.turnNumber, kind: "assistant", text: "The build needs b.ts." });
  await s.agentTurns.finish({ turnId: t1.id, status: "ok", steps: 3, tokens: tokens(3910, 225, 19000, 300, 20), outcome: "answered" });
  await s.snapshots.save({ chatId: id, state: { messages: [{ role: "user", content: "Fix the build" }], settings: { apiKey: "sk-live-123" } } });

  // Turn 2: the live path (start, then finish), a timeout, the agent's error message.
  const t2 = await turn("The build failed", "autofix");
  const started = await s.traces.start({ chatId: id, toolName: "run_command", toolCallId: "call_5", messageId: "msg_3", toolInput: { program: "npm", args: ["test"] } });
  await s.traces.finish({ traceId: started.id, status: "timeout", error: "timed out after 30 s", tokens: tokens(2000, 40, 12000, 100, 0) });
  const second = await s.traces.start({ chatId: id, toolName: "read_file", toolCallId: "call_6", messageId: "msg_3", toolInput: { path: "src/b.ts" } });
  await s.traces.finish({ chatId: id, toolCallId: "call_6", output: "x", tokens: tokens(2000, 40, 12000, 100, 0) });
  ids.timeoutTrace = started.id;
  ids.liveTrace = second.id;
  await s.agentTurns.say({ chatId: id, turnNumber: t2.turnNumber, kind: "error", text: "The model refused the request." });
  await s.agentTurns.finish({ turnId: t2.id, status: "error", steps: 1, error: "refused", fixFollows: true });
  await s.snapshots.save({ chatId: id, state: { messages: [{ role: "user", content: "The build failed" }] } });

  // Turn 3: an external writer's calls, one still running.
  const running = await s.traces.start({ chatId: id, toolName: "Bash", toolCallId: "call_7", toolInput: { command: "sleep 100" }, agentId: "agent-1", agentType: "Explore" });
  ids.runningTrace = running.id;
  await s.snapshots.save({ chatId: id, state: { note: "turn three" } });

  // Back to turn 1 (2 and 3 superseded), a new turn 4 from there, then back to turn 3 (lineage 3 → 2 → 1).
  await s.snapshots.restore({ chatId: id, turn: 1 });
  const t4 = await turn("Try again");
  await s.traces.recordBatch([{ chatId: id, toolName: "edit_file", toolCallId: "call_8", messageId: "msg_4", toolInput: { path: "src/b.ts" }, output: "ok", latencyMs: 7, tokens: tokens(500, 20, 0, 0, 5) }]);
  await s.agentTurns.finish({ turnId: t4.id, status: "ok", steps: 1, tokens: tokens(500, 20, 0, 0, 5) });
  await s.snapshots.save({ chatId: id, state: { messages: [{ role: "user", content: "Try again" }] } });
  await s.snapshots.restore({ chatId: id, turn: 3 });
  await s.agentSettings.update({ chatId: id, buildCommand: ["npm", "run", "build"] }, { provider: "scripted", model: "demo", workspace: "app", fixAttempts: 2 });
  return id;
}

/** Every row of the chat, table by table, as each database holds it. */
async function chatTables(prisma: PrismaClient, id: string) {
  const where = { chatId: id };
  return {
    chat: await prisma.chat.findUniqueOrThrow({ where: { id } }),
    traces: await prisma.toolTrace.findMany({ where, orderBy: { id: "asc" } }),
    steps: await prisma.modelStep.findMany({ where, orderBy: { stepKey: "asc" } }),
    revisions: await prisma.agentSnapshotRevision.findMany({ where, orderBy: { turn: "asc" } }),
    head: await prisma.agentSnapshot.findUnique({ where }),
    turns: await prisma.agentTurn.findMany({ where, orderBy: { turnNumber: "asc" } }),
    messages: await prisma.agentMessage.findMany({ where, orderBy: { id: "asc" } }),
    settings: await prisma.agentSettings.findUnique({ where }),
    session: await prisma.ingestSession.findUnique({ where }),
  };
}

const eventsOf = (prisma: PrismaClient, id: string) => prisma.chatEvent.findMany({ where: { chatId: id }, orderBy: { seq: "asc" } });
const countAll = async (prisma: PrismaClient) => ({
  chats: await prisma.chat.count(),
  traces: await prisma.toolTrace.count(),
  events: await prisma.chatEvent.count(),
  revisions: await prisma.agentSnapshotRevision.count(),
});

function memorySink(): Sink & { text: string } {
  const sink = { text: "", async write(text: string) { sink.text += text; }, async end() {} };
  return sink;
}

beforeAll(async () => {
  source = await createTestDatabase();
  target = await createTestDatabase();
  const recording = recordingLogger();
  records = recording.records;
  t = await startTestApp(source, { log: recording.log });
  harness = createServiceHarness(target);
  work = mkdtempSync(join(tmpdir(), "tracedeck-export-"));
  chatId = await buildChat(t.app);
}, 120_000);
afterAll(async () => {
  expect(records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  harness?.published.stop();
  await t?.stop();
  await source?.destroy();
  await target?.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("JSON Lines: export over HTTP, import into an empty database", () => {
  let file: string;
  let text: string;

  test("the download: an attachment of typed lines, header first, end last", async () => {
    const response = await rawRequest(`${t.url}/api/chats/${chatId}/export?format=jsonl`);
    expect(response.status, response.text.slice(0, 300)).toBe(200);
    expect(response.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe(`attachment; filename="tracedeck-chat-${chatId}.jsonl"`);
    text = response.text;
    file = join(work, "chat.jsonl");
    writeFileSync(file, text);
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: "tracedeck-export", version: 1, chatId });
    expect(lines[1]).toMatchObject({ type: "chat", id: chatId, title: "Fix the build", nextTurn: 5, continuedFromTurn: 3 });
    expect(lines.at(-1)).toEqual({ type: "end", counts: { traces: 8, modelSteps: 5, snapshotRevisions: 4, agentTurns: 3, agentMessages: 2 } });
    for (const line of lines) expect(typeof line.type).toBe("string");
    // Stored data only: the snapshot's secret was scrubbed when it was saved.
    expect(text).not.toContain("sk-live-123");
    expect(text).toContain("[redacted]");
  });

  test("the import reproduces the chat table by table, with its event log rebuilt", async () => {
    const before = await chatTables(source.prisma, chatId);
    const results = await importExportFile({ services: harness.services, prisma: target.prisma }, file);
    expect(results).toEqual([
      { chatId, title: "Fix the build", status: "imported", counts: { traces: 8, modelSteps: 5, snapshotRevisions: 4, agentTurns: 3, agentMessages: 2 }, events: expect.any(Number) },
    ]);
    const after = await chatTables(target.prisma, chatId);
    const sourceEvents = await eventsOf(source.prisma, chatId);
    const events = await eventsOf(target.prisma, chatId);

    // Every row, every column; the chat's counters (kept by triggers) included.
    expect(after.traces).toEqual(before.traces);
    expect(after.steps).toEqual(before.steps);
    expect(after.revisions).toEqual(before.revisions);
    expect(after.head).toEqual(before.head);
    expect(after.turns).toEqual(before.turns);
    expect(after.messages).toEqual(before.messages);
    expect(after.settings).toEqual(before.settings);
    expect(after.session).toBeNull();
    const { eventSeq, ...chat } = after.chat;
    const { eventSeq: sourceSeq, ...sourceChat } = before.chat;
    expect(chat).toEqual(sourceChat);
    expect(chat).toMatchObject({ traceCount: 8, runningCount: 1, errorCount: 2, nextTurn: 5, continuedFromTurn: 3 });
    expect(before.revisions.map((r) => [r.turn, r.supersededAt === null, r.restoredFrom])).toEqual([
      [1, true, null],
      [2, true, null],
      [3, true, null],
      [4, false, 1],
    ]);

    // The log: 1..n, the chat's counter at n, the same events the live writes appended, in time order.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(eventSeq).toBe(events.length);
    expect(results[0]!.events).toBe(events.length);
    const key = (e: { kind: string; subjectId: string }) => `${e.kind} ${e.subjectId}`;
    expect(events.map(key).sort()).toEqual(sourceEvents.map(key).sort());
    expect(sourceSeq).toBe(sourceEvents.length);
    expect(events[0]).toMatchObject({ kind: "chat_created", subjectId: chatId });
    for (let i = 1; i < events.length; i++) expect(events[i]!.createdAt.getTime()).toBeGreaterThanOrEqual(events[i - 1]!.createdAt.getTime());
    const seqOf = (kind: string, subject: string) => events.find((e) => e.kind === kind && e.subjectId === subject)!.seq;
    const revision = (turn: number) => before.revisions.find((r) => r.turn === turn)!.id;
    for (const trace of before.traces.filter((tr) => tr.status !== "running")) expect(seqOf("trace_started", trace.id)).toBeLessThan(seqOf("trace_finished", trace.id));
    expect(events.filter((e) => e.kind === "trace_finished" && e.subjectId === ids.runningTrace)).toEqual([]);
    // Restored to turn 1 before turn 4 was saved; restored to turn 3 after.
    expect(seqOf("snapshot_restored", revision(1))).toBeLessThan(seqOf("snapshot_saved", revision(4)));
    expect(seqOf("snapshot_restored", revision(3))).toBeGreaterThan(seqOf("snapshot_saved", revision(4)));
    for (const turn of before.turns) expect(seqOf("turn_started", turn.id)).toBeLessThan(seqOf("turn_finished", turn.id));

    // Published after the commit, as every write is.
    const published = await harness.published.settle();
    expect(published.map((e) => [e.seq, e.kind, e.subjectId])).toEqual(events.map((e) => [e.seq, e.kind, e.subjectId]));
  });

  test("exported again from the imported copy, the file is the same but for its header", async () => {
    const copy = (await readChatRecords(target.prisma, chatId))!;
    const sink = memorySink();
    await writeJsonlExport(copy, sink, { generator: "test" });
    expect(sink.text.split("\n").slice(1)).toEqual(text.split("\n").slice(1));
  });

  test("importing the same file again adds nothing: already there", async () => {
    const counts = await countAll(target.prisma);
    const published = harness.published.events.length;
    const results = await importExportFile({ services: harness.services, prisma: target.prisma }, file);
    expect(results).toEqual([{ chatId, title: "Fix the build", status: "already-there", counts: expect.objectContaining({ traces: 8 }) }]);
    expect(await countAll(target.prisma)).toEqual(counts);
    await harness.published.settle();
    expect(harness.published.events.length).toBe(published);
  });

  test("the same id with other content is refused, and nothing is written", async () => {
    await harness.services.chats.rename({ id: chatId, title: "Renamed here" });
    const counts = await countAll(target.prisma);
    const tables = await chatTables(target.prisma, chatId);
    const results = await importExportFile({ services: harness.services, prisma: target.prisma }, file);
    expect(results).toEqual([{ chatId, title: "Fix the build", status: "refused", message: expect.stringContaining(`chat ${chatId} already exists in this database with different content`) }]);
    expect(await countAll(target.prisma)).toEqual(counts);
    expect(await chatTables(target.prisma, chatId)).toEqual(tables);
  });
});

describe("ids another chat holds", () => {
  test("the same content under another chat id: refused on its trace ids, nothing written", async () => {
    const otherId = randomUUID();
    const copy = join(work, "copy.jsonl");
    writeFileSync(copy, readFileSync(join(work, "chat.jsonl"), "utf8").replaceAll(chatId, otherId));
    const counts = await countAll(target.prisma);
    const results = await importExportFile({ services: harness.services, prisma: target.prisma }, copy);
    expect(results).toEqual([{ chatId: otherId, title: "Fix the build", status: "refused", message: expect.stringContaining("of this chat already exist in the database, under another chat") }]);
    expect(await countAll(target.prisma)).toEqual(counts);
  });
});

describe("OTLP JSON export", () => {
  let request: any;

  test("an attachment that decodes as an ExportTraceServiceRequest, field for field", async () => {
    const response = await rawRequest(`${t.url}/api/chats/${chatId}/export?format=otlp`);
    expect(response.status, response.text.slice(0, 300)).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe(`attachment; filename="tracedeck-chat-${chatId}.otlp.json"`);
    request = JSON.parse(response.text);
    // OTLP/JSON writes ids as hex; protobuf's JSON mapping (and so protobufjs) reads bytes as base64.
    const hexToBytes = (hex: string) => Buffer.from(hex, "hex");
    const forProtobuf = structuredClone(request);
    for (const rs of forProtobuf.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) {
      for (const field of ["traceId", "spanId", "parentSpanId"]) if (span[field] !== undefined) span[field] = hexToBytes(span[field]);
    }
    const message = ExportTraceServiceRequest.fromObject(forProtobuf);
    expect(ExportTraceServiceRequest.verify(message)).toBeNull();
    const decoded = ExportTraceServiceRequest.decode(ExportTraceServiceRequest.encode(message).finish());
    const back = ExportTraceServiceRequest.toObject(decoded, { longs: String, enums: Number, bytes: String, defaults: false });
    for (const rs of back.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) {
      for (const field of ["traceId", "spanId", "parentSpanId"]) if (span[field] !== undefined) span[field] = Buffer.from(span[field], "base64").toString("hex");
    }
    // Nothing was dropped or renamed on the way: every field is one OTLP knows.
    expect(back).toEqual(request);
  });

  test("one execute_tool span per trace and one chat span per model step, with the GenAI attributes", async () => {
    const spans: any[] = request.resourceSpans[0].scopeSpans[0].spans;
    const attrs = (span: any) => Object.fromEntries(span.attributes.map((a: any) => [a.key, Object.values(a.value)[0]]));
    const tools = spans.filter((s) => attrs(s)["gen_ai.operation.name"] === "execute_tool");
    const steps = spans.filter((s) => attrs(s)["gen_ai.operation.name"] === "chat");
    expect(tools).toHaveLength(8);
    expect(steps.map((s) => attrs(s)["tracedeck.step.key"]).sort()).toEqual(["msg_1", "msg_2", "msg_3", "msg_4", `trace:${ids.ownStep}`].sort());
    const traceId = chatId.replaceAll("-", "");
    for (const span of spans) {
      expect(span.traceId).toBe(traceId);
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(attrs(span)["gen_ai.conversation.id"]).toBe(chatId);
    }
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);

    const byTrace = new Map(tools.map((s) => [attrs(s)["tracedeck.trace.id"], s]));
    const stepByKey = new Map(steps.map((s) => [attrs(s)["tracedeck.step.key"], s]));
    const stored = await source.prisma.toolTrace.findUniqueOrThrow({ where: { id: ids.okTrace } });
    const ok = byTrace.get(ids.okTrace)!;
    expect(ok.name).toBe("execute_tool read_file");
    expect(ok.startTimeUnixNano).toBe((BigInt(stored.startedAt.getTime()) * 1_000_000n).toString());
    expect(ok.endTimeUnixNano).toBe((BigInt(stored.finishedAt!.getTime()) * 1_000_000n).toString());
    expect(ok.status).toEqual({ code: 1 });
    expect(ok.parentSpanId).toBe(stepByKey.get("msg_1").spanId);
    expect(attrs(ok)).toMatchObject({
      "gen_ai.tool.name": "read_file",
      "gen_ai.tool.call.id": "call_1",
      "gen_ai.tool.call.arguments": JSON.stringify({ path: "src/a.ts" }),
      "gen_ai.tool.call.result": "export const a = 1;",
    });
    expect(attrs(ok)["error.type"]).toBeUndefined();

    const failed = byTrace.get(ids.errorTrace)!;
    expect(failed.status).toEqual({ code: 2, message: "exit 1: TS2304" });
    expect(attrs(failed)["error.type"]).toBe("error");
    expect(attrs(byTrace.get(ids.timeoutTrace))["error.type"]).toBe("timeout");
    const running = byTrace.get(ids.runningTrace)!;
    expect(running.status).toEqual({ code: 0 });
    expect(running.parentSpanId).toBeUndefined(); // no message, no usage: no step span
    expect(attrs(running)).toMatchObject({ "tracedeck.agent.id": "agent-1", "tracedeck.agent.type": "Explore" });
    expect(byTrace.get(ids.ownStep)!.parentSpanId).toBe(stepByKey.get(`trace:${ids.ownStep}`).spanId);

    // Usage on the step, once: input counts cache reads and writes, output includes reasoning.
    const msg1 = stepByKey.get("msg_1");
    expect(attrs(msg1)).toMatchObject({
      "gen_ai.usage.input_tokens": String(1200 + 9000 + 300),
      "gen_ai.usage.output_tokens": "80",
      "gen_ai.usage.cache_read.input_tokens": "9000",
      "gen_ai.usage.cache_creation.input_tokens": "300",
      "gen_ai.usage.reasoning.output_tokens": "20",
      "gen_ai.request.model": "demo",
      "gen_ai.provider.name": "scripted",
      "tracedeck.step.tool_calls": "2",
    });
    expect(msg1.name).toBe("chat demo");
    // The step's span covers its calls.
    for (const child of tools.filter((s) => s.parentSpanId === msg1.spanId)) {
      expect(BigInt(child.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(msg1.startTimeUnixNano));
      expect(BigInt(child.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(msg1.endTimeUnixNano));
    }
  });

  test("the same chat exports the same ids", async () => {
    const again = JSON.parse((await rawRequest(`${t.url}/api/chats/${chatId}/export?format=otlp`)).text);
    const idsOf = (r: any) => r.resourceSpans[0].scopeSpans[0].spans.map((s: any) => [s.spanId, s.parentSpanId ?? null]);
    expect(idsOf(again)).toEqual(idsOf(request));
  });
});

describe("export errors", () => {
  test("an unknown chat is 404, a bad format or parameter 400, a malformed id 400", async () => {
    const unknown = await rawRequest(`${t.url}/api/chats/${randomUUID()}/export?format=jsonl`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.errors[0].extensions.code).toBe("NOT_FOUND");
    for (const search of ["format=xml", "format=jsonl&format=otlp", "format=jsonl&gzip=1"]) {
      const bad = await rawRequest(`${t.url}/api/chats/${chatId}/export?${search}`);
      expect(bad.status, search).toBe(400);
      expect(bad.json.errors[0].extensions.code).toBe("BAD_USER_INPUT");
    }
    expect((await rawRequest(`${t.url}/api/chats/nope/export`)).status).toBe(400);
  });

  test("without a format: JSON Lines", async () => {
    const response = await rawRequest(`${t.url}/api/chats/${chatId}/export`);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text.split("\n")[0]!)).toMatchObject({ type: "tracedeck-export", chatId });
    expect(readFileSync(join(work, "chat.jsonl"), "utf8").split("\n").slice(1)).toEqual(response.text.split("\n").slice(1));
  });
});
