import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../server/errors.js";
import type { RecordTraceInput } from "../../server/services/traces.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";
import { createServiceHarness } from "../helpers/services.js";

/** At most 3 items per batch. */
const { db, h } = useServiceDatabase({ limits: { maxBatchItems: 3 } });
const { failsCleanly, eventLog } = serviceAssertions(() => db, () => h);

const item = (chatId: string, extra: Partial<RecordTraceInput> = {}): RecordTraceInput => ({
  chatId,
  toolName: "read_file",
  toolInput: { path: "a.ts" },
  output: "contents",
  ...extra,
});

async function twoChats() {
  const a = await h.services.chats.create({ title: "a" });
  const b = await h.services.chats.create({ title: "b" });
  return { a, b };
}

test("records items across chats in one transaction, in item order, two events each", async () => {
  const { a, b } = await twoChats();
  const traces = await h.services.traces.recordBatch([
    item(a.id, { toolCallId: "a1", toolName: "ls" }),
    item(b.id, { toolCallId: "b1", toolName: "cat", error: "EACCES" }),
    item(a.id, { toolCallId: "a2", toolName: "grep", tokens: { input: 4 } }),
  ]);
  expect(traces.map((t) => [t.chatId, t.toolCallId, t.toolName, t.status])).toEqual([
    [a.id, "a1", "ls", "ok"],
    [b.id, "b1", "cat", "error"],
    [a.id, "a2", "grep", "ok"],
  ]);
  for (const t of traces) expect(await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: t.id } })).toEqual(t);
  expect(await eventLog(a.id)).toEqual([
    ["chat_created", a.id],
    ["trace_started", traces[0]!.id],
    ["trace_finished", traces[0]!.id],
    ["trace_started", traces[2]!.id],
    ["trace_finished", traces[2]!.id],
  ]);
  expect(await eventLog(b.id)).toEqual([
    ["chat_created", b.id],
    ["trace_started", traces[1]!.id],
    ["trace_finished", traces[1]!.id],
  ]);
});

test("an empty batch records nothing", async () => {
  const before = await databaseFingerprint(db.prisma);
  expect(await h.services.traces.recordBatch([])).toEqual([]);
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
});

test("exactly maxBatchItems items are accepted", async () => {
  const { a } = await twoChats();
  expect(await h.services.traces.recordBatch([item(a.id), item(a.id), item(a.id)])).toHaveLength(3);
});

test("the same tool_call_id in two chats is two calls", async () => {
  const { a, b } = await twoChats();
  const traces = await h.services.traces.recordBatch([item(a.id, { toolCallId: "same" }), item(b.id, { toolCallId: "same" })]);
  expect(new Set(traces.map((t) => t.id)).size).toBe(2);
});

test("an item identical to a recorded call returns the stored row and adds no event for it", async () => {
  const { a } = await twoChats();
  const first = await h.services.traces.record(item(a.id, { toolCallId: "done" }));
  const [again, fresh] = await h.services.traces.recordBatch([item(a.id, { toolCallId: "done" }), item(a.id, { toolCallId: "new" })]);
  expect(again).toEqual(first);
  expect(await eventLog(a.id)).toEqual([
    ["chat_created", a.id],
    ["trace_started", first.id],
    ["trace_finished", first.id],
    ["trace_started", fresh!.id],
    ["trace_finished", fresh!.id],
  ]);
});

