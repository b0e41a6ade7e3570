// Service inputs as an agent or hook in the same process may pass them: any JS value, Dates of
// every kind, numbers of every kind. Each call succeeds and stores what JSON would make of the
// input (normalised), or fails with a typed error having written nothing.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { scrubSecrets } from "../../server/services/scrub.js";
import { type JsonValue, MAX_JSON_DEPTH } from "../../server/services/validation.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { createServiceHarness, type ServiceHarness } from "../helpers/services.js";
import { anyCount, anyDate, anyTokens, depthOf, nastyJson, nastyState, nastyString, storedJson, mostly, sometimes, storedText, storedToolInput, tooPreciseBareNumber } from "./arbitraries.js";
import { PROPERTY_TIMEOUT_MS, RUNS, serviceOutcome, Tally } from "./outcomes.js";

let db: TestDatabase;
let h: ServiceHarness;
let chatId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  h = createServiceHarness(db);
  chatId = (await h.services.chats.create({ title: "properties" })).id;
});
afterAll(async () => {
  h?.published.stop();
  await db?.destroy();
});

/** Any JS value, odd ones included: Maps, Sets, boxed and typed values, sparse arrays, bigints, null prototypes. */
const anyValue = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
  withObjectString: true,
});

/**
 * The oracle: what JSON makes of a value (JSON.stringify, then parse), or "refused" when the server
 * must refuse it: too deep, or holding what JSON cannot write faithfully (bigint, NaN, ±Infinity).
 */
function asJson(value: unknown): { json: unknown } | "refused" {
  if (depthOf(value) > MAX_JSON_DEPTH) return "refused";
  let refused = false;
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v) => {
      if (typeof v === "number" && !Number.isFinite(v)) refused = true;
      if (typeof v === "function" || typeof v === "symbol") refused = true;
      return v;
    });
  } catch {
    return "refused"; // a bigint
  }
  return refused ? "refused" : { json: text === undefined ? undefined : JSON.parse(text) };
}

describe("traces.record", () => {
  test(
    "any values: stored as JSON makes them, normalised, or refused without a write",
    async () => {
      const input = fc.record({
        chatId: mostly(fc.constant("chat"), anyValue),
        toolName: mostly(nastyString(10), anyValue),
        toolCallId: sometimes(fc.oneof(fc.constant("fresh"), nastyString(4), anyValue)),
        toolInput: sometimes(mostly(nastyJson(3000), anyValue)),
        startedAt: sometimes(mostly(anyDate, anyValue)),
        finishedAt: sometimes(mostly(anyDate, anyValue)),
        latencyMs: sometimes(mostly(anyCount, anyValue)),
        output: sometimes(mostly(nastyString(20), anyValue)),
        tokens: sometimes(mostly(anyTokens, anyValue)),
      });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(input, async (raw) => {
          const i = { ...raw, chatId: raw.chatId === "chat" ? chatId : raw.chatId, toolCallId: raw.toolCallId === "fresh" ? randomUUID() : raw.toolCallId };
          const trace = tally.count(await serviceOutcome(db, () => h.services.traces.record(i as never)));
          const oracle = asJson(i.toolInput);
          if (oracle === "refused" || tooPreciseBareNumber(oracle.json)) expect(trace).toBeUndefined();
          if (!trace || oracle === "refused") return;
          const row = await db.prisma.toolTrace.findUniqueOrThrow({ where: { id: trace.id } });
          expect(row).toEqual(trace);
          expect(row.toolName).toBe(storedText(i.toolName as string));
          expect(row.toolInput).toEqual(storedToolInput(oracle.json));
          expect(row.toolOutput).toBe(i.output === undefined ? null : storedText(i.output as string));
          if (i.startedAt instanceof Date) expect(row.startedAt.getTime()).toBe(i.startedAt.getTime());
          if (i.finishedAt instanceof Date) expect(row.finishedAt!.getTime()).toBe(i.finishedAt.getTime());
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe("snapshots.save", () => {
  test(
    "any state: stored as JSON makes it, normalised and scrubbed, or refused without a write",
    async () => {
      const input = fc.record({ state: fc.oneof(nastyState, nastyJson(3000), anyValue), turn: sometimes(mostly(anyCount, anyValue)) });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(input, async (i) => {
          const revision = tally.count(await serviceOutcome(db, () => h.services.snapshots.save({ chatId, ...i } as never)));
          const oracle = asJson(i.state);
          if (oracle === "refused") expect(revision).toBeUndefined();
          if (!revision || oracle === "refused") return;
          const row = await db.prisma.agentSnapshotRevision.findUniqueOrThrow({ where: { id: revision.id } });
          expect(row).toEqual(revision);
          expect(row.state).toEqual(scrubSecrets(storedJson(oracle.json) as JsonValue));
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe("chats.create", () => {
  test(
    "any title and workspace: stored normalised, or refused without a write",
    async () => {
      const text = fc.oneof({ weight: 6, arbitrary: nastyString(40) }, { weight: 1, arbitrary: fc.string({ minLength: 490, maxLength: 520 }) }, { weight: 1, arbitrary: anyValue });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(fc.record({ title: text, workspace: text }, { requiredKeys: [] }), async (i) => {
          const chat = tally.count(await serviceOutcome(db, () => h.services.chats.create(i as never)));
          if (!chat) return;
          expect(chat.title).toBe(i.title == null ? "Untitled chat" : storedText((i.title as string).trim()));
          expect(chat.workspace).toBe(i.workspace == null ? null : storedText(i.workspace as string));
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});
