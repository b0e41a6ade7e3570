// JSON inputs nested deeper than MAX_JSON_DEPTH are a ValidationError naming the field, found
// without recursion before anything recursive (sizing, normalising, scrubbing) touches them.
import { describe, expect, test } from "vitest";
import { ValidationError } from "../../server/errors.js";
import { MAX_JSON_DEPTH } from "../../server/services/validation.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { failsCleanly, storedTrace } = serviceAssertions(() => db, () => h);

/** An object `levels` deep ({a: {a: … 1}}), built without recursion. */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value as Record<string, unknown>;
}

const tooDeep = (levels: number) => `is nested ${levels} levels deep; the limit is ${MAX_JSON_DEPTH}`;

describe("too deep", () => {
  test("a toolInput 5,000 levels deep (10 KB) is a ValidationError on toolInput, at start and in a record", async () => {
    const chat = await h.services.chats.create();
    for (const call of [
      () => h.services.traces.start({ chatId: chat.id, toolName: "t", toolInput: nested(5000) }),
      () => h.services.traces.record({ chatId: chat.id, toolName: "t", toolInput: nested(5000) }),
    ]) {
      const error = await failsCleanly(ValidationError, call);
      expect(error.issues).toEqual([{ path: ["toolInput"], message: tooDeep(5000) }]);
    }
  });

  test("a snapshot state too deep is a ValidationError on state", async () => {
    const chat = await h.services.chats.create();
    const error = await failsCleanly(ValidationError, () => h.services.snapshots.save({ chatId: chat.id, state: nested(5000) }));
    expect(error.issues).toEqual([{ path: ["state"], message: tooDeep(5000) }]);
  });

  test("a batch item too deep is named by its index, and no item is written", async () => {
    const chat = await h.services.chats.create();
    const items = [
      { chatId: chat.id, toolName: "fine", toolInput: { a: 1 } },
      { chatId: chat.id, toolName: "deep", toolInput: nested(MAX_JSON_DEPTH + 1) },
    ];
    const error = await failsCleanly(ValidationError, () => h.services.traces.recordBatch(items));
    expect(error.issues).toEqual([{ path: ["items", 1, "toolInput"], message: tooDeep(MAX_JSON_DEPTH + 1) }]);
  });

  test("a token usage object too deep is a ValidationError on tokens", async () => {
    const chat = await h.services.chats.create();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "t" });
    const tokens = { openai: { prompt_tokens: 1, completion_tokens: 1, extra: nested(5000) } };
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, tokens }));
    expect(error.issues).toEqual([{ path: ["tokens"], message: tooDeep(5002) }]);
  });

  test("a cyclic toolInput from a service caller is a ValidationError, not a crash", async () => {
    const chat = await h.services.chats.create();
    const input: Record<string, unknown> = {};
    input.self = input;
    const error = await failsCleanly(ValidationError, () => h.services.traces.start({ chatId: chat.id, toolName: "t", toolInput: input }));
    expect(error.issues).toEqual([{ path: ["toolInput", "self"], message: "contains itself; JSON cannot hold a cycle" }]);
  });
});

describe("at the limit", () => {
  test(`${MAX_JSON_DEPTH} levels are stored as sent, in a trace and a snapshot`, async () => {
    const chat = await h.services.chats.create();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "t", toolInput: nested(MAX_JSON_DEPTH) });
    expect((await storedTrace(trace.id)).toolInput).toEqual(nested(MAX_JSON_DEPTH));
    const saved = await h.services.snapshots.save({ chatId: chat.id, state: nested(MAX_JSON_DEPTH) });
    expect((await db.prisma.agentSnapshotRevision.findUniqueOrThrow({ where: { id: saved.id } })).state).toEqual(nested(MAX_JSON_DEPTH));
  });
});
