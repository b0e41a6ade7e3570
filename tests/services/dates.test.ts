// Instants are stored only within years 0001-9999 (UTC): a Date outside, or one the server would
// work out from a latency, is a ValidationError naming the field rather than a database error.
import { describe, expect, test } from "vitest";
import { ValidationError } from "../../server/errors.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { failsCleanly, storedTrace } = serviceAssertions(() => db, () => h);

const FIRST = new Date("0001-01-01T00:00:00.000Z");
const LAST = new Date("9999-12-31T23:59:59.999Z");
const RANGE = "must be from 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z";

describe("given instants", () => {
  test.each([
    ["year 0", new Date("0000-12-31T23:59:59.999Z")],
    ["a negative year", new Date("-001000-01-01T00:00:00Z")],
    ["year 10000", new Date("+010000-01-01T00:00:00Z")],
  ])("startedAt in %s is a ValidationError on startedAt", async (_, startedAt) => {
    const chat = await h.services.chats.create();
    const error = await failsCleanly(ValidationError, () => h.services.traces.start({ chatId: chat.id, toolName: "t", startedAt }));
    expect(error.issues).toEqual([{ path: ["startedAt"], message: RANGE }]);
  });

  test("finishedAt out of range, in a batch, names its item", async () => {
    const chat = await h.services.chats.create();
    const items = [{ chatId: chat.id, toolName: "a" }, { chatId: chat.id, toolName: "b", finishedAt: new Date("+010000-01-01T00:00:00Z") }];
    const error = await failsCleanly(ValidationError, () => h.services.traces.recordBatch(items));
    expect(error.issues).toEqual([{ path: ["items", 1, "finishedAt"], message: RANGE }]);
  });

  test("both ends of the range are stored exactly", async () => {
    const chat = await h.services.chats.create();
    const trace = await h.services.traces.record({ chatId: chat.id, toolName: "t", startedAt: FIRST, finishedAt: LAST });
    const stored = await storedTrace(trace.id);
    expect(stored.startedAt.toISOString()).toBe(FIRST.toISOString());
    expect(stored.finishedAt!.toISOString()).toBe(LAST.toISOString());
    expect(stored.latencyMs).toBe(2_147_483_647); // saturated, as for any very long trace
  });
});

describe("instants worked out from a latency", () => {
  test("a start before year 1 (finishedAt minus latencyMs) is a ValidationError on latencyMs", async () => {
    const chat = await h.services.chats.create();
    const error = await failsCleanly(ValidationError, () => h.services.traces.record({ chatId: chat.id, toolName: "t", finishedAt: FIRST, latencyMs: 1 }));
    expect(error.issues).toEqual([{ path: ["latencyMs"], message: "puts the trace's start before 0001-01-01T00:00:00.000Z" }]);
  });

  test("a finish after year 9999 (startedAt plus latencyMs) is a ValidationError on latencyMs", async () => {
    const chat = await h.services.chats.create();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "t", startedAt: LAST });
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, latencyMs: 1 }));
    expect(error.issues).toEqual([{ path: ["latencyMs"], message: "puts the trace's finish after 9999-12-31T23:59:59.999Z" }]);
    // Within the range it is fine.
    const finished = await h.services.traces.finish({ traceId: trace.id, latencyMs: 0 });
    expect(finished.finishedAt!.toISOString()).toBe(LAST.toISOString());
  });

  test("in a batch the item is named", async () => {
    const chat = await h.services.chats.create();
    const items = [{ chatId: chat.id, toolName: "a" }, { chatId: chat.id, toolName: "b", finishedAt: FIRST, latencyMs: 5 }];
    const error = await failsCleanly(ValidationError, () => h.services.traces.recordBatch(items));
    expect(error.issues).toEqual([{ path: ["items", 1, "latencyMs"], message: "puts the trace's start before 0001-01-01T00:00:00.000Z" }]);
  });
});
