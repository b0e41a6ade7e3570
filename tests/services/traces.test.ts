import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../server/errors.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";
import type { ServiceHarness } from "../helpers/services.js";

const TOOL_INPUT_MAX = 1024;
/** `small`: same database, a small tool_input limit. */
const { db, h, harnesses: { small } } = useServiceDatabase({ harnesses: { small: { toolInputMaxBytes: TOOL_INPUT_MAX } } });
const { failsCleanly, changesNothing, eventLog, storedTrace } = serviceAssertions(() => db, () => h);

const newChat = (via: ServiceHarness = h) => via.services.chats.create({ title: "traces" });

describe("start", () => {
  test("a running trace in the chat's current session and open turn, on the server's clock", async () => {
    const chat = await newChat();
    const before = Date.now();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "read_file", toolInput: { path: "src/a.ts" } });
    const after = Date.now();
    expect(trace).toMatchObject({
      chatId: chat.id,
      status: "running",
      toolName: "read_file",
      toolInput: { path: "src/a.ts" },
      turnNumber: 1,
      sessionId: chat.currentSessionId,
      messageId: null,
      toolCallId: null,
      finishedAt: null,
      latencyMs: null,
      toolOutput: null,
      startedAtFromClient: false,
    });
    expect(trace.sessionId).not.toBe(chat.id);
    expect(trace.startedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(trace.startedAt.getTime()).toBeLessThanOrEqual(after);
    expect(await storedTrace(trace.id)).toEqual(trace);
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", trace.id],
    ]);
  });

  test("the client's started_at, session, message, call id and turn are kept", async () => {
    const chat = await newChat();
    const sessionId = randomUUID();
    const startedAt = new Date("2026-01-02T03:04:05.678Z");
    const trace = await h.services.traces.start({
      chatId: chat.id,
      sessionId,
      messageId: "msg_01",
      toolCallId: "call_01",
      turnNumber: 7,
      toolName: "bash",
      toolInput: { command: "ls" },
      startedAt,
    });
    expect(trace).toMatchObject({ sessionId, messageId: "msg_01", toolCallId: "call_01", turnNumber: 7, startedAtFromClient: true });
    expect(trace.startedAt.toISOString()).toBe("2026-01-02T03:04:05.678Z");
    // Naming a turn does not move the chat's open turn.
    expect((await h.services.chats.get(chat.id)).nextTurn).toBe(1);
  });

  test("without a turn, a trace belongs to the chat's next turn (one more than the highest saved)", async () => {
    const chat = await newChat();
    await h.services.snapshots.save({ chatId: chat.id, state: { messages: [] } });
    await h.services.snapshots.save({ chatId: chat.id, turn: 4, state: { messages: ["a"] } });
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: {} });
    expect(trace.turnNumber).toBe(5);
  });

  test("a missing tool_input is stored as an empty object", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: null });
    expect((await storedTrace(trace.id)).toolInput).toEqual({});
  });

  test("the same tool_call_id with identical fields returns the stored row and writes nothing", async () => {
    const chat = await newChat();
    const input = { chatId: chat.id, toolCallId: "call_same", toolName: "grep", toolInput: { pattern: "x", path: "." } };
    const first = await h.services.traces.start(input);
    await new Promise((r) => setTimeout(r, 5)); // the server's clock moved: not a client field
    const again = await changesNothing(() => h.services.traces.start({ ...input, toolInput: { path: ".", pattern: "x" } }));
    expect(again).toEqual(first);
    expect(await db.prisma.toolTrace.count({ where: { chatId: chat.id } })).toBe(1);
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", first.id],
    ]);
  });

  test("the same tool_call_id in another chat is another trace", async () => {
    const a = await newChat();
    const b = await newChat();
    const ta = await h.services.traces.start({ chatId: a.id, toolCallId: "call_x", toolName: "ls", toolInput: {} });
    const tb = await h.services.traces.start({ chatId: b.id, toolCallId: "call_x", toolName: "ls", toolInput: {} });
    expect(tb.id).not.toBe(ta.id);
    expect(tb.chatId).toBe(b.id);
  });

  test.each([
    ["tool name", { toolName: "write_file" }],
    ["tool input", { toolInput: { path: "b.ts" } }],
    ["message id", { messageId: "msg_other" }],
    ["session", { sessionId: "0198c6f0-0000-7000-8000-000000000001" }],
    ["turn", { turnNumber: 3 }],
    ["started_at", { startedAt: new Date("2026-01-01T00:00:00.001Z") }],
  ])("the same tool_call_id with a different %s is a ConflictError and writes nothing", async (_, change) => {
    const chat = await newChat();
    const input = {
      chatId: chat.id,
      toolCallId: "call_c",
      messageId: "msg_1",
      toolName: "read_file",
      toolInput: { path: "a.ts" },
      startedAt: new Date("2026-01-01T00:00:00.000Z"),
    };
    const first = await h.services.traces.start(input);
    const error = await failsCleanly(ConflictError, () => h.services.traces.start({ ...input, ...change }));
    expect(error).toMatchObject({ code: "CONFLICT", entity: "ToolTrace", id: first.id });
    expect(error.message).toContain("call_c");
    expect(await storedTrace(first.id)).toEqual(first);
  });

  test("an unknown chat is a NotFoundError and writes nothing", async () => {
    const chatId = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.traces.start({ chatId, toolName: "ls", toolInput: {} }));
    expect(error).toMatchObject({ code: "NOT_FOUND", entity: "Chat", id: chatId });
  });

  test.each([
    ["a chat id that is not a UUID", { chatId: "chat" }, ["chatId"], "must be a UUID"],
    ["a session id that is not a UUID", { sessionId: "s1" }, ["sessionId"], "must be a UUID"],
    ["an empty tool name", { toolName: "" }, ["toolName"], "must not be empty"],
    ["turn 0", { turnNumber: 0 }, ["turnNumber"], "must be at least 1"],
    ["a negative turn", { turnNumber: -2 }, ["turnNumber"], "must not be negative"],
    ["a fractional turn", { turnNumber: 1.5 }, ["turnNumber"], "must be a whole number"],
    ["a started_at that is not a date", { startedAt: "yesterday" as unknown as Date }, ["startedAt"], "must be a date"],
    ["an invalid started_at", { startedAt: new Date("nope") }, ["startedAt"], undefined],
  ])("%s is a ValidationError and writes nothing", async (_, change, path, message) => {
    const chat = await newChat();
    const error = await failsCleanly(ValidationError, () =>
      h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: {}, ...(change as object) }),
    );
    expect(error.code).toBe("VALIDATION");
    expect(error.issues.map((i) => i.path)).toContainEqual(path);
    if (message) expect(error.issues.find((i) => i.path.join(".") === path.join("."))!.message).toBe(message);
  });
});

