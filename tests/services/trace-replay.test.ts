import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { ConflictError } from "../../server/errors.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";
import type { ServiceHarness } from "../helpers/services.js";

const CAP = 300;
/** `capped`: same database, output capped at 300 bytes. */
const { db, h, harnesses: { capped } } = useServiceDatabase({ harnesses: { capped: { traceOutputCapBytes: CAP } } });
const { failsCleanly, changesNothing, eventLog, storedTrace } = serviceAssertions(() => db, () => h);

/** The kinds of the chat's events, after checking its log as eventLog does. */
const kindsOf = async (chatId: string, via: ServiceHarness = h) => (await eventLog(chatId, via)).map(([kind]) => kind);

async function startedTrace(via: ServiceHarness = h, toolCallId?: string) {
  const chat = await via.services.chats.create({ title: "replay" });
  const trace = await via.services.traces.start({
    chatId: chat.id,
    toolCallId,
    toolName: "bash",
    toolInput: { command: "make" },
    startedAt: new Date("2026-05-01T12:00:00.000Z"),
  });
  return { chat, trace };
}

const fullFinish = {
  finishedAt: new Date("2026-05-01T12:00:02.500Z"),
  latencyMs: 2400,
  output: "build ok\n",
  outcome: "built",
  tokens: { input: 120, output: 30, cacheRead: 900, cacheWrite: 0, reasoning: 10 },
};

describe("finishing again identically", () => {
  test("returns the stored row and writes and publishes nothing", async () => {
    const { chat, trace } = await startedTrace();
    const first = await h.services.traces.finish({ traceId: trace.id, ...fullFinish });
    const replay = await changesNothing(() => h.services.traces.finish({ traceId: trace.id, ...fullFinish }));
    expect(replay).toEqual(first);
    expect(await storedTrace(trace.id)).toEqual(first);
    expect(await kindsOf(chat.id)).toEqual(["chat_created", "trace_started", "trace_finished"]);
  });

  test("by chat and tool_call_id too", async () => {
    const { chat, trace } = await startedTrace(h, "call_replay");
    const first = await h.services.traces.finish({ chatId: chat.id, toolCallId: "call_replay", ...fullFinish });
    const replay = await changesNothing(() => h.services.traces.finish({ chatId: chat.id, toolCallId: "call_replay", ...fullFinish }));
    expect(replay).toEqual(first);
    const byId = await changesNothing(() => h.services.traces.finish({ traceId: trace.id, ...fullFinish }));
    expect(byId).toEqual(first);
  });

  test("server-side times are not client fields: a replay later without times is identical", async () => {
    const { trace } = await startedTrace();
    const first = await h.services.traces.finish({ traceId: trace.id, output: "x" });
    await new Promise((r) => setTimeout(r, 10));
    const replay = await changesNothing(() => h.services.traces.finish({ traceId: trace.id, output: "x" }));
    expect(replay.finishedAt).toEqual(first.finishedAt);
    expect(replay.latencyMs).toBe(first.latencyMs);
  });

  test("a null field and an absent one are the same", async () => {
    const { trace } = await startedTrace();
    await h.services.traces.finish({ traceId: trace.id, output: "y" });
    await changesNothing(() => h.services.traces.finish({ traceId: trace.id, output: "y", error: null, outcome: null, tokens: null, latencyMs: null }));
  });

  test("the stored row is returned even after the chat moved on", async () => {
    const { chat, trace } = await startedTrace();
    const first = await h.services.traces.finish({ traceId: trace.id, output: "z" });
    await h.services.traces.record({ chatId: chat.id, toolName: "ls", toolInput: {} });
    await h.services.snapshots.save({ chatId: chat.id, state: { messages: [] } });
    expect(await changesNothing(() => h.services.traces.finish({ traceId: trace.id, output: "z" }))).toEqual(first);
  });
});

