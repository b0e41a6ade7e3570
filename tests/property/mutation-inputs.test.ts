// Mutation inputs of every kind, through the real GraphQL pipeline (Yoga in process, so scalar
// parsing is covered): each is a success that stored what was sent (after normalisation), or an
// expected failure that wrote nothing.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { scrubSecrets } from "../../server/services/scrub.js";
import type { JsonValue } from "../../server/services/validation.js";
import { MAX_JSON_DEPTH } from "../../server/services/validation.js";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { anyCount, anyTokens, dateText, depthOf, nastyJson, nastyState, nastyString, storedJson, mostly, sometimes, storedText, storedToolInput, tooPreciseBareNumber } from "./arbitraries.js";
import { mutationOutcome, PROPERTY_TIMEOUT_MS, RUNS, Tally } from "./outcomes.js";

let db: TestDatabase;
let t: TestApp;
let chat: { id: string; uuid: string };
beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { listen: false });
  chat = (await execute(t.app, `mutation { createChat(input: {title: "properties"}) { ... on Chat { id uuid } } }`)).data!.createChat;
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const run = (query: string, variables: Record<string, unknown>) => () => execute(t.app, query, variables);
const stored = (uuid: string) => db.prisma.toolTrace.findUniqueOrThrow({ where: { id: uuid } });

/** A chat id as clients send it: mostly this chat's (global id or UUID), sometimes garbage or unknown. */
const chatIdArb = () => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(chat.id, chat.uuid) }, { weight: 1, arbitrary: nastyString(40) }, { weight: 1, arbitrary: fc.constant(randomUUID()) });

const START = `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { __typename ... on ToolTrace { uuid } } }`;

