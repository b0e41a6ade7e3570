// Operations refused for their cost before anything runs: aliases, tokens, directives, complexity
// (page sizes multiply), depth, and documents nested deep enough to exhaust a recursive parser. A
// refusal is a 400, or a 200 with errors and no data; never a 500; and it writes nothing.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { badInputCase, errorsOfBody, expectHealthy, type Harness, postGraphQL, type RawResponse, startHarness, stopHarness } from "./harness.js";

let h: Harness;
let chatId: string;

beforeAll(async () => {
  h = await startHarness();
  const created = await postGraphQL(h.t.url, { query: `mutation { createChat(input: {title: "bad-input cost"}) { ... on Chat { id } } }` });
  chatId = created.json.data.createChat.id;
  const recorded = await postGraphQL(h.t.url, {
    query: `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { __typename } }`,
    variables: { input: { items: [{ chatId, toolName: "ls" }, { chatId, toolName: "cat" }] } },
  });
  expect(recorded.json.data.recordToolTraces.__typename).toBe("RecordToolTracesPayload");
});
afterAll(async () => {
  await stopHarness(h);
});

/** Refused before it ran: 400 (or 200 with errors), no data, and an error message naming the limit. */
function expectCostRefusal(response: RawResponse, names: RegExp): void {
  expect.soft([200, 400], `status (body: ${response.text.slice(0, 300)})`).toContain(response.status);
  const errors = errorsOfBody(response);
  expect(response.json.data ?? null, `no data: ${response.text.slice(0, 300)}`).toBeNull();
  expect(
    errors.some((e) => names.test(e.message)),
    `an error names the limit (${names}): ${JSON.stringify(errors.map((e) => e.message)).slice(0, 500)}`,
  ).toBe(true);
}

const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ");
const BIG_PAGE = `chats(first: 500) { edges { node { stats { traceCount } } } }`;

/**
 * A legal query `depth` fields deep through chat → traces → edges → node → chat (as in tests/api/limits),
 * one trace a page so that only its depth, not its cost, can be what refuses it.
 */