describe("one bad item rejects the whole batch, names the item, and writes nothing", () => {
  test.each([
    ["a negative latency", { latencyMs: -1 }, ["items", 1, "latencyMs"]],
    ["a fractional latency", { latencyMs: 1.25 }, ["items", 1, "latencyMs"]],
    ["negative tokens", { tokens: { input: -3 } }, ["items", 1, "tokens", "input"]],
    ["fractional tokens", { tokens: { output: 0.5 } }, ["items", 1, "tokens", "output"]],
    ["an empty tool name", { toolName: "" }, ["items", 1, "toolName"]],
    ["a chat id that is not a UUID", { chatId: "nope" }, ["items", 1, "chatId"]],
    ["a finish before the start", { startedAt: new Date("2026-01-01T00:00:01Z"), finishedAt: new Date("2026-01-01T00:00:00Z") }, ["items", 1, "finishedAt"]],
  ])("a validation error: %s", async (_, change, path) => {
    const { a, b } = await twoChats();
    const error = await failsCleanly(ValidationError, () =>
      h.services.traces.recordBatch([item(a.id), item(b.id, change as Partial<RecordTraceInput>), item(a.id)]),
    );
    expect(error.code).toBe("VALIDATION");
    expect(error.issues.map((i) => i.path)).toContainEqual(path);
    expect(error.message).toContain(path.join("."));
  });

  test("a tool_input over the limit", async () => {
    const { a } = await twoChats();
    const small = createServiceHarness(db, { toolInputMaxBytes: 1024 });
    try {
      // `small` is new: nothing was published on its bus before this call.
      expect(small.published.events).toEqual([]);
      const error = await failsCleanly(
        ValidationError,
        () => small.services.traces.recordBatch([item(a.id), item(a.id), item(a.id, { toolInput: { s: "x".repeat(2000) } })]),
        small,
      );
      expect(error.issues[0]!.path).toEqual(["items", 2, "toolInput"]);
    } finally {
      small.published.stop();
    }
  });

  test("an unknown chat", async () => {
    const { a, b } = await twoChats();
    const ghost = randomUUID();
    const error = await failsCleanly(NotFoundError, () => h.services.traces.recordBatch([item(a.id), item(b.id), item(ghost)]));
    expect(error).toMatchObject({ code: "NOT_FOUND", entity: "Chat", id: ghost });
    expect(error.message).toBe(`items.2.chatId: Chat ${ghost} was not found`);
  });

  test("a conflict with a call recorded earlier (different start)", async () => {
    const { a, b } = await twoChats();
    const earlier = await h.services.traces.record(item(a.id, { toolCallId: "call_1", toolName: "read_file" }));
    const error = await failsCleanly(ConflictError, () =>
      h.services.traces.recordBatch([item(b.id, { toolCallId: "x" }), item(a.id, { toolCallId: "call_1", toolName: "write_file" }), item(a.id)]),
    );
    expect(error).toMatchObject({ code: "CONFLICT", entity: "ToolTrace", id: earlier.id });
    expect(error.message).toMatch(/^items\.1: /);
  });

  test("a conflict with a call finished earlier (different result)", async () => {
    const { a, b } = await twoChats();
    await h.services.traces.record(item(a.id, { toolCallId: "call_2", output: "first" }));
    const error = await failsCleanly(ConflictError, () =>
      h.services.traces.recordBatch([item(b.id), item(b.id), item(a.id, { toolCallId: "call_2", output: "second" })]),
    );
    expect(error.message).toMatch(/^items\.2: trace .* was already finished with a different result$/);
  });

  test("a tool_call_id repeated within the batch", async () => {
    const { a, b } = await twoChats();
    const error = await failsCleanly(ValidationError, () =>
      h.services.traces.recordBatch([item(a.id, { toolCallId: "dup" }), item(b.id, { toolCallId: "dup" }), item(a.id, { toolCallId: "dup" })]),
    );
    expect(error.issues).toEqual([{ path: ["items", 2, "toolCallId"], message: "repeats the tool call of items.0" }]);
  });

  test("more items than maxBatchItems", async () => {
    const { a } = await twoChats();
    const error = await failsCleanly(ValidationError, () => h.services.traces.recordBatch([item(a.id), item(a.id), item(a.id), item(a.id)]));
    expect(error.issues).toEqual([{ path: ["items"], message: "holds 4 items; the limit is 3" }]);
  });

  test("not a list", async () => {
    const error = await failsCleanly(ValidationError, () => h.services.traces.recordBatch({} as unknown as RecordTraceInput[]));
    expect(error.issues[0]!.path).toEqual(["items"]);
  });
});

test("after rejected batches, the chats' logs are still contiguous and a good batch continues them", async () => {
  const { a, b } = await twoChats();
  await expect(h.services.traces.recordBatch([item(a.id), item(b.id, { latencyMs: -1 })])).rejects.toBeInstanceOf(ValidationError);
  await expect(h.services.traces.recordBatch([item(a.id), item(randomUUID())])).rejects.toBeInstanceOf(NotFoundError);
  const traces = await h.services.traces.recordBatch([item(b.id), item(a.id)]);
  expect(await eventLog(a.id)).toEqual([
    ["chat_created", a.id],
    ["trace_started", traces[1]!.id],
    ["trace_finished", traces[1]!.id],
  ]);
  expect((await eventLog(b.id)).map(([kind]) => kind)).toEqual(["chat_created", "trace_started", "trace_finished"]);
});