describe("tool_input size limit (counted in UTF-8 bytes of JSON)", () => {
  /** {"s":"…"} of exactly `bytes` bytes of JSON. */
  const inputOf = (bytes: number, char = "x") => ({ s: char.repeat((bytes - 8) / Buffer.byteLength(char)) });

  test("exactly at the limit is accepted", async () => {
    const chat = await newChat(small);
    const toolInput = inputOf(TOOL_INPUT_MAX);
    expect(Buffer.byteLength(JSON.stringify(toolInput))).toBe(TOOL_INPUT_MAX);
    const trace = await small.services.traces.start({ chatId: chat.id, toolName: "write", toolInput });
    expect((await storedTrace(trace.id)).toolInput).toEqual(toolInput);
  });

  test("one byte over is a ValidationError naming toolInput, on start and on record, and writes nothing", async () => {
    const chat = await newChat(small);
    const toolInput = inputOf(TOOL_INPUT_MAX + 1);
    for (const run of [
      () => small.services.traces.start({ chatId: chat.id, toolName: "write", toolInput }),
      () => small.services.traces.record({ chatId: chat.id, toolName: "write", toolInput, output: "ok" }),
    ]) {
      const error = await failsCleanly(ValidationError, run, small);
      expect(error.issues).toEqual([{ path: ["toolInput"], message: `toolInput is ${TOOL_INPUT_MAX + 1} bytes of JSON; the limit is ${TOOL_INPUT_MAX}` }]);
    }
  });

  test("multi-byte characters count by their bytes, not their number", async () => {
    const chat = await newChat(small);
    const toolInput = { s: "é".repeat(600) }; // 608 characters of JSON, 1208 bytes
    expect(JSON.stringify(toolInput).length).toBeLessThan(TOOL_INPUT_MAX);
    const error = await failsCleanly(ValidationError, () => small.services.traces.start({ chatId: chat.id, toolName: "w", toolInput }), small);
    expect(error.issues[0]!.path).toEqual(["toolInput"]);
  });

  test("the default limit is 262144 bytes", async () => {
    const chat = await newChat();
    await h.services.traces.start({ chatId: chat.id, toolName: "w", toolInput: inputOf(262144) });
    const error = await failsCleanly(ValidationError, () => h.services.traces.start({ chatId: chat.id, toolName: "w", toolInput: inputOf(262145) }));
    expect(error.issues[0]!.path).toEqual(["toolInput"]);
  });
});

