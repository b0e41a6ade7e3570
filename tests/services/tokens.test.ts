import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import { ValidationError } from "../../server/errors.js";
import { tokensUsed } from "../../server/services/tokens.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { failsCleanly } = serviceAssertions(() => db, () => h);

/** Per-chat totals the way the API computes them: one SUM over model_steps, never over traces. */
async function chatTotals(chatId: string) {
  const [row] = await db.prisma.$queryRaw<{ input: bigint; output: bigint; cache_read: bigint; cache_write: bigint; reasoning: bigint; steps: bigint }[]>`
    SELECT COALESCE(SUM(input_tokens), 0)::bigint AS input,
           COALESCE(SUM(output_tokens), 0)::bigint AS output,
           COALESCE(SUM(cache_read_tokens), 0)::bigint AS cache_read,
           COALESCE(SUM(cache_write_tokens), 0)::bigint AS cache_write,
           COALESCE(SUM(reasoning_tokens), 0)::bigint AS reasoning,
           count(*)::bigint AS steps
      FROM model_steps WHERE chat_id = ${chatId}::uuid`;
  return {
    input: Number(row!.input),
    output: Number(row!.output),
    cacheRead: Number(row!.cache_read),
    cacheWrite: Number(row!.cache_write),
    reasoning: Number(row!.reasoning),
    steps: Number(row!.steps),
  };
}

const usage = { input: 1000, output: 200, cacheRead: 5000, cacheWrite: 300, reasoning: 50 };
const newChat = () => h.services.chats.create({ title: "tokens" });
const traceColumns = (t: { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; reasoningTokens: number }) => ({
  input: t.inputTokens,
  output: t.outputTokens,
  cacheRead: t.cacheReadTokens,
  cacheWrite: t.cacheWriteTokens,
  reasoning: t.reasoningTokens,
});

describe("a model step's usage is counted once", () => {
  test("three tool calls of one step, each carrying the step's usage: totals count it once", async () => {
    const chat = await newChat();
    const traces = [];
    for (const name of ["read_file", "grep", "ls"])
      traces.push(await h.services.traces.record({ chatId: chat.id, messageId: "msg_1", toolName: name, toolInput: {}, tokens: usage }));
    // Each trace shows the usage of the step that issued it...
    for (const t of traces) expect(traceColumns(t)).toEqual(usage);
    // ...but the chat's total has it once.
    expect(await chatTotals(chat.id)).toEqual({ ...usage, steps: 1 });
  });

  test("only the first call of a step carries the usage: the step keeps it", async () => {
    const chat = await newChat();
    await h.services.traces.record({ chatId: chat.id, messageId: "msg_a", toolName: "a", toolInput: {}, tokens: usage });
    await h.services.traces.record({ chatId: chat.id, messageId: "msg_a", toolName: "b", toolInput: {} });
    await h.services.traces.record({ chatId: chat.id, messageId: "msg_a", toolName: "c", toolInput: {}, tokens: {} });
    expect(await chatTotals(chat.id)).toEqual({ ...usage, steps: 1 });
  });

  test("started together, finished separately with the step's usage: counted once", async () => {
    const chat = await newChat();
    const a = await h.services.traces.start({ chatId: chat.id, messageId: "msg_p", toolName: "a", toolInput: {} });
    const b = await h.services.traces.start({ chatId: chat.id, messageId: "msg_p", toolName: "b", toolInput: {} });
    await h.services.traces.finish({ traceId: b.id, tokens: usage });
    await h.services.traces.finish({ traceId: a.id, tokens: usage });
    expect(await chatTotals(chat.id)).toEqual({ ...usage, steps: 1 });
  });

  test("different steps add up; a trace without a message id is its own step", async () => {
    const chat = await newChat();
    await h.services.traces.record({ chatId: chat.id, messageId: "m1", toolName: "a", toolInput: {}, tokens: { input: 10, output: 1 } });
    await h.services.traces.record({ chatId: chat.id, messageId: "m1", toolName: "b", toolInput: {}, tokens: { input: 10, output: 1 } });
    await h.services.traces.record({ chatId: chat.id, messageId: "m2", toolName: "c", toolInput: {}, tokens: { input: 20, output: 2 } });
    const loneA = await h.services.traces.record({ chatId: chat.id, toolName: "d", toolInput: {}, tokens: { input: 7 } });
    const loneB = await h.services.traces.record({ chatId: chat.id, toolName: "e", toolInput: {}, tokens: { input: 7 } });
    expect(await chatTotals(chat.id)).toEqual({ input: 44, output: 3, cacheRead: 0, cacheWrite: 0, reasoning: 0, steps: 4 });
    const keys = (await db.prisma.modelStep.findMany({ where: { chatId: chat.id }, orderBy: { stepKey: "asc" } })).map((s) => s.stepKey);
    expect(keys).toEqual(["m1", "m2", `trace:${loneA.id}`, `trace:${loneB.id}`].sort());
  });

  test("a batch of one step's calls counts the step once", async () => {
    const chat = await newChat();
    await h.services.traces.recordBatch([
      { chatId: chat.id, messageId: "msg_b", toolName: "a", toolInput: {}, tokens: usage },
      { chatId: chat.id, messageId: "msg_b", toolName: "b", toolInput: {}, tokens: usage },
    ]);
    expect(await chatTotals(chat.id)).toEqual({ ...usage, steps: 1 });
  });

  test("the same message id in two chats is two steps, one per chat", async () => {
    const a = await newChat();
    const b = await newChat();
    await h.services.traces.record({ chatId: a.id, messageId: "shared", toolName: "x", toolInput: {}, tokens: { input: 5 } });
    await h.services.traces.record({ chatId: b.id, messageId: "shared", toolName: "x", toolInput: {}, tokens: { input: 8 } });
    expect((await chatTotals(a.id)).input).toBe(5);
    expect((await chatTotals(b.id)).input).toBe(8);
  });

  test("replays do not add usage again", async () => {
    const chat = await newChat();
    const input = { chatId: chat.id, toolCallId: "call_t", messageId: "m", toolName: "a", toolInput: {}, tokens: usage };
    await h.services.traces.record(input);
    await h.services.traces.record(input);
    const started = await h.services.traces.start({ chatId: chat.id, toolName: "b", toolInput: {} });
    await h.services.traces.finish({ traceId: started.id, tokens: { input: 1 } });
    await h.services.traces.finish({ traceId: started.id, tokens: { input: 1 } });
    expect(await chatTotals(chat.id)).toEqual({ ...usage, input: usage.input + 1, steps: 2 });
  });

  test("a trace without usage adds no step", async () => {
    const chat = await newChat();
    await h.services.traces.record({ chatId: chat.id, toolName: "a", toolInput: {} });
    await h.services.traces.record({ chatId: chat.id, messageId: "m", toolName: "b", toolInput: {}, tokens: { input: 0, output: 0 } });
    expect(await chatTotals(chat.id)).toEqual({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, steps: 0 });
  });

  test("totals beyond 32 bits are summed exactly", async () => {
    const chat = await newChat();
    for (const m of ["m1", "m2", "m3"])
      await h.services.traces.record({ chatId: chat.id, messageId: m, toolName: "a", toolInput: {}, tokens: { input: 2_000_000_000, cacheRead: 2_147_483_647 } });
    const totals = await chatTotals(chat.id);
    expect(totals.input).toBe(6_000_000_000);
    expect(totals.cacheRead).toBe(3 * 2_147_483_647);
  });
});