function deepQuery(depth: number): string {
  const after = ["chat", "traces(first: 1)", "edges", "node"];
  const leafOf: Record<string, string> = { chat: "uuid", "traces(first: 1)": "totalCount", edges: "cursor", node: "toolName" };
  const fields = Array.from({ length: depth - 1 }, (_, i) => (i === 0 ? "chat(id: $id)" : after[i % 4]!));
  const leaf = leafOf[after[(depth - 2) % 4]!]!;
  return `query Deep($id: ID!) ${fields.map((f) => `{ ${f} `).join("")}{ ${leaf} }${" }".repeat(fields.length)}`;
}

/** The same depth reached through a chain of named fragments, one level each. */
function deepFragments(levels: number): string {
  const fragments: string[] = [];
  for (let i = 0; i < levels; i++) {
    const next = i + 1 < levels ? `...F${i + 1}` : "uuid";
    fragments.push(i % 2 === 0 ? `fragment F${i} on Chat { traces(first: 1) { edges { node { chat { ${next} } } } } }` : `fragment F${i} on Chat { title ${next} }`);
  }
  return `query($id: ID!) { chat(id: $id) { ...F0 } } ${fragments.join(" ")}`;
}

/** A JSON literal `depth` lists deep. */
const deepList = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

describe("controls (not counted)", () => {
  test("one page of 500 chats, 15 aliases of __typename, and a query 15 deep are served", async () => {
    const page = await postGraphQL(h.t.url, { query: `{ chats(first: 500) { edges { node { title } } } }` });
    expect(page.status, page.text).toBe(200);
    expect(page.json.errors).toBeUndefined();
    expect(page.json.data.chats.edges.length).toBeGreaterThan(0);
    const fifteen = await postGraphQL(h.t.url, { query: `{ ${aliases(15, "__typename")} }` });
    expect(fifteen.status, fifteen.text).toBe(200);
    expect(Object.keys(fifteen.json.data)).toHaveLength(15);
    const deep = await postGraphQL(h.t.url, { query: deepQuery(15), variables: { id: chatId } });
    expect(deep.status, deep.text).toBe(200);
    expect(deep.json.errors).toBeUndefined();
  });
});

describe("refused before execution, naming the limit", () => {
  const cases: [string, () => Record<string, unknown>, RegExp][] = [
    // graphql-armor leaves __typename out of the alias count: it costs nothing to answer.
    ["50 aliases of a one-chat page", () => ({ query: `{ ${aliases(50, "chats(first: 1) { pageInfo { hasNextPage } }")} }` }), /alias/i],
    ["16 aliases of a one-chat page (one over the limit)", () => ({ query: `{ ${aliases(16, "chats(first: 1) { pageInfo { hasNextPage } }")} }` }), /alias/i],
    // 2,000 of these are also ~40,000 tokens: a refusal naming either limit is a refusal before parsing finished.
    ["2,000 aliases of chats(first: 500) with stats", () => ({ query: `{ ${aliases(2000, BIG_PAGE)} }` }), /alias|token/i],
    ["50 aliased createChat mutations (nothing may run)", () => ({ query: `mutation { ${aliases(50, `createChat(input: {title: "alias"}) { __typename }`)} }` }), /alias/i],
    ["a document of 50,000 tokens", () => ({ query: `{ ${"__typename ".repeat(50_000)}}` }), /token/i],
    ["a mutation of 50,000 tokens (nothing may run)", () => ({ query: `mutation { createChat(input: {title: "tokens"}) { __typename ${"__typename ".repeat(50_000)}} }` }), /token/i],
    ["100 @include(if: true) on one field", () => ({ query: `{ __typename ${"@include(if: true) ".repeat(100)}}` }), /directive/i],
    ["100 @skip(if: false) on a mutation field (nothing may run)", () => ({ query: `mutation { createChat(input: {title: "directives"}) ${"@skip(if: false) ".repeat(100)}{ __typename } }` }), /directive/i],
    // One directive per inline fragment: no location repeats one, so only a directive limit refuses it.
    ["100 inline fragments with one @include each", () => ({ query: `{ ${"... @include(if: true) { __typename } ".repeat(100)}}` }), /directive/i],
    [
      "a createChat beside 100 inline fragments with one @include each (nothing may run)",
      () => ({ query: `mutation { createChat(input: {title: "directives"}) { __typename } ${"... @include(if: true) { __typename } ".repeat(100)}}` }),
      /directive/i,
    ],
    ["15 aliases of chats(first: 500) with stats: complexity multiplies by page size", () => ({ query: `{ ${aliases(15, BIG_PAGE)} }` }), /complexity/i],
    ["500 chats × 500 traces each", () => ({ query: `{ chats(first: 500) { edges { node { traces(first: 500) { edges { node { toolName } } } } } } }` }), /complexity/i],
    [
      "a createChat whose selection pages 500 × 500 traces (nothing may run)",
      () => ({ query: `mutation { createChat(input: {title: "complex"}) { ... on Chat { traces(first: 500) { edges { node { chat { traces(first: 500) { edges { node { toolName } } } } } } } } } }` }),
      /complexity/i,
    ],
    ["a query 16 deep", () => ({ query: deepQuery(16), variables: { id: chatId } }), /depth/i],
    ["a query 40 deep", () => ({ query: deepQuery(40), variables: { id: chatId } }), /depth/i],
    ["a query 18 deep through a chain of fragments", () => ({ query: deepFragments(8), variables: { id: chatId } }), /depth/i],
  ];
  test.each(cases)("%s", async (_label, payload, names) => {
    const response = await badInputCase(h, () => postGraphQL(h.t.url, payload()));
    expectCostRefusal(response, names);
  });
});

describe("documents nested deep enough to exhaust a recursive parser: 400 with errors, never 500", () => {
  const cases: [string, () => Record<string, unknown>][] = [
    ["50,000 opening braces", () => ({ query: "{".repeat(50_000) })],
    ["50,000 balanced braces around one field", () => ({ query: `${"{".repeat(25_000)}__typename${"}".repeat(25_000)}` })],
    ["a toolInput literal 20,000 lists deep", () => ({ query: `mutation { startToolTrace(input: {chatId: "${chatId}", toolName: "x", toolInput: ${deepList(20_000)}}) { __typename } }` })],
    [
      "a toolInput literal 20,000 objects deep",
      () => ({ query: `mutation { startToolTrace(input: {chatId: "${chatId}", toolName: "x", toolInput: ${"{a: ".repeat(20_000)}1${"}".repeat(20_000)}}) { __typename } }` }),
    ],
    ["an argument 20,000 lists deep: nodes(ids: [[[…]]])", () => ({ query: `{ nodes(ids: ${deepList(20_000)}) { id } }` })],
  ];
  test.each(cases)("%s", async (_label, payload) => {
    const response = await badInputCase(h, () => postGraphQL(h.t.url, payload()));
    expect.soft(response.status, `status (body: ${response.text.slice(0, 300)})`).toBe(400);
    errorsOfBody(response);
    expect(response.json.data ?? null).toBeNull();
  });
});

test("the server is healthy at the end of the file", async () => {
  await expectHealthy(h.t, false);
});