describe("startToolTrace", () => {
  test(
    "any input: stored as normalised, or refused without a write",
    async () => {
      const input = fc.record({
        chatId: fc.constant(null).chain(() => chatIdArb()),
        toolName: mostly(fc.constantFrom("bash", "read_file"), nastyString(20)),
        toolCallId: sometimes(fc.oneof(fc.constantFrom("call_1", "call_2"), nastyString(6))),
        messageId: sometimes(nastyString(10)),
        turnNumber: sometimes(anyCount),
        toolInput: sometimes(nastyJson()),
        startedAt: sometimes(dateText),
      });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(input, async (i) => {
          const variables = { ...i, startedAt: i.startedAt?.text };
          const result = tally.count(await mutationOutcome(db, run(START, { input: variables })));
          if (i.toolInput !== undefined && (depthOf(i.toolInput) > MAX_JSON_DEPTH || tooPreciseBareNumber(i.toolInput))) expect(result).toBeUndefined();
          if (!result) return;
          const row = await stored(result.uuid);
          expect(row.toolName).toBe(storedText(i.toolName));
          expect(row.toolInput).toEqual(storedToolInput(i.toolInput));
          expect(row.toolCallId).toBe(i.toolCallId === undefined ? null : storedText(i.toolCallId));
          expect(row.messageId).toBe(i.messageId === undefined ? null : storedText(i.messageId));
          if (i.startedAt?.instant) expect(row.startedAt.getTime()).toBe(i.startedAt.instant.getTime());
          if (Number.isInteger(i.turnNumber)) expect(row.turnNumber).toBe(i.turnNumber);
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});

/** The trace columns a token usage in the API's forms sets, by the documented convention. */
function expectedTokens(tokens: Record<string, any>) {
  // JSON writes -0 as 0, and NaN or Infinity as null (not given).
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v || 0 : 0);
  if (tokens.openai) {
    const o = tokens.openai;
    const cached = n(o.prompt_tokens_details?.cached_tokens);
    return { inputTokens: n(o.prompt_tokens) - cached, cacheReadTokens: cached, cacheWriteTokens: 0, outputTokens: n(o.completion_tokens), reasoningTokens: n(o.completion_tokens_details?.reasoning_tokens) };
  }
  if (tokens.anthropic) {
    const a = tokens.anthropic;
    return { inputTokens: n(a.input_tokens), cacheReadTokens: n(a.cache_read_input_tokens), cacheWriteTokens: n(a.cache_creation_input_tokens), outputTokens: n(a.output_tokens), reasoningTokens: 0 };
  }
  return { inputTokens: n(tokens.input), cacheReadTokens: n(tokens.cacheRead), cacheWriteTokens: n(tokens.cacheWrite), outputTokens: n(tokens.output), reasoningTokens: n(tokens.reasoning) };
}

describe("finishToolTrace", () => {
  const FINISH = `mutation($input: FinishToolTraceInput!) { finishToolTrace(input: $input) { __typename ... on ToolTrace { uuid } } }`;

  test(
    "any finish of a running trace: stored as normalised, or refused without a write",
    async () => {
      const finish = fc.record({
        output: sometimes(nastyString(30)),
        error: sometimes(nastyString(10)),
        outcome: sometimes(nastyString(10)),
        latencyMs: sometimes(anyCount),
        finishedAt: sometimes(dateText),
        status: sometimes(fc.constantFrom("timeout", "cancelled")),
        tokens: sometimes(anyTokens),
        byCallId: fc.boolean(),
      });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(finish, async ({ byCallId, ...f }) => {
          const toolCallId = randomUUID();
          const started = await execute(t.app, START, { input: { chatId: chat.id, toolName: "t", toolCallId } });
          const uuid = started.data!.startToolTrace.uuid as string;
          const target = byCallId ? { chatId: chat.id, toolCallId } : { traceId: uuid };
          const result = tally.count(await mutationOutcome(db, run(FINISH, { input: { ...target, ...f, finishedAt: f.finishedAt?.text } })));
          if (!result) return;
          const row = await stored(uuid);
          expect(row.toolOutput).toBe(f.output === undefined ? null : storedText(f.output));
          expect(row.error).toBe(f.error === undefined ? null : storedText(f.error));
          expect(row.outcome).toBe(f.outcome === undefined ? null : storedText(f.outcome));
          expect(row.status).toBe(f.status ?? (f.error !== undefined ? "error" : "ok"));
          if (f.finishedAt?.instant) expect(row.finishedAt!.getTime()).toBe(f.finishedAt.instant.getTime());
          if (f.tokens) expect(row).toMatchObject(expectedTokens(f.tokens));
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe("recordToolTraces", () => {
  const RECORD = `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { __typename ... on RecordToolTracesPayload { traces { uuid } } } }`;

  test(
    "any batch: every item stored as normalised, or none",
    async () => {
      const item = fc.record({
        chatId: mostly(fc.constant(chat.id), fc.constant(null).chain(() => chatIdArb())),
        toolName: mostly(fc.constantFrom("bash", "read_file"), nastyString(8)),
        toolInput: sometimes(nastyJson(300)),
        output: sometimes(nastyString(10)),
        startedAt: sometimes(dateText),
        finishedAt: sometimes(dateText),
        latencyMs: sometimes(anyCount),
        tokens: sometimes(anyTokens),
      });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 3 }), async (items) => {
          const variables = items.map((i) => ({ ...i, startedAt: i.startedAt?.text, finishedAt: i.finishedAt?.text }));
          const result = tally.count(await mutationOutcome(db, run(RECORD, { input: { items: variables } })));
          if (!result) return;
          expect(result.traces).toHaveLength(items.length);
          for (const [index, trace] of (result.traces as { uuid: string }[]).entries()) {
            const row = await stored(trace.uuid);
            const i = items[index]!;
            expect(row).toMatchObject({ toolName: storedText(i.toolName), status: "ok", toolOutput: i.output === undefined ? null : storedText(i.output) });
            expect(row.toolInput).toEqual(storedToolInput(i.toolInput));
            if (i.startedAt?.instant) expect(row.startedAt.getTime()).toBe(i.startedAt.instant.getTime());
          }
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe("saveSnapshot", () => {
  const SAVE = `mutation($input: SaveSnapshotInput!) { saveSnapshot(input: $input) { __typename ... on SnapshotRevision { uuid } } }`;

  test(
    "any state: stored normalised with secrets scrubbed, or refused without a write",
    async () => {
      const save = fc.record({ chatId: fc.constant(null).chain(() => chatIdArb()), state: mostly(nastyState, nastyJson()), turn: sometimes(anyCount) });
      const tally = new Tally();
      await fc.assert(
        fc.asyncProperty(save, async (s) => {
          const result = tally.count(await mutationOutcome(db, run(SAVE, { input: s })));
          if (!result) return;
          const row = await db.prisma.agentSnapshotRevision.findUniqueOrThrow({ where: { id: result.uuid } });
          expect(row.state).toEqual(scrubSecrets(storedJson(s.state) as JsonValue));
        }),
        RUNS,
      );
      tally.expectBoth();
    },
    PROPERTY_TIMEOUT_MS,
  );
});