describe("finish", () => {
  test("stores the finish, computes latency from the client's times, and publishes trace_finished", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {}, startedAt: new Date("2026-03-01T10:00:00.000Z") });
    const done = await h.services.traces.finish({
      traceId: trace.id,
      finishedAt: new Date("2026-03-01T10:00:01.234Z"),
      output: "total 0",
      outcome: "listed",
      tokens: { input: 12, output: 5, cacheRead: 100, cacheWrite: 7, reasoning: 2 },
    });
    expect(done).toMatchObject({
      status: "ok",
      latencyMs: 1234,
      toolOutput: "total 0",
      outputBytes: 7,
      error: null,
      outcome: "listed",
      inputTokens: 12,
      outputTokens: 5,
      cacheReadTokens: 100,
      cacheWriteTokens: 7,
      reasoningTokens: 2,
    });
    expect(done.finishedAt!.toISOString()).toBe("2026-03-01T10:00:01.234Z");
    expect(await storedTrace(trace.id)).toEqual(done);
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", trace.id],
      ["trace_finished", trace.id],
    ]);
  });

  test("the client's latency wins over the times", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {}, startedAt: new Date("2026-03-01T10:00:00.000Z") });
    const done = await h.services.traces.finish({ traceId: trace.id, finishedAt: new Date("2026-03-01T10:00:05.000Z"), latencyMs: 4321 });
    expect(done.latencyMs).toBe(4321);
  });

  test("on the server's clock, latency is computed and not negative", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {} });
    while (Date.now() - trace.startedAt.getTime() < 20) await new Promise((r) => setTimeout(r, 5));
    const before = Date.now();
    const done = await h.services.traces.finish({ traceId: trace.id });
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(done.latencyMs).toBe(done.finishedAt!.getTime() - trace.startedAt.getTime());
    expect(done.latencyMs).toBeGreaterThanOrEqual(20);
  });

  test("a client start in the future and a server finish: accepted, latency clamped at 0", async () => {
    const chat = await newChat();
    const startedAt = new Date(Date.now() + 3_600_000);
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {}, startedAt });
    const done = await h.services.traces.finish({ traceId: trace.id });
    expect(done.finishedAt!.getTime()).toBeLessThan(startedAt.getTime());
    expect(done.latencyMs).toBe(0);
    expect(done.status).toBe("ok");
  });

  test("a server start and a client finish before it: accepted, latency clamped at 0", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {} });
    const finishedAt = new Date(trace.startedAt.getTime() - 60_000);
    const done = await h.services.traces.finish({ traceId: trace.id, finishedAt });
    expect(done.finishedAt).toEqual(finishedAt);
    expect(done.latencyMs).toBe(0);
  });

  test("a client start 30 days ago and a server finish: accepted, the computed latency saturates at 32 bits", async () => {
    const chat = await newChat();
    const startedAt = new Date(Date.now() - 30 * 24 * 3_600_000);
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {}, startedAt });
    const done = await h.services.traces.finish({ traceId: trace.id, output: "late" });
    expect(done).toMatchObject({ status: "ok", latencyMs: 2_147_483_647, toolOutput: "late" });
    expect(await storedTrace(trace.id)).toEqual(done);
  });

  test("a finish before the start when the client gave both times is a ValidationError and writes nothing", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {}, startedAt: new Date("2026-03-01T10:00:00.000Z") });
    const error = await failsCleanly(ValidationError, () =>
      h.services.traces.finish({ traceId: trace.id, finishedAt: new Date("2026-03-01T09:59:59.999Z") }),
    );
    expect(error.issues).toEqual([{ path: ["finishedAt"], message: "must not be before the trace's startedAt" }]);
    expect(await storedTrace(trace.id)).toEqual(trace);
    // The same finish at the start instant is fine.
    const done = await h.services.traces.finish({ traceId: trace.id, finishedAt: new Date("2026-03-01T10:00:00.000Z") });
    expect(done.latencyMs).toBe(0);
  });

  test.each([
    ["nothing said", {}, "ok", null],
    ["an error", { error: "ENOENT: no such file" }, "error", "ENOENT: no such file"],
    ["timeout", { status: "timeout" as const }, "timeout", null],
    ["cancelled", { status: "cancelled" as const }, "cancelled", null],
    ["timeout with an error", { status: "timeout" as const, error: "killed after 30 s" }, "timeout", "killed after 30 s"],
    ["cancelled with an error", { status: "cancelled" as const, error: "user stopped it" }, "cancelled", "user stopped it"],
  ])("status with %s is derived as expected", async (_, finish, status, error) => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {} });
    const done = await h.services.traces.finish({ traceId: trace.id, ...finish });
    expect(done.status).toBe(status);
    expect(done.error).toBe(error);
    expect((await storedTrace(trace.id)).status).toBe(status);
  });

  test("outcome is free text, apart from the status", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "run_tests", toolInput: {} });
    const done = await h.services.traces.finish({ traceId: trace.id, error: "3 failed", outcome: "tests failed: 3 of 120 (flaky?)" });
    expect(done).toMatchObject({ status: "error", outcome: "tests failed: 3 of 120 (flaky?)" });
  });

  test("without tokens the five counts are zero", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: {} });
    const done = await h.services.traces.finish({ traceId: trace.id });
    expect(done).toMatchObject({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  test("by chat and tool_call_id", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolCallId: "toolu_01", toolName: "ls", toolInput: {} });
    const done = await h.services.traces.finish({ chatId: chat.id, toolCallId: "toolu_01", output: "a\nb" });
    expect(done).toMatchObject({ id: trace.id, status: "ok", toolOutput: "a\nb" });
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", trace.id],
      ["trace_finished", trace.id],
    ]);
  });

  test("an unknown trace is a NotFoundError and writes nothing", async () => {
    const traceId = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.traces.finish({ traceId, output: "x" }));
    expect(error).toMatchObject({ code: "NOT_FOUND", entity: "ToolTrace", id: traceId });
  });

  test("an unknown tool_call_id in a known chat is a NotFoundError and writes nothing", async () => {
    const chat = await newChat();
    await h.services.traces.start({ chatId: chat.id, toolCallId: "known", toolName: "ls", toolInput: {} });
    const error = await failsCleanly(NotFoundError, () => h.services.traces.finish({ chatId: chat.id, toolCallId: "unknown" }));
    expect(error).toMatchObject({ entity: "ToolTrace", id: `${chat.id}/unknown` });
  });

  test("a tool_call_id in an unknown chat is a NotFoundError for the chat and writes nothing", async () => {
    const chatId = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.traces.finish({ chatId, toolCallId: "call" }));
    expect(error).toMatchObject({ entity: "Chat", id: chatId });
  });

  test("neither a trace id nor a chat with a tool_call_id is a ValidationError", async () => {
    const chat = await newChat();
    await failsCleanly(ValidationError, () => h.services.traces.finish({ output: "x" }));
    await failsCleanly(ValidationError, () => h.services.traces.finish({ chatId: chat.id, output: "x" }));
  });

  test.each([
    ["a negative latency", { latencyMs: -1 }, ["latencyMs"], "must not be negative"],
    ["a fractional latency", { latencyMs: 12.5 }, ["latencyMs"], "must be a whole number"],
    ["a latency beyond 32 bits", { latencyMs: 2 ** 31 }, ["latencyMs"], "must fit in 32 bits"],
    ["a latency given as a string", { latencyMs: "10" as unknown as number }, ["latencyMs"], "must be a number"],
    ["negative input tokens", { tokens: { input: -5 } }, ["tokens", "input"], "must not be negative"],
    ["fractional output tokens", { tokens: { output: 2.5 } }, ["tokens", "output"], "must be a whole number"],
    ["negative cache read tokens", { tokens: { cacheRead: -1 } }, ["tokens", "cacheRead"], "must not be negative"],
    ["fractional cache write tokens", { tokens: { cacheWrite: 0.1 } }, ["tokens", "cacheWrite"], "must be a whole number"],
    ["negative reasoning tokens", { tokens: { output: 5, reasoning: -1 } }, ["tokens", "reasoning"], "must not be negative"],
    ["NaN tokens", { tokens: { input: Number.NaN } }, ["tokens", "input"], undefined],
    ["negative OpenAI prompt tokens", { tokens: { openai: { prompt_tokens: -1, completion_tokens: 0 } } }, ["tokens", "openai", "prompt_tokens"], "must not be negative"],
    ["fractional Anthropic input tokens", { tokens: { anthropic: { input_tokens: 1.5, output_tokens: 1 } } }, ["tokens", "anthropic", "input_tokens"], "must be a whole number"],
    ["a status a client may not claim", { status: "abandoned" as unknown as "timeout" }, ["status"], "must be timeout or cancelled"],
    ["status ok claimed", { status: "ok" as unknown as "timeout" }, ["status"], "must be timeout or cancelled"],
    ["an empty outcome", { outcome: "" }, ["outcome"], "must not be empty"],
  ])("%s is a ValidationError and writes nothing", async (_, change, path, message) => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: {} });
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, output: "x", ...change }));
    expect(error.issues.map((i) => i.path)).toContainEqual(path);
    if (message) expect(error.issues.find((i) => i.path.join(".") === path.join("."))!.message).toBe(message);
    expect(error.message).toContain(path.join("."));
    expect(await storedTrace(trace.id)).toEqual(trace);
  });
});

