// No N+1 in the read resolvers: the statements Prisma sends for a page of traces with each trace's
// chat (and for the other list queries) are a small constant, the same for a page of 10 as of 50.
// Counted at the driver adapter (tests/helpers/statement-counter.ts), on PGlite (unit) and on
// PostgreSQL (postgres).
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { createChat, dataOf, recordTraces, type Run } from "../helpers/graphql-fixtures.js";
import { installStatementCounter, type StatementCounter } from "../helpers/statement-counter.js";

let counter: StatementCounter;
let db: TestDatabase;
let t: TestApp;
let chatId: string;
/** A chat whose traces carry message ids (so ToolTrace.step counts the step's calls). */
let stepsChatId: string;
const run: Run = (query, variables) => execute(t.app, query, variables);

beforeAll(async () => {
  // Before the database opens: Prisma connects its adapter on the first query.
  counter = installStatementCounter();
  db = await createTestDatabase();
  // No background work (sweep, agent heartbeats, transcript reads) whose statements would be counted.
  t = await startTestApp(db, { listen: false, env: { SWEEP_INTERVAL_SECONDS: "3600", AGENT_ENABLED: "false", CLAUDE_CODE_TRANSCRIPTS: "false" } });
  const chat = await createChat(run, "statement count");
  chatId = chat.id;
  const chatUuid = chat.uuid;
  const base = Date.parse("2026-01-01T00:00:00Z");
  await recordTraces(
    run,
    Array.from({ length: 60 }, (_, i) => ({ chatId, toolName: i % 2 ? "ls" : "cat", startedAt: new Date(base + i * 1000).toISOString(), output: `out ${i}` })),
  );
  for (let i = 0; i < 8; i++) {
    dataOf(await run(`mutation($c: ID!, $s: JSON!) { saveSnapshot(input: {chatId: $c, state: $s}) { __typename } }`, { c: chatId, s: { messages: [i] } }));
  }
  // Agent turns and their messages, written directly (no agent runs here).
  for (let turn = 1; turn <= 8; turn++) {
    const id = randomUUID();
    await db.prisma.agentTurn.create({
      data: { id, chatId: chatUuid, turnNumber: turn, trigger: "user", prompt: "p", provider: "scripted", model: "m", ownerRunId: randomUUID(), status: "ok" },
    });
    await db.prisma.agentMessage.create({ data: { id: randomUUID(), chatId: chatUuid, turnNumber: turn, kind: "assistant", text: "hi" } });
  }
  stepsChatId = (await createChat(run, "steps")).id;
  await recordTraces(
    run,
    Array.from({ length: 20 }, (_, i) => ({ chatId: stepsChatId, toolName: "ls", messageId: `msg_${i >> 1}`, tokens: { input: 10, output: 5 } })),
  );
  // Other chats, so a chats page has several rows each with traces.
  for (let c = 0; c < 12; c++) {
    const other = await createChat(run, `other ${c}`);
    await recordTraces(run, [{ chatId: other.id, toolName: "ls" }, { chatId: other.id, toolName: "cat" }]);
  }
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
  counter?.uninstall();
});

/** The statements one operation sends (after a first run, so lazy one-off work is not counted). */
async function statementsOf(query: string, variables: Record<string, unknown>) {
  dataOf(await run(query, variables));
  const { result, statements } = await counter.during(() => run(query, variables));
  dataOf(result);
  return statements.map((s) => s.sql);
}

const TRACES_WITH_CHAT = `query($id: ID!, $n: Int!) {
  chat(id: $id) {
    id title
    traces(first: $n) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id uuid toolName status startedAt latencyMs chat { id uuid title } } }
    }
  }
}`;

/** The same operation at two page sizes: the statement counts must be equal (and small). */
async function atTwoSizes(query: string, small: Record<string, unknown>, large: Record<string, unknown>) {
  const a = await statementsOf(query, small);
  const b = await statementsOf(query, large);
  return { small: a.length, large: b.length, statements: b };
}

