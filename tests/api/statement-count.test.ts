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
    // The chat; the page; totalCount; the chat relation (the traces by id, then their chats by id).
    expect(large, statements.join("\n")).toBeLessThanOrEqual(5);
    expect(statements.filter((sql) => /FROM "public"\."chats"/.test(sql)).length).toBeLessThanOrEqual(2);
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
});

// Known N+1s in resolvers outside this test's owner's files, kept here so the day each is fixed shows
// (a test.fails passes while the statement count still grows with the page; remove the `.fails` then).
describe("known N+1s", () => {
  test.fails("Chat.stats on a chats page (ChatStats.ts: counts and a model_steps sum per chat)", async () => {
    const q = `query($n: Int!) { chats(first: $n) { edges { node { id stats { traceCount errorCount runningCount tokens { tokensUsed } } } } } }`;
    const { small, large } = await atTwoSizes(q, { n: 3 }, { n: 12 });
    expect(large).toBe(small);
  });

  test.fails("AgentTurn.messages under Chat.agentTurns (AgentTurn.ts: one findMany per turn)", async () => {
    const q = `query($id: ID!, $n: Int!) { chat(id: $id) { agentTurns(last: $n) { id messages { id } } } }`;
    const { small, large } = await atTwoSizes(q, { id: chatId, n: 2 }, { id: chatId, n: 8 });
    expect(large).toBe(small);
  });

  test.fails("ToolTrace.step.toolCallCount on a page of traces (ModelStep.ts: one count per trace with a message id)", async () => {
    const q = `query($id: ID!, $n: Int!) { chat(id: $id) { traces(first: $n) { edges { node { id step { key toolCallCount } } } } } }`;
    const { small, large } = await atTwoSizes(q, { id: stepsChatId, n: 5 }, { id: stepsChatId, n: 20 });
    expect(large).toBe(small);
  });
});
