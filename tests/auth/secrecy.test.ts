// A key never reaches the server's log: a real server process at LOG_LEVEL=debug, started with a
// bootstrap key, is sent keys every way there is (good, lacking a scope, malformed, unknown; HTTP,
// the hook endpoint, the WebSocket), and its whole output is searched for them. Also: when auth is
// on and off, and the configuration that refuses AUTH=off beyond loopback.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { authEnabled } from "../../server/auth/mode.js";
import { ConfigError, loadConfig } from "../../server/config.js";
import { createLogger } from "../../server/logger.js";
import { startTestApp } from "../helpers/app.js";
import { createTestDatabase } from "../helpers/db.js";
import { postJson } from "../helpers/raw-http.js";
import { spawnServer, type SpawnedServer } from "../helpers/server-process.js";
import { bearer, firstOutcome, keyedWsClient } from "./auth-helpers.js";

const BOOTSTRAP = `td_${"K3y".repeat(14)}x`;
let work: string;
let server: SpawnedServer;
let url: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tracedeck-secrecy-"));
  cpSync(inject("pgliteTemplateDir"), join(work, "data"), { recursive: true });
  server = spawnServer({ DATA_DIR: join(work, "data"), AUTH: "on", LOG_LEVEL: "debug", TRACEDECK_BOOTSTRAP_KEY: BOOTSTRAP });
  url = await server.listening;
});
afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the bootstrap key becomes an admin key; no request carrying a key puts it in the log", async () => {
  const graphql = `${url}/graphql`;
  const created = await postJson(graphql, { query: `mutation { createApiKey(input: { name: "reader", scopes: [read] }) { ... on CreatedApiKey { key } } }` }, bearer(BOOTSTRAP));
  expect(created.status, created.text).toBe(200);
  const reader: string = created.json.data.createApiKey.key;
  const malformed = `td_${"m".repeat(30)}`;
  const unknown = `td_${"u".repeat(43)}`;

  // HTTP: good, lacking a scope, malformed, unknown, and in an Authorization header that is not Bearer.
  expect((await postJson(graphql, { query: "{ chats(first: 1) { edges { cursor } } }" }, bearer(reader))).status).toBe(200);
  expect((await postJson(graphql, { query: `mutation { createChat(input: {}) { __typename } }` }, bearer(reader))).status).toBe(403);
  expect((await postJson(graphql, { query: "{ __typename }" }, bearer(malformed))).status).toBe(401);
  expect((await postJson(graphql, { query: "{ __typename }" }, bearer(unknown))).status).toBe(401);
  expect((await postJson(graphql, { query: "{ __typename }" }, { authorization: unknown })).status).toBe(401);
  expect((await postJson(graphql, { query: "{ syntax error" }, bearer(reader))).json.errors[0].extensions.code).toBe("GRAPHQL_PARSE_FAILED");
  // The hook endpoint.
  expect((await postJson(`${url}/hooks/claude-code`, { hook_event_name: "Stop" }, bearer(reader))).status).toBe(403);
  expect((await postJson(`${url}/hooks/claude-code`, { hook_event_name: "Stop" }, bearer(unknown))).status).toBe(401);
  expect((await postJson(`${url}/hooks/claude-code`, { hook_event_name: "nonsense" }, bearer(BOOTSTRAP))).status).toBe(400);
  // The WebSocket: accepted with operation errors (a bad document, a missing scope), and refused.
  const ws = `${url.replace(/^http/, "ws")}/graphql`;
  const client = keyedWsClient(ws, bearer(reader));
  expect((await firstOutcome(client, "subscription { chatsActivity { kind ")).kind).toBe("errors");
  expect((await firstOutcome(client, `mutation { deleteChat(id: "00000000-0000-4000-8000-000000000000") { __typename } }`)).kind).toBe("errors");
  await client.dispose();
  expect(await firstOutcome(keyedWsClient(ws, { apiKey: unknown }), "{ __typename }")).toMatchObject({ kind: "closed", code: 4403 });
  expect(await firstOutcome(keyedWsClient(ws, { authorization: `Bearer ${malformed}` }), "{ __typename }")).toMatchObject({ kind: "closed", code: 4403 });

  await server.waitForLine((line) => line.msg === "graphql_ws.auth_refused");
  const log = server.output();
  expect(log).toContain('"msg":"auth.bootstrap_key_stored"');
  expect(log).toContain('"msg":"auth: on (API keys required)"');
  expect(log).toContain('"msg":"graphql_ws.operation_errors"');
  for (const key of [BOOTSTRAP, reader, malformed, unknown]) {
    expect(log).not.toContain(key);
    expect(log).not.toContain(key.slice(11, 30));
  }
});

describe("when keys are required", () => {
  const env = (vars: Record<string, string>) => loadConfig({ ...vars });
  test("auto: off on loopback, on beyond it; on: everywhere; off beyond loopback is a configuration error naming AUTH", () => {
    expect(authEnabled(env({}))).toBe(false);
    expect(authEnabled(env({ HOST: "::1" }))).toBe(false);
    expect(authEnabled(env({ AUTH: "on" }))).toBe(true);
    expect(authEnabled(env({ AUTH: "off" }))).toBe(false);
    expect(authEnabled(env({ HOST: "0.0.0.0", ALLOWED_HOSTS: "tracedeck.example" }))).toBe(true);
    expect(() => env({ HOST: "0.0.0.0", ALLOWED_HOSTS: "tracedeck.example", AUTH: "off" })).toThrow(ConfigError);
    expect(() => env({ HOST: "0.0.0.0", ALLOWED_HOSTS: "tracedeck.example", AUTH: "off" })).toThrow(/AUTH="off": is off, but the server listens beyond loopback \(HOST=0\.0\.0\.0\)/);
    expect(() => env({ AUTH: "maybe" })).toThrow(/AUTH="maybe": must be auto, on or off/);
    expect(env({ WS_AUTH_RECHECK_SECONDS: "1" }).WS_AUTH_RECHECK_SECONDS).toBe(1);
    expect(env({}).WS_AUTH_RECHECK_SECONDS).toBe(30);
  });

  test("a malformed TRACEDECK_BOOTSTRAP_KEY is refused without echoing it", () => {
    const attempt = () => env({ TRACEDECK_BOOTSTRAP_KEY: "hunter2-secret" });
    expect(attempt).toThrow(/TRACEDECK_BOOTSTRAP_KEY: must be td_ followed by 43 to 128 base64url characters/);
    expect(attempt).not.toThrow(/hunter2/);
  });

  test("a loopback start without AUTH says in one line that auth is off, and nothing asks for a key", async () => {
    const db = await createTestDatabase();
    const lines: string[] = [];
    const t = await startTestApp(db, { log: createLogger("info", (line) => lines.push(line)) });
    try {
      expect(lines.filter((l) => l.includes('"msg":"auth: off (loopback only); set AUTH=on to require API keys"'))).toHaveLength(1);
      expect(t.app.auth.enabled).toBe(false);
      const response = await postJson(t.graphqlUrl, { query: `mutation { createChat(input: { title: "open" }) { __typename } }` });
      expect(response.status).toBe(200);
      expect(response.json.data.createChat.__typename).toBe("Chat");
      // A key sent anyway is not looked at.
      expect((await postJson(t.graphqlUrl, { query: "{ __typename }" }, bearer("td_whatever"))).status).toBe(200);
    } finally {
      await t.stop();
      await db.destroy();
    }
  });
});