describe("finishing again differently", () => {
  test.each([
    ["another output", { output: "build failed\n" }],
    ["no output", { output: undefined }],
    ["an error", { error: "make: *** [all] Error 2" }],
    ["a claimed timeout", { status: "timeout" as const }],
    ["another outcome", { outcome: "rebuilt" }],
    ["other tokens", { tokens: { ...fullFinish.tokens, output: 31 } }],
    ["no tokens", { tokens: undefined }],
    ["another latency", { latencyMs: 2401 }],
    ["another finish time", { finishedAt: new Date("2026-05-01T12:00:02.501Z") }],
  ])("with %s is a ConflictError; the first result stays and nothing is written", async (_, change) => {
    const { chat, trace } = await startedTrace();
    const first = await h.services.traces.finish({ traceId: trace.id, ...fullFinish });
    const error = await failsCleanly(ConflictError, () => h.services.traces.finish({ traceId: trace.id, ...fullFinish, ...change }));
    expect(error).toMatchObject({ code: "CONFLICT", entity: "ToolTrace", id: trace.id });
    expect(error.message).toBe(`trace ${trace.id} was already finished with a different result`);
    expect(await storedTrace(trace.id)).toEqual(first);
    expect(await kindsOf(chat.id)).toEqual(["chat_created", "trace_started", "trace_finished"]);
  });

  test("by chat and tool_call_id is a ConflictError too", async () => {
    const { chat, trace } = await startedTrace(h, "call_conflict");
    const first = await h.services.traces.finish({ chatId: chat.id, toolCallId: "call_conflict", output: "a" });
    await failsCleanly(ConflictError, () => h.services.traces.finish({ chatId: chat.id, toolCallId: "call_conflict", output: "b" }));
    expect(await storedTrace(trace.id)).toEqual(first);
  });

  test("a record of the same call with another result is a ConflictError", async () => {
    const chat = await h.services.chats.create();
    const input = { chatId: chat.id, toolCallId: "call_rec", toolName: "ls", toolInput: {}, output: "one" };
    const first = await h.services.traces.record(input);
    const error = await failsCleanly(ConflictError, () => h.services.traces.record({ ...input, output: "two" }));
    expect(error.id).toBe(first.id);
    expect(await storedTrace(first.id)).toEqual(first);
  });
});

describe("truncated output", () => {
  const original = `${"line of build output\n".repeat(40)}done`; // 844 bytes

  test("is stored within the cap with a marker and the original size", async () => {
    const { trace } = await startedTrace(capped);
    const done = await capped.services.traces.finish({ traceId: trace.id, output: original });
    const stored = await storedTrace(trace.id);
    expect(stored).toEqual(done);
    expect(Buffer.byteLength(stored.toolOutput!)).toBeLessThanOrEqual(CAP);
    expect(stored.toolOutput).toMatch(/…\[output truncated: 844 bytes in all\]$/);
    expect(original.startsWith(stored.toolOutput!.slice(0, stored.toolOutput!.indexOf("\n…[output truncated")))).toBe(true);
    expect(stored.outputBytes).toBe(Buffer.byteLength(original));
    expect(stored.outputHash).toBe(createHash("sha256").update(original).digest("hex"));
  });

  test("an identical replay of a truncated output is a no-op (compared by the hash before truncation)", async () => {
    const { trace } = await startedTrace(capped);
    const first = await capped.services.traces.finish({ traceId: trace.id, output: original });
    const replay = await changesNothing(() => capped.services.traces.finish({ traceId: trace.id, output: original }), capped);
    expect(replay).toEqual(first);
  });

  test("a replay whose output differs only past the cap is a ConflictError, though it would store the same text", async () => {
    const { trace } = await startedTrace(capped);
    const first = await capped.services.traces.finish({ traceId: trace.id, output: original });
    const sameHead = `${original.slice(0, -4)}DONE`;
    expect(Buffer.byteLength(sameHead)).toBe(Buffer.byteLength(original));
    await failsCleanly(ConflictError, () => capped.services.traces.finish({ traceId: trace.id, output: sameHead }), capped);
    expect(await storedTrace(trace.id)).toEqual(first);
  });

  test("replaying the text that was stored (not the original) is a ConflictError", async () => {
    const { trace } = await startedTrace(capped);
    const first = await capped.services.traces.finish({ traceId: trace.id, output: original });
    await failsCleanly(ConflictError, () => capped.services.traces.finish({ traceId: trace.id, output: first.toolOutput! }), capped);
  });

  test("the default cap is 32768 bytes", async () => {
    const { trace } = await startedTrace();
    const exact = "a".repeat(32768);
    const done = await h.services.traces.finish({ traceId: trace.id, output: exact });
    expect(done.toolOutput).toBe(exact);
    const { trace: over } = await startedTrace();
    const longer = await h.services.traces.finish({ traceId: over.id, output: `${exact}b` });
    expect(Buffer.byteLength(longer.toolOutput!)).toBe(32768);
    expect(longer.toolOutput).toContain("[output truncated: 32769 bytes in all]");
    expect(longer.outputBytes).toBe(32769);
  });
});