describe("statements per page are a small constant", () => {
  test("a page of traces with each trace's chat: the same statements for 10 as for 50", async () => {
    const { small, large, statements } = await atTwoSizes(TRACES_WITH_CHAT, { id: chatId, n: 10 }, { id: chatId, n: 50 });
    expect(large, statements.join("\n")).toBe(small);
    // The chat; the page; the page's chats (the chat relation, loaded with the page). totalCount is
    // the chat's counter, and the page's traces are not read again by id.
    expect(large, statements.join("\n")).toBeLessThanOrEqual(3);
    expect(statements.filter((sql) => /FROM "public"\."chats"/.test(sql)).length).toBeLessThanOrEqual(2);
    expect(statements.filter((sql) => /FROM "public"\."tool_traces"/.test(sql)).length, statements.join("\n")).toBe(1);
  });

  test("nodes(ids) of traces with their chat", async () => {
    const page = dataOf(await run(`query($id: ID!) { chat(id: $id) { traces(first: 50) { edges { node { id } } } } }`, { id: chatId }));
    const ids = page.chat.traces.edges.map((e: any) => e.node.id);
    const q = `query($ids: [ID!]!) { nodes(ids: $ids) { ... on ToolTrace { id toolName chat { id title } } } }`;
    const { small, large, statements } = await atTwoSizes(q, { ids: ids.slice(0, 10) }, { ids });
    expect(large, statements.join("\n")).toBe(small);
    expect(large).toBeLessThanOrEqual(2);
  });

  test("a chats page with each chat's source and current snapshot", async () => {
    const q = `query($n: Int!) { chats(first: $n) { edges { node { id title source currentSnapshot { id isCurrent } } } } }`;
    const { small, large, statements } = await atTwoSizes(q, { n: 3 }, { n: 12 });
    expect(large, statements.join("\n")).toBe(small);
  });

  test("a page of snapshots with isCurrent and their chat; the chat's turns with their revisions", async () => {
    const snapshots = `query($id: ID!, $n: Int!) { chat(id: $id) { snapshots(first: $n) { edges { node { id turn isCurrent chat { id } } } } } }`;
    const a = await atTwoSizes(snapshots, { id: chatId, n: 2 }, { id: chatId, n: 8 });
    expect(a.large, a.statements.join("\n")).toBe(a.small);
    const turns = `query($id: ID!, $n: Int!) { chat(id: $id) { turns(first: $n) { turn traceCount revision { id isCurrent } } } }`;
    const b = await atTwoSizes(turns, { id: chatId, n: 2 }, { id: chatId, n: 8 });
    expect(b.large, b.statements.join("\n")).toBe(b.small);
  });

  // Fields batched per request (server/schema/loaders): one statement for the whole page, and the
  // values the per-row reads gave.
  test("Chat.stats on a chats page: one model_steps sum for all the chats", async () => {
    const q = `query($n: Int!) { chats(first: $n) { edges { node { id uuid stats { traceCount errorCount runningCount tokens { input output cacheRead cacheWrite reasoning tokensUsed } } } } } }`;
    const { small, large, statements } = await atTwoSizes(q, { n: 3 }, { n: 12 });
    expect(large, statements.join("\n")).toBe(small);
    expect(statements.filter((sql) => /FROM model_steps/.test(sql)).length).toBe(1);
    // Every chat's totals, as a per-chat sum gives them (the steps chat has some, the others none).
    const page = dataOf(await run(q, { n: 50 }));
    const sums = await db.prisma.modelStep.groupBy({
      by: ["chatId"],
      _sum: { inputTokens: true, outputTokens: true, cacheReadTokens: true, cacheWriteTokens: true, reasoningTokens: true },
    });
    const byChat = new Map(sums.map((s) => [s.chatId, s._sum]));
    expect(page.chats.edges.length).toBeGreaterThan(13);
    for (const { node } of page.chats.edges) {
      const sum = byChat.get(node.uuid);
      const [input, output, cacheRead, cacheWrite, reasoning] = [sum?.inputTokens, sum?.outputTokens, sum?.cacheReadTokens, sum?.cacheWriteTokens, sum?.reasoningTokens].map((n) => n ?? 0);
      expect(node.stats.tokens, node.uuid).toEqual({ input, output, cacheRead, cacheWrite, reasoning, tokensUsed: input! + cacheRead! + cacheWrite! + output! });
    }
    expect(page.chats.edges.find((e: any) => e.node.id === stepsChatId).node.stats.tokens.input).toBeGreaterThan(0);
  });

  test("AgentTurn.messages under Chat.agentTurns: one read for all the turns", async () => {
    const q = `query($id: ID!, $n: Int!) { chat(id: $id) { uuid agentTurns(last: $n) { id turnNumber messages { id turnNumber kind text createdAt } } } }`;
    const { small, large, statements } = await atTwoSizes(q, { id: chatId, n: 2 }, { id: chatId, n: 8 });
    expect(large, statements.join("\n")).toBe(small);
    expect(statements.filter((sql) => /FROM agent_messages/.test(sql)).length).toBe(1);
    const data = dataOf(await run(q, { id: chatId, n: 8 }));
    expect(data.chat.agentTurns).toHaveLength(8);
    for (const turn of data.chat.agentTurns) {
      const rows = await db.prisma.agentMessage.findMany({ where: { chatId: data.chat.uuid, turnNumber: turn.turnNumber }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      expect(rows.length).toBeGreaterThan(0);
      expect(turn.messages).toEqual(rows.map((m) => ({ id: m.id, turnNumber: m.turnNumber, kind: m.kind, text: m.text, createdAt: m.createdAt.toISOString() })));
    }
  });

  test("ToolTrace.step.toolCallCount on a page of traces: one count for all the steps", async () => {
    const q = `query($id: ID!, $n: Int!) { chat(id: $id) { traces(first: $n) { edges { node { id messageId step { key toolCallCount } } } } } }`;
    const { small, large, statements } = await atTwoSizes(q, { id: stepsChatId, n: 5 }, { id: stepsChatId, n: 20 });
    expect(large, statements.join("\n")).toBe(small);
    expect(statements.filter((sql) => /count\(\*\)/i.test(sql)).length).toBe(1);
    // Two calls per message id (msg_0 twice, msg_1 twice, ...): each step counts both.
    const data = dataOf(await run(q, { id: stepsChatId, n: 20 }));
    expect(data.chat.traces.edges).toHaveLength(20);
    for (const { node } of data.chat.traces.edges) expect(node.step).toEqual({ key: node.messageId, toolCallCount: 2 });
  });
});