describe("record", () => {
  test("given only its finish and latency, a trace starts that long before the finish (a backfill keeps its order)", async () => {
    const chat = await newChat();
    const finishedAt = new Date(Date.now() - 3_600_000);
    const trace = await h.services.traces.record({ chatId: chat.id, toolName: "bash", toolInput: {}, finishedAt, latencyMs: 5000, output: "ok" });
    expect(trace.startedAt).toEqual(new Date(finishedAt.getTime() - 5000));
    expect(await storedTrace(trace.id)).toMatchObject({ startedAt: new Date(finishedAt.getTime() - 5000), finishedAt, latencyMs: 5000 });
  });

  test("given its start and latency, a trace finishes that long after the start", async () => {
    const chat = await newChat();
    const startedAt = new Date("2026-03-01T10:00:00.000Z");
    const trace = await h.services.traces.record({ chatId: chat.id, toolName: "bash", toolInput: {}, startedAt, latencyMs: 1234, output: "ok" });
    expect(await storedTrace(trace.id)).toMatchObject({ startedAt, finishedAt: new Date("2026-03-01T10:00:01.234Z"), latencyMs: 1234 });
  });

  test("a finished trace in one call: two events, trace_started then trace_finished", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.record({
      chatId: chat.id,
      toolCallId: "call_r",
      messageId: "msg_r",
      toolName: "edit_file",
      toolInput: { path: "x.ts", patch: "..." },
      startedAt: new Date("2026-04-01T00:00:00.000Z"),
      finishedAt: new Date("2026-04-01T00:00:00.250Z"),
      output: "applied",
      tokens: { input: 9, output: 4 },
    });
    expect(trace).toMatchObject({
      chatId: chat.id,
      status: "ok",
      latencyMs: 250,
      toolOutput: "applied",
      turnNumber: 1,
      sessionId: chat.currentSessionId,
      inputTokens: 9,
      outputTokens: 4,
    });
    expect(await storedTrace(trace.id)).toEqual(trace);
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", trace.id],
      ["trace_finished", trace.id],
    ]);
  });

  test("an error makes it an error trace; a claimed timeout stays a timeout", async () => {
    const chat = await newChat();
    const failed = await h.services.traces.record({ chatId: chat.id, toolName: "bash", toolInput: {}, error: "exit 1" });
    const slow = await h.services.traces.record({ chatId: chat.id, toolName: "bash", toolInput: {}, status: "timeout" });
    expect([failed.status, failed.error, slow.status]).toEqual(["error", "exit 1", "timeout"]);
  });

  test("finishedAt before startedAt is a ValidationError and writes nothing", async () => {
    const chat = await newChat();
    const error = await failsCleanly(ValidationError, () =>
      h.services.traces.record({
        chatId: chat.id,
        toolName: "bash",
        toolInput: {},
        startedAt: new Date("2026-04-01T00:00:01.000Z"),
        finishedAt: new Date("2026-04-01T00:00:00.000Z"),
      }),
    );
    expect(error.issues).toEqual([{ path: ["finishedAt"], message: "must not be before startedAt" }]);
  });

  test.each([
    ["a negative latency", { latencyMs: -10 }, ["latencyMs"]],
    ["a fractional latency", { latencyMs: 0.5 }, ["latencyMs"]],
    ["negative tokens", { tokens: { input: -1 } }, ["tokens", "input"]],
    ["fractional tokens", { tokens: { reasoning: 0.5, output: 1 } }, ["tokens", "reasoning"]],
    ["reasoning beyond output", { tokens: { reasoning: 5, output: 1 } }, ["tokens", "reasoning"]],
  ])("%s is a ValidationError and writes nothing", async (_, change, path) => {
    const chat = await newChat();
    const error = await failsCleanly(ValidationError, () => h.services.traces.record({ chatId: chat.id, toolName: "ls", toolInput: {}, ...change }));
    expect(error.issues.map((i) => i.path)).toContainEqual(path);
  });

  test("an unknown chat is a NotFoundError and writes nothing", async () => {
    const chatId = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.traces.record({ chatId, toolName: "ls", toolInput: {}, output: "" }));
    expect(error).toMatchObject({ entity: "Chat", id: chatId });
  });

  test("recording the same call again identically returns the stored row and writes nothing", async () => {
    const chat = await newChat();
    const input = { chatId: chat.id, toolCallId: "call_twice", toolName: "ls", toolInput: { a: 1 }, output: "x", tokens: { input: 3 } };
    const first = await h.services.traces.record(input);
    const again = await changesNothing(() => h.services.traces.record(input));
    expect(again).toEqual(first);
  });

  test("a call started earlier is finished by a record with the same start", async () => {
    const chat = await newChat();
    const started = await h.services.traces.start({ chatId: chat.id, toolCallId: "call_s", toolName: "ls", toolInput: {} });
    const recorded = await h.services.traces.record({ chatId: chat.id, toolCallId: "call_s", toolName: "ls", toolInput: {}, output: "done" });
    expect(recorded).toMatchObject({ id: started.id, status: "ok", toolOutput: "done" });
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", started.id],
      ["trace_finished", started.id],
    ]);
  });
});

