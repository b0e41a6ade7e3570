// Every entry point refuses a request without a key (401, or 4403 on the WebSocket) and one whose
// key lacks the scope (403), and lets the right scope through. The entry points are enumerated, not
// listed: every root field of the executable schema, and every endpoint the app registered. A new
// query, mutation, subscription or endpoint is covered the day it is added.
import { GraphQLObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { scopeOfRootField } from "../../server/auth/operation-scopes.js";
import type { Scope } from "../../server/auth/scopes.js";
import type { Endpoint } from "../../server/http/routes.js";
import { schema } from "../../server/schema/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { postJson, rawRequest } from "../helpers/raw-http.js";
import { bearer, codesOf, errorsOf, firstOutcome, keyedWsClient, keysOf, operationFor, wrongKeyFor } from "./auth-helpers.js";

/** The endpoints anyone may call, and why. Any other endpoint must ask for a key. */
const PUBLIC_ENDPOINTS: Record<string, string> = {
  "/healthz": "liveness for load balancers and uptime checks: the database's state and migration count, no chat data",
  "/graphiql-assets/": "GraphiQL's own static JavaScript and CSS; its queries go to /graphql, which asks for a key",
  "/": "the dashboard's static files; its data comes through /graphql, which asks for a key",
};

let db: TestDatabase;
let t: TestApp;
let keys: Awaited<ReturnType<typeof keysOf>>;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { AUTH: "on" } });
  keys = await keysOf(t.app);
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

const rootFields = (kind: "query" | "mutation" | "subscription") => {
  const type = { query: schema.getQueryType(), mutation: schema.getMutationType(), subscription: schema.getSubscriptionType() }[kind] as GraphQLObjectType;
  return Object.values(type.getFields()).map((field) => ({ kind, field, scope: scopeOfRootField(kind, field.name), operation: operationFor(kind, field) }));
};

test("the enumeration finds the schema's root fields and the app's endpoints", () => {
  // A sanity floor, so that an empty enumeration cannot pass the tests below.
  expect(rootFields("query").length).toBeGreaterThanOrEqual(5);
  expect(rootFields("mutation").length).toBeGreaterThanOrEqual(14);
  expect(rootFields("subscription").length).toBeGreaterThanOrEqual(5);
  expect(t.app.endpoints.length).toBeGreaterThanOrEqual(5);
});

describe.each(["query", "mutation"] as const)("every %s root field over HTTP", (kind) => {
  test.each(rootFields(kind).map((f) => [f.field.name, f] as const))("%s", async (_name, { operation, scope }) => {
    const none = await postJson(t.graphqlUrl, { query: operation });
    expect(none.status, none.text).toBe(401);
    expect(codesOf(none.json.errors)).toEqual(["UNAUTHENTICATED"]);
    expect(none.json.data).toBeUndefined();

    const wrong = await postJson(t.graphqlUrl, { query: operation }, bearer(wrongKeyFor(keys, scope)));
    expect(wrong.status, wrong.text).toBe(403);
    expect(codesOf(wrong.json.errors)).toEqual(["FORBIDDEN"]);
    expect(wrong.json.errors[0].message).toContain(`lacks the ${scope} scope`);

    const right = await postJson(t.graphqlUrl, { query: operation }, bearer(keys[scope]));
    expect([401, 403], right.text).not.toContain(right.status);
    expect(codesOf(right.json.errors)).not.toContain("UNAUTHENTICATED");
    expect(codesOf(right.json.errors)).not.toContain("FORBIDDEN");
  });
});

describe("every subscription root field over the WebSocket", () => {
  test.each(rootFields("subscription").map((f) => [f.field.name, f] as const))("%s", async (_name, { operation, scope }) => {
    const none = await firstOutcome(keyedWsClient(t.wsUrl), operation);
    expect(none).toMatchObject({ kind: "closed", code: 4403 });

    const wrongClient = keyedWsClient(t.wsUrl, bearer(wrongKeyFor(keys, scope)));
    const wrong = await firstOutcome(wrongClient, operation);
    expect(wrong.kind).toBe("errors");
    expect(codesOf(errorsOf(wrong))).toEqual(["FORBIDDEN"]);
    await wrongClient.dispose();

    const rightClient = keyedWsClient(t.wsUrl, { apiKey: keys[scope] });
    const right = await firstOutcome(rightClient, operation);
    expect(right.kind, JSON.stringify(right)).not.toBe("closed");
    if (right.kind === "errors") expect(codesOf(right.errors).filter((c) => c === "FORBIDDEN" || c === "UNAUTHENTICATED")).toEqual([]);
    await rightClient.dispose();
  });

  test("queries and mutations over the WebSocket are checked the same way", async () => {
    const client = keyedWsClient(t.wsUrl, bearer(keys.read));
    const read = await firstOutcome(client, `{ chats(first: 1) { edges { cursor } } }`);
    expect(read.kind).toBe("data");
    const write = await firstOutcome(client, `mutation { createChat(input: { title: "refused" }) { __typename } }`);
    expect(write.kind).toBe("errors");
    expect(codesOf(errorsOf(write))).toEqual(["FORBIDDEN"]);
    expect(await db.prisma.chat.count({ where: { title: "refused" } })).toBe(0);
    await client.dispose();
  });
});

