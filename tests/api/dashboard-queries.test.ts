// What the dashboard reads beyond the traces connection: per-turn totals (Chat.turns), random access
// into the traces (Chat.tracePageCursors) and a trace's model step (ToolTrace.step).
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { codesOf, createChat, dataOf, recordTraces, type Run, transports } from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;
let chat: { id: string; uuid: string };
const run: Run = (query, variables) => transports(() => t)[0]![1](query, variables);
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { listen: false });
  chat = await createChat(run, "turns");
  // Turn 1: two calls of one model step (usage given on both: counted once), one error.
  // Turn 2: three calls, one still running. Turn 3: only a snapshot. 12 traces in all with turn 4.
  const step = { input: 100, output: 10, cacheRead: 1000, cacheWrite: 5, reasoning: 3 };
  await recordTraces(run, [
    { chatId: chat.id, turnNumber: 1, toolName: "read", messageId: "m1", startedAt: at(1), finishedAt: at(2), tokens: step },
    { chatId: chat.id, turnNumber: 1, toolName: "bash", messageId: "m1", startedAt: at(2), finishedAt: at(5), error: "exit 1", tokens: step },
    { chatId: chat.id, turnNumber: 2, toolName: "read", messageId: "m2", startedAt: at(10), finishedAt: at(11), tokens: { input: 7, output: 1 } },
    { chatId: chat.id, turnNumber: 2, toolName: "edit", messageId: "m3", startedAt: at(12), finishedAt: at(13) },
    ...Array.from({ length: 8 }, (_, i) => ({ chatId: chat.id, turnNumber: 4, toolName: "ls", startedAt: at(30 + i), finishedAt: at(31 + i) })),
  ]);
  dataOf(await run(`mutation($c: ID!) { startToolTrace(input: { chatId: $c, turnNumber: 2, toolName: "bash", startedAt: "${at(14)}" }) { __typename } }`, { c: chat.id }));
  for (const turn of [1, 3]) {
    dataOf(await run(`mutation($c: ID!, $t: Int) { saveSnapshot(input: { chatId: $c, turn: $t, state: { messages: [] } }) { __typename } }`, { c: chat.id, t: turn }));
  }
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const TURNS = `query($id: ID!, $filter: TraceFilter, $after: Int, $first: Int) { chat(id: $id) { turns(filter: $filter, after: $after, first: $first) {
  turn traceCount errorCount runningCount startedAt endedAt firstIndex tokens { input output cacheRead cacheWrite reasoning tokensUsed } revision { turn }
} } }`;

test("per-turn totals: counts, span, first row, tokens once per step, and the turn's revision", async () => {
  const { chat: c } = dataOf(await run(TURNS, { id: chat.id }));
  expect(c.turns).toEqual([
    {
      turn: 1, traceCount: 2, errorCount: 1, runningCount: 0, startedAt: at(1), endedAt: at(5), firstIndex: 0,
      tokens: { input: 100, output: 10, cacheRead: 1000, cacheWrite: 5, reasoning: 3, tokensUsed: 1115 }, revision: { turn: 1 },
    },
    {
      turn: 2, traceCount: 3, errorCount: 0, runningCount: 1, startedAt: at(10), endedAt: at(14), firstIndex: 2,
      tokens: { input: 7, output: 1, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 8 }, revision: null,
    },
    {
      turn: 3, traceCount: 0, errorCount: 0, runningCount: 0, startedAt: null, endedAt: null, firstIndex: 5,
      tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 0 }, revision: { turn: 3 },
    },
    {
      turn: 4, traceCount: 8, errorCount: 0, runningCount: 0, startedAt: at(30), endedAt: at(38), firstIndex: 5,
      tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0, tokensUsed: 0 }, revision: null,
    },
  ]);
});

test("turns follow the traces' filter, and page with after/first", async () => {
  const { chat: c } = dataOf(await run(TURNS, { id: chat.id, filter: { toolNames: ["read", "ls"] } }));
  expect(c.turns.map((x: any) => [x.turn, x.traceCount, x.firstIndex])).toEqual([[1, 1, 0], [2, 1, 1], [3, 0, 2], [4, 8, 2]]);
  const page = dataOf(await run(TURNS, { id: chat.id, after: 1, first: 2 }));
  expect(page.chat.turns.map((x: any) => x.turn)).toEqual([2, 3]);
  expect(codesOf(await run(TURNS, { id: chat.id, first: 5001 }))).toEqual(["PAGE_SIZE_INVALID"]);
});