test("traces.get returns a trace, and an unknown id is a NotFoundError", async () => {
  const chat = await newChat();
  const trace = await h.services.traces.record({ chatId: chat.id, toolName: "ls", toolInput: {} });
  expect(await h.services.traces.get(trace.id)).toEqual(trace);
  const id = randomUUID();
  await expect(h.services.traces.get(id)).rejects.toMatchObject({ code: "NOT_FOUND", entity: "ToolTrace", id });
});

test("a chat's event seq numbers stay contiguous through starts, finishes, records and failures", async () => {
  const chat = await newChat();
  const a = await h.services.traces.start({ chatId: chat.id, toolCallId: "a", toolName: "ls", toolInput: {} });
  await expect(h.services.traces.start({ chatId: chat.id, toolCallId: "a", toolName: "cat", toolInput: {} })).rejects.toBeInstanceOf(ConflictError);
  const b = await h.services.traces.record({ chatId: chat.id, toolName: "cat", toolInput: {} });
  await expect(h.services.traces.finish({ traceId: a.id, latencyMs: -1 })).rejects.toBeInstanceOf(ValidationError);
  await h.services.traces.finish({ traceId: a.id, output: "." });
  await h.services.traces.finish({ traceId: a.id, output: "." });
  const log = await eventLog(chat.id);
  expect(log).toEqual([
    ["chat_created", chat.id],
    ["trace_started", a.id],
    ["trace_started", b.id],
    ["trace_finished", b.id],
    ["trace_finished", a.id],
  ]);
});

describe("NUL characters (PostgreSQL text and jsonb cannot hold U+0000)", () => {
  test("in output, error, tool_input and names they are stored as U+FFFD, and a replay is still identical", async () => {
    const chat = await newChat();
    const input = { command: "cat a.bin", ["k\u0000ey"]: ["x\u0000y"] };
    const finish = { output: "PK\u0003\u0004\u0000\u0000data", error: "exit\u00001", outcome: "bin\u0000ary" };
    const trace = await h.services.traces.record({ chatId: chat.id, toolName: "run\u0000command", toolInput: input, toolCallId: "c\u00001", ...finish });
    const stored = await storedTrace(trace.id);
    expect(stored).toMatchObject({
      toolName: "run\uFFFDcommand",
      toolCallId: "c\uFFFD1",
      toolInput: { command: "cat a.bin", ["k\uFFFDey"]: ["x\uFFFDy"] },
      toolOutput: "PK\u0003\u0004\uFFFD\uFFFDdata",
      error: "exit\uFFFD1",
      outcome: "bin\uFFFDary",
      status: "error",
    });
    await changesNothing(() => h.services.traces.record({ chatId: chat.id, toolName: "run\u0000command", toolInput: input, toolCallId: "c\u00001", ...finish }));
  });
});