/** A request an endpoint would take: its first method, under its path (a prefix gets a sub-path). */
function requestFor(endpoint: Endpoint, headers: Record<string, string> = {}) {
  const method = endpoint.methods.includes("POST") ? "POST" : endpoint.methods[0]!;
  const path = endpoint.prefix ? `${endpoint.path}00000000-0000-4000-8000-000000000000` : endpoint.path;
  return rawRequest(`${t.url}${path}`, {
    method,
    headers: method === "POST" ? { "content-type": "application/json", ...headers } : headers,
    // The GraphQL endpoint gets an operation; the others an empty JSON object (their validation comes after the key).
    body: method === "POST" ? (endpoint.scope === "graphql" ? JSON.stringify({ query: "{ __typename }" }) : "{}") : undefined,
  });
}

describe("every HTTP endpoint the app registered", () => {
  test("the public ones are exactly those listed, each with its reason", () => {
    const open = t.app.endpoints.filter((e) => e.scope === "public").map((e) => e.path);
    expect(open.sort()).toEqual(Object.keys(PUBLIC_ENDPOINTS).sort());
  });

  const guarded = () => t.app.endpoints.filter((e) => e.scope !== "public");
  test("each guarded endpoint: no key 401, a key without its scope 403, its scope not refused", async () => {
    expect(guarded().length).toBeGreaterThanOrEqual(2);
    for (const endpoint of guarded()) {
      const what = `${endpoint.path} (${endpoint.scope ?? "no scope: admin"})`;
      const none = await requestFor(endpoint);
      expect(none.status, `${what}: ${none.text}`).toBe(401);
      expect(none.headers["www-authenticate"], what).toMatch(/^Bearer/);
      expect(codesOf(none.json?.errors), what).toEqual(["UNAUTHENTICATED"]);
      if (endpoint.scope === "graphql") continue; // its fields are checked one by one above

      const scope = (endpoint.scope ?? "admin") as Scope;
      const wrong = await requestFor(endpoint, bearer(wrongKeyFor(keys, scope)));
      expect(wrong.status, `${what}: ${wrong.text}`).toBe(403);
      expect(codesOf(wrong.json?.errors), what).toEqual(["FORBIDDEN"]);
      const right = await requestFor(endpoint, bearer(keys[scope]));
      expect([401, 403], `${what}: ${right.text}`).not.toContain(right.status);
    }
  });

  test("public endpoints answer without a key", async () => {
    for (const endpoint of t.app.endpoints.filter((e) => e.scope === "public")) {
      const response = await rawRequest(`${t.url}${endpoint.path}`);
      expect([401, 403], `${endpoint.path}: ${response.text}`).not.toContain(response.status);
    }
  });

  test("GraphiQL's page (GET /graphql for a browser) loads without a key; it runs no operation", async () => {
    const page = await rawRequest(t.graphqlUrl, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.text).toContain("Tracedeck GraphiQL");
    const query = await rawRequest(`${t.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`, { headers: { accept: "application/json" } });
    expect(query.status).toBe(401);
  });

  test("a bad key is refused like none, whatever it looks like; nothing is read or written", async () => {
    const before = await db.prisma.chat.count();
    const hook = t.app.endpoints.find((e) => e.path === "/hooks/claude-code")!;
    for (const authorization of ["Bearer td_" + "A".repeat(43), "Bearer not-a-key", "Basic dXNlcjpwYXNz", "td_" + "B".repeat(43)]) {
      const graphql = await postJson(t.graphqlUrl, { query: `mutation { createChat(input: {}) { __typename } }` }, { authorization });
      expect(graphql.status, authorization).toBe(401);
      const hooked = await requestFor(hook, { authorization });
      expect(hooked.status, authorization).toBe(401);
    }
    expect(await db.prisma.chat.count()).toBe(before);
  });
});

test("the right key writes: ingest through the hook endpoint and GraphQL, read reads it back", async () => {
  const session = "5f0c3a51-2b1e-4c4b-9a57-0d2f3e4c5b6a";
  const hook = await postJson(`${t.url}/hooks/claude-code`, { session_id: session, hook_event_name: "UserPromptSubmit", prompt: "hello", cwd: "/tmp", transcript_path: "/nonexistent.jsonl" }, bearer(keys.ingest));
  expect(hook.status, hook.text).toBe(204);
  const created = await postJson(t.graphqlUrl, { query: `mutation { createChat(input: { title: "by ingest" }) { ... on Chat { uuid } } }` }, bearer(keys.ingest));
  const uuid = created.json.data.createChat.uuid;
  const read = await postJson(t.graphqlUrl, { query: `{ chat(id: "${uuid}") { title } }` }, bearer(keys.read));
  expect(read.json).toEqual({ data: { chat: { title: "by ingest" } } });
  // admin holds every scope.
  const asAdmin = await postJson(t.graphqlUrl, { query: `{ chat(id: "${uuid}") { title } }` }, bearer(keys.admin));
  expect(asAdmin.json).toEqual({ data: { chat: { title: "by ingest" } } });
});
