// The complexity limit with validation cached per document (http/operation-limits.ts): a document
// priced once is priced per operation asked for, so a cheap operation of a document does not let
// its expensive sibling through; a page size given as a variable is priced on every request.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let t: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

async function run(query: string, operationName?: string, variables?: Record<string, unknown>) {
  const res = await fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, operationName, variables }) });
  return (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}
const codes = (r: Awaited<ReturnType<typeof run>>) => (r.errors ?? []).map((e) => e.extensions?.code);

test("a cheap operation of a document does not let its expensive sibling past the limit", async () => {
  const doc = `query Cheap { __typename }
    query Big { chats(first: 500) { edges { node { traces(first: 500) { edges { node { id toolName } } } } } } }`;
  expect(codes(await run(doc, "Big"))).toEqual(["QUERY_COMPLEXITY"]);
  expect(await run(doc, "Cheap")).toEqual({ data: { __typename: "Query" } });
  expect(codes(await run(doc, "Big"))).toEqual(["QUERY_COMPLEXITY"]);
});

test("a page size given as a variable is priced on every request", async () => {
  const doc = `query($n: Int!) { chats(first: $n) { edges { node { traces(first: $n) { edges { node { id } } } } } } }`;
  expect(codes(await run(doc, undefined, { n: 2 }))).toEqual([]);
  expect(codes(await run(doc, undefined, { n: 500 }))).toEqual(["QUERY_COMPLEXITY"]);
  expect(codes(await run(doc, undefined, { n: 2 }))).toEqual([]);
});