test("page cursors give random access to every page of the traces, in order, without overlap", async () => {
  const many = await createChat(run, "many");
  await recordTraces(run, Array.from({ length: 45 }, (_, i) => ({ chatId: many.id, toolName: i % 3 === 0 ? "ls" : "cat", startedAt: at(100 + (i % 7)) })));
  const q = `query($id: ID!, $n: Int!, $filter: TraceFilter) { chat(id: $id) { tracePageCursors(pageSize: $n, filter: $filter) } }`;
  const all = dataOf(await run(`query($id: ID!) { chat(id: $id) { traces(first: 100) { edges { node { uuid } } } } }`, { id: many.id }));
  const order = all.chat.traces.edges.map((e: any) => e.node.uuid);
  expect(order).toHaveLength(45);
  for (const n of [20, 22, 44, 45, 100]) {
    const cursors: string[] = dataOf(await run(q, { id: many.id, n })).chat.tracePageCursors;
    // One cursor per page after the first, none after the last row.
    expect(cursors, `page size ${n}`).toHaveLength(Math.ceil(45 / n) - 1);
    const seen: string[] = [];
    for (const after of [undefined, ...cursors]) {
      const page = dataOf(await run(`query($id: ID!, $n: Int, $after: String) { chat(id: $id) { traces(first: $n, after: $after) { edges { node { uuid } } } } }`, { id: many.id, n, after }));
      expect(page.chat.traces.edges.length).toBeGreaterThan(0);
      seen.push(...page.chat.traces.edges.map((e: any) => e.node.uuid));
    }
    expect(seen, `page size ${n}`).toEqual(order);
  }
  // A filtered list's cursors are that list's: using one without the filter is refused.
  const filtered: string[] = dataOf(await run(q, { id: many.id, n: 20, filter: { toolNames: ["cat"] } })).chat.tracePageCursors;
  expect(filtered).toHaveLength(1); // 30 "cat" traces
  const foreign = await run(`query($id: ID!, $after: String) { chat(id: $id) { traces(first: 2, after: $after) { edges { cursor } } } }`, { id: many.id, after: filtered[0] });
  expect(codesOf(foreign)).toEqual(["INVALID_CURSOR"]);
  for (const n of [0, 19, 501]) expect(codesOf(await run(q, { id: many.id, n }))).toEqual(["PAGE_SIZE_INVALID"]);
});

test("every filter selects the same traces in Chat.turns' SQL as in Chat.traces", async () => {
  const filters = [
    { toolNames: ["read", "ls"] },
    { statuses: ["error"] },
    { statuses: ["running", "ok"] },
    { turnFrom: 2, turnTo: 3 },
    { minLatencyMs: 1500 },
    { startedFrom: at(10), startedBefore: at(33) },
    { toolNames: ["ls"], startedFrom: at(32) },
  ];
  for (const filter of filters) {
    const data = dataOf(await run(`query($id: ID!, $f: TraceFilter) { chat(id: $id) { traces(filter: $f) { totalCount } turns(filter: $f) { traceCount } } }`, { id: chat.id, f: filter }));
    const summed = data.chat.turns.reduce((sum: number, t: any) => sum + t.traceCount, 0);
    expect(summed, JSON.stringify(filter)).toBe(data.chat.traces.totalCount);
    expect(data.chat.traces.totalCount, JSON.stringify(filter)).toBeGreaterThan(0);
  }
});

test("a trace's model step: usage once, with how many calls shared it", async () => {
  const data = dataOf(await run(`query($id: ID!) { chat(id: $id) { traces(first: 3) { edges { node { toolName step { key toolCallCount tokens { input cacheRead } } } } } } }`, { id: chat.id }));
  expect(data.chat.traces.edges.map((e: any) => e.node.step)).toEqual([
    { key: "m1", toolCallCount: 2, tokens: { input: 100, cacheRead: 1000 } },
    { key: "m1", toolCallCount: 2, tokens: { input: 100, cacheRead: 1000 } },
    { key: "m2", toolCallCount: 1, tokens: { input: 7, cacheRead: 0 } },
  ]);
});
