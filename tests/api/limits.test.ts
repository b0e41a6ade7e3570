// Limits that ship now (issue 3, "Limits"): query depth 15, configurable; page and batch limits
// configurable too. The default page and batch limits are covered in pagination and mutations tests.
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { type ChatIds, codesOf, createChat, dataOf, errorsOf, postOnNewConnection, recordTraces, transports } from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;
let chat: ChatIds;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  const run = transports(() => t)[0]![1];
  chat = await createChat(run, "deep");
  await recordTraces(run, [{ chatId: chat.id, toolName: "ls" }]);
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

/**
 * A legal query `depth` fields deep, through the schema's cycle chat → traces → edges → node → chat.
 * Depth counts field levels: `{ chat(id) { id } }` is 2 deep.
 */
function deepQuery(depth: number): string {
  const cycle = ["chat(id: $id)", "traces", "edges", "node"];
  const after = ["chat", "traces", "edges", "node"];
  const leafOf: Record<string, string> = { chat: "uuid", traces: "totalCount", edges: "cursor", node: "toolName" };
  // Pages of one, so that the complexity limit (page sizes multiply) leaves depth as the only limit.
  const fields = Array.from({ length: depth - 1 }, (_, i) => (i === 0 ? cycle[0]! : after[i % 4]!)).map((f) => (f === "traces" ? "traces(first: 1)" : f));
  const leaf = leafOf[after[(depth - 2) % 4]!]!;
  return `query Deep($id: ID!) ${fields.map((f) => `{ ${f} `).join("")}{ ${leaf} }${" }".repeat(fields.length)}`;
}

/** Follows the response down the same path: the object that holds the leaf field. */
function leafValue(data: Record<string, any>, depth: number): unknown {
  const path = ["chat", "traces", "edges", "node"];
  let value: any = data;
  for (let i = 0; i < depth - 1; i++) {
    value = value[path[i % 4]!];
    if (Array.isArray(value)) value = value[0];
  }
  return value;
}

describe.each(transports(() => t))("%s", (_name, run) => {
  test("a query 15 deep runs; 16 deep is refused before it runs, with a message naming the limit", async () => {
    const ok = dataOf(await run(deepQuery(15), { id: chat.id }));
    // depth 15: chat traces edges node ×3, then chat, traces { totalCount }
    expect(leafValue(ok, 15)).toEqual({ totalCount: 1 });
    const refused = await run(deepQuery(16), { id: chat.id });
    expect(refused.data).toBeUndefined();
    expect(errorsOf(refused).map((e) => e.message)).toEqual(["Syntax Error: Query depth limit of 15 exceeded, found 16."]);
    const deeper = await run(deepQuery(40), { id: chat.id });
    expect(errorsOf(deeper)[0]!.message).toContain("Query depth limit of 15 exceeded, found 40");
  });

  test("a mutation above the depth limit is refused and writes nothing", async () => {
    const before = await databaseFingerprint(db.prisma);
    // createChat 1, the inline fragment 2 (graphql-armor counts it), traces 3 … chat 14, traces 15, totalCount 16
    const response = await run(
      `mutation { createChat(input: {title: "deep"}) { ... on Chat { traces { edges { node { chat { traces { edges { node { chat { traces { edges { node { chat { traces { totalCount } } } } } } } } } } } } } } } }`,
    );
    expect(response.data).toBeUndefined();
    expect(errorsOf(response)[0]!.message).toMatch(/Query depth limit of 15 exceeded/);
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
  });

  test("introspection (GraphiQL's query) is not counted against the depth limit", async () => {
    const data = dataOf(await run(getIntrospectionQuery()));
    expect(data.__schema.queryType.name).toBe("Query");
  });
});

describe("overrides from the environment", () => {
  test("MAX_QUERY_DEPTH lowers and raises the depth limit", async () => {
    const low = await startTestApp(db, { listen: false, env: { MAX_QUERY_DEPTH: "5" } });
    const high = await startTestApp(db, { env: { MAX_QUERY_DEPTH: "20" } });
    try {
      expect(dataOf(await execute(low.app, deepQuery(5), { id: chat.id })).chat).toBeTruthy();
      expect(errorsOf(await execute(low.app, deepQuery(6), { id: chat.id }))[0]!.message).toContain("Query depth limit of 5 exceeded, found 6");
      expect(dataOf(await postOnNewConnection(high.graphqlUrl, deepQuery(20), { id: chat.id })).chat).toBeTruthy();
      expect(errorsOf(await postOnNewConnection(high.graphqlUrl, deepQuery(21), { id: chat.id }))[0]!.message).toContain("Query depth limit of 20 exceeded, found 21");
    } finally {
      await low.stop();
      await high.stop();
    }
  });

  test("MAX_PAGE_SIZE and DEFAULT_PAGE_SIZE set the page limits", async () => {
    const run = transports(() => t)[0]![1];
    const paged = await createChat(run, "paged");
    await recordTraces(run, Array.from({ length: 12 }, (_, i) => ({ chatId: paged.id, toolName: `t${i}` })));
    const app = await startTestApp(db, { listen: false, env: { MAX_PAGE_SIZE: "10", DEFAULT_PAGE_SIZE: "4" } });
    try {
      const page = (args: string) => execute(app.app, `query($id: ID!) { chat(id: $id) { traces${args} { edges { cursor } pageInfo { hasNextPage } } } }`, { id: paged.id });
      const byDefault = dataOf(await page(""));
      expect(byDefault.chat.traces.edges).toHaveLength(4);
      expect(byDefault.chat.traces.pageInfo.hasNextPage).toBe(true);
      expect(dataOf(await page("(first: 10)")).chat.traces.edges).toHaveLength(10);
      expect(codesOf(await page("(first: 11)"))).toEqual(["PAGE_SIZE_INVALID"]);
      expect(codesOf(await page("(last: 11)"))).toEqual(["PAGE_SIZE_INVALID"]);
    } finally {
      await app.stop();
    }
  });

  test("MAX_BATCH_ITEMS sets the batch limit of recordToolTraces", async () => {
    const run = transports(() => t)[0]![1];
    const batch = await createChat(run, "batch");
    const app = await startTestApp(db, { listen: false, env: { MAX_BATCH_ITEMS: "3" } });
    try {
      const record = (n: number) =>
        execute(app.app, `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { __typename ... on ValidationError { issues { path message } } } }`, {
          input: { items: Array.from({ length: n }, () => ({ chatId: batch.id, toolName: "x" })) },
        });
      expect(dataOf(await record(3)).recordToolTraces.__typename).toBe("RecordToolTracesPayload");
      expect(dataOf(await record(4)).recordToolTraces).toEqual({ __typename: "ValidationError", issues: [{ path: ["input", "items"], message: "holds 4 items; the limit is 3" }] });
      expect(await db.prisma.toolTrace.count({ where: { chatId: batch.uuid } })).toBe(3);
    } finally {
      await app.stop();
    }
  });
});
