// Defect 5: with the database unreachable, requests get a typed, retryable DATABASE_UNAVAILABLE
// and HTTP 503, never a masked "Unexpected error.". The app runs on a real PostgreSQL client
// pointed at a port nobody listens on; tests/fault takes a real server down and up.
import { afterAll, beforeAll, expect, test } from "vitest";
import { type App, buildApp } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { type Database, openDatabase, setPrisma } from "../../server/db/client.js";
import { subscribe, wsClient } from "../helpers/app.js";
import { recordingLogger } from "../helpers/graphql-fixtures.js";
import { postJson, rawRequest } from "../helpers/raw-http.js";

let db: Database;
let app: App;
let url: string;
const logged = recordingLogger();

beforeAll(async () => {
  db = await openDatabase({ databaseUrl: "postgresql://postgres:s3cretpw@127.0.0.1:1/tracedeck", dataDir: "" });
  setPrisma(db.prisma);
  app = buildApp({ config: loadConfig({ PORT: "0" }), db, log: logged.log });
  url = await app.start(0);
});
afterAll(async () => {
  await app?.stop();
  await db?.close();
});

const UUID = "00000000-0000-4000-8000-000000000001";

test.each([
  ["a query", "{ chats(first: 5) { edges { node { title } } } }"],
  ["a node", `{ chat(id: "${UUID}") { title } }`],
  ["a mutation", 'mutation { createChat(input: { title: "x" }) { __typename } }'],
  ["a trace start", `mutation { startToolTrace(input: { chatId: "${UUID}", toolName: "ls" }) { __typename } }`],
])("%s: 503, DATABASE_UNAVAILABLE, Retry-After, no secret", async (_name, query) => {
  const response = await postJson(`${url}/graphql`, { query }, { accept: "application/graphql-response+json" });
  expect(response.status).toBe(503);
  expect(response.headers["retry-after"]).toBe("1");
  expect(response.json.errors[0]).toMatchObject({ message: "The database is unavailable; retry shortly", extensions: { code: "DATABASE_UNAVAILABLE", retryable: true } });
  expect(response.text).not.toMatch(/s3cretpw|127\.0\.0\.1:1|Unexpected error/);
});

test("a query that needs no database is still served", async () => {
  const response = await postJson(`${url}/graphql`, { query: "{ __typename }" });
  expect(response).toMatchObject({ status: 200, json: { data: { __typename: "Query" } } });
});

test("/healthz says 503; the log names the failure without the password", async () => {
  expect((await rawRequest(`${url}/healthz`)).status).toBe(503);
  const lines = JSON.stringify(logged.records);
  expect(lines).toContain("graphql.database_error");
  expect(lines).not.toContain("s3cretpw");
  expect(logged.records.filter((r) => r.level === "error")).toEqual([]);
});

test("a subscription that cannot open gets DATABASE_UNAVAILABLE, over WebSocket", async () => {
  const client = wsClient(`${url.replace("http", "ws")}/graphql`);
  const sub = subscribe(client, `subscription { chatEvents(chatId: "${UUID}") { __typename } }`);
  const [first] = await sub.until((items) => items.length > 0, 10_000);
  expect(first!.errors?.[0]?.extensions?.code).toBe("DATABASE_UNAVAILABLE");
  await client.dispose();
});