describe("provider usage is normalised on the way in", () => {
  test("OpenAI: cached tokens come out of prompt tokens; reasoning stays inside completion tokens", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.record({
      chatId: chat.id,
      messageId: "chatcmpl-1",
      toolName: "a",
      toolInput: {},
      tokens: { openai: { prompt_tokens: 1000, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 600 }, completion_tokens_details: { reasoning_tokens: 100 } } },
    });
    const t = traceColumns(trace);
    expect(t).toEqual({ input: 400, cacheRead: 600, cacheWrite: 0, output: 300, reasoning: 100 });
    expect(tokensUsed(t)).toBe(1300); // prompt + completion: nothing counted twice
    expect(await chatTotals(chat.id)).toEqual({ ...t, steps: 1 });
  });

  test("Anthropic: cache reads and writes are apart from input and added as they are", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.record({
      chatId: chat.id,
      messageId: "msg_01",
      toolName: "a",
      toolInput: {},
      tokens: { anthropic: { input_tokens: 50, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200, output_tokens: 80 } },
    });
    const t = traceColumns(trace);
    expect(t).toEqual({ input: 50, cacheRead: 1000, cacheWrite: 200, output: 80, reasoning: 0 });
    expect(tokensUsed(t)).toBe(1330);
  });

  test.each([
    ["OpenAI cached tokens beyond prompt tokens", { openai: { prompt_tokens: 10, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 11 } } }, ["tokens", "openai", "prompt_tokens_details", "cached_tokens"]],
    ["OpenAI reasoning beyond completion tokens", { openai: { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 6 } } }, ["tokens", "openai", "completion_tokens_details", "reasoning_tokens"]],
    ["Anthropic negative cache reads", { anthropic: { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: -1 } }, ["tokens", "anthropic", "cache_read_input_tokens"]],
    ["reasoning beyond output", { output: 3, reasoning: 4 }, ["tokens", "reasoning"]],
    ["an unknown count", { inputTokens: 3 }, ["tokens"]],
  ])("%s is a ValidationError and writes nothing", async (_, tokens, path) => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "a", toolInput: {} });
    const error = await failsCleanly(ValidationError, () => h.services.traces.finish({ traceId: trace.id, tokens }));
    expect(error.issues.map((i) => i.path)).toContainEqual(path);
  });
});

test("deleting a chat removes its steps and leaves other chats' totals alone", async () => {
  const a = await newChat();
  const b = await newChat();
  await h.services.traces.record({ chatId: a.id, messageId: "m", toolName: "x", toolInput: {}, tokens: usage });
  await h.services.traces.record({ chatId: b.id, messageId: "m", toolName: "x", toolInput: {}, tokens: { input: 1 } });
  await h.services.chats.delete(a.id);
  expect(await chatTotals(a.id)).toMatchObject({ steps: 0 });
  expect(await chatTotals(b.id)).toMatchObject({ input: 1, steps: 1 });
  expect(await chatTotals(randomUUID())).toMatchObject({ steps: 0 });
});
