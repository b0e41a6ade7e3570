// Lone UTF-16 surrogates (half of an emoji cut in two) and NUL: PostgreSQL's jsonb refuses the
// first and neither text nor jsonb holds the second. Every text and JSON field, keys included,
// stores both as U+FFFD, and a retried call carrying them is still an identical replay.
import { describe, expect, test } from "vitest";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";

const { db, h } = useServiceDatabase();
const { changesNothing, storedTrace } = serviceAssertions(() => db, () => h);

const HIGH = "\uD83D"; // the first half of 😀
const LOW = "\uDE00"; // its second half
const R = "\uFFFD";

describe("trace fields", () => {
  test("start and finish: lone surrogates in every text and JSON field, keys included, are stored as U+FFFD", async () => {
    const chat = await h.services.chats.create({ title: `cut ${HIGH}`, workspace: `/w/${LOW}` });
    expect(chat).toMatchObject({ title: `cut ${R}`, workspace: `/w/${R}` });
    const start = {
      chatId: chat.id,
      toolName: `read${HIGH}`,
      messageId: `m${LOW}`,
      toolCallId: `c${HIGH}1`,
      toolInput: { [`path${LOW}`]: [`a${HIGH}`, { [HIGH]: `${LOW}\u0000` }], whole: "😀" },
    };
    const trace = await h.services.traces.start(start);
    expect(await storedTrace(trace.id)).toMatchObject({
      toolName: `read${R}`,
      messageId: `m${R}`,
      toolCallId: `c${R}1`,
      toolInput: { [`path${R}`]: [`a${R}`], whole: "😀" }.constructor === Object ? { [`path${R}`]: [`a${R}`, { [R]: `${R}${R}` }], whole: "😀" } : {},
    });
    await changesNothing(() => h.services.traces.start(start));

    const finish = { chatId: chat.id, toolCallId: `c${HIGH}1`, output: `out${HIGH}`, error: `err${LOW}`, outcome: `o${HIGH}` };
    const finished = await h.services.traces.finish(finish);
    expect(await storedTrace(trace.id)).toMatchObject({ toolOutput: `out${R}`, error: `err${R}`, outcome: `o${R}`, status: "error" });
    expect(finished.id).toBe(trace.id);
    await changesNothing(() => h.services.traces.finish(finish));

    const [raw] = await db.prisma.$queryRaw<{ input: string }[]>`SELECT tool_input::text AS input FROM tool_traces WHERE id = ${trace.id}::uuid`;
    expect(raw!.input).toContain(R);
  });

  test("a batch: every item's JSON and text, stored as U+FFFD, all in one go", async () => {
    const chat = await h.services.chats.create();
    const items = [
      { chatId: chat.id, toolName: "a", toolInput: { ok: true } },
      { chatId: chat.id, toolName: `b${LOW}`, toolCallId: `k${HIGH}`, toolInput: { [`x${HIGH}`]: `y${LOW}` }, output: HIGH },
    ];
    const [, second] = await h.services.traces.recordBatch(items);
    expect(await storedTrace(second!.id)).toMatchObject({ toolName: `b${R}`, toolCallId: `k${R}`, toolInput: { [`x${R}`]: `y${R}` }, toolOutput: R });
    await changesNothing(() => h.services.traces.recordBatch([items[1]!]));
  });
});

describe("snapshot state", () => {
  test("lone surrogates in keys and values are stored as U+FFFD; a retried save is an identical replay", async () => {
    const chat = await h.services.chats.create();
    const state = { messages: [{ role: "tool", content: `half ${HIGH}` }], [`k${LOW}`]: { [`${HIGH}${HIGH}`]: 1 } };
    const saved = await h.services.snapshots.save({ chatId: chat.id, state });
    const expected = { messages: [{ role: "tool", content: `half ${R}` }], [`k${R}`]: { [`${R}${R}`]: 1 } };
    expect(saved.state).toEqual(expected);
    expect((await h.services.snapshots.loadCurrent(chat.id))!.state).toEqual(expected);
    await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: 1, state }));
  });

  test("a surrogate pair split across two keys' values stays as it was sent: each half is its own string", async () => {
    const chat = await h.services.chats.create();
    const saved = await h.services.snapshots.save({ chatId: chat.id, state: { a: HIGH, b: LOW, both: `${HIGH}${LOW}` } });
    expect(saved.state).toEqual({ a: R, b: R, both: "😀" });
  });
});
