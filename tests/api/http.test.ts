// GraphQL over real HTTP (issue 3, "Server" and "Limits"): spec GET for queries only, CSRF-safe POST
// content types, the body limit enforced before parsing, and GraphiQL served from local files.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { type ChatIds, createChat, transports } from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;
/** The same database behind a 2,048-byte body limit. */
let small: TestApp;
let chat: ChatIds;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  small = await startTestApp(db, { env: { MAX_BODY_BYTES: "2048" } });
  chat = await createChat(transports(() => t)[0]![1], "http");
});
afterAll(async () => {
  await small?.stop();
  await t?.stop();
  await db?.destroy();
});

const CREATE = `mutation { createChat(input: {title: "should not exist"}) { __typename } }`;

/** Runs `send` and asserts the database is exactly as before. */
async function writesNothing<T>(send: () => Promise<T>): Promise<T> {
  const before = await databaseFingerprint(db.prisma);
  const result = await send();
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  return result;
}

const getUrl = (base: string, params: Record<string, string>) => `${base}?${new URLSearchParams(params)}`;

describe("GET", () => {
  test("a query over GET, per the GraphQL-over-HTTP spec, with variables and operationName", async () => {
    const url = getUrl(t.graphqlUrl, {
      query: `query One($id: ID!) { chat(id: $id) { uuid title } } query Two { chats(first: 1) { edges { cursor } } }`,
      variables: JSON.stringify({ id: chat.id }),
      operationName: "One",
    });
    for (const accept of ["application/graphql-response+json", "application/json"]) {
      const response = await fetch(url, { headers: { accept } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain(accept);
      expect(await response.json()).toEqual({ data: { chat: { uuid: chat.uuid, title: "http" } } });
    }
  });

  test("curl's plain GET (no accept header, no CSRF header) works", async () => {
    const response = await fetch(getUrl(t.graphqlUrl, { query: `{ chat(id: "${chat.uuid}") { title } }` }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { chat: { title: "http" } } });
  });

  test("a mutation over GET is refused (405, POST allowed) and writes nothing", async () => {
    const response = await writesNothing(() => fetch(getUrl(t.graphqlUrl, { query: CREATE }), { headers: { accept: "application/graphql-response+json" } }));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toContain("POST");
    const body = await response.json();
    expect(body.data).toBeUndefined();
    expect(body.errors[0].message).toMatch(/mutation/i);
  });
});

describe("POST content types (CSRF: no simple cross-site requests)", () => {
  test("application/json (with or without a charset) is accepted", async () => {
    for (const type of ["application/json", "application/json; charset=utf-8"]) {
      const response = await fetch(t.graphqlUrl, { method: "POST", headers: { "content-type": type }, body: JSON.stringify({ query: `{ chat(id: "${chat.id}") { uuid } }` }) });
      expect(response.status).toBe(200);
      expect((await response.json()).data.chat.uuid).toBe(chat.uuid);
    }
  });

  const mutation = JSON.stringify({ query: CREATE });
  const multipart = () => {
    const form = new FormData();
    form.set("operations", mutation);
    form.set("map", "{}");
    return form;
  };
  test.each([
    ["text/plain", () => ({ headers: { "content-type": "text/plain" }, body: mutation })],
    ["text/plain with a charset", () => ({ headers: { "content-type": "text/plain;charset=UTF-8" }, body: mutation })],
    ["application/x-www-form-urlencoded", () => ({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ query: CREATE }).toString() })],
    ["multipart/form-data", () => ({ body: multipart() })],
    ["no content type", () => ({ body: new TextEncoder().encode(mutation) })],
  ])("%s is refused with 415 and writes nothing", async (_label, init) => {
    const response = await writesNothing(() => fetch(t.graphqlUrl, { method: "POST", ...init() }));
    expect(response.status).toBe(415);
    const body = await response.json();
    expect(body.errors[0].message).toContain("application/json");
  });
});

describe("body limit (MAX_BODY_BYTES=2048)", () => {
  /** A createChat mutation padded with whitespace to exactly `bytes` bytes of JSON. */
  const paddedMutation = (title: string, bytes: number) => {
    const body = JSON.stringify({ query: `mutation { createChat(input: {title: "${title}"}) { __typename } }` });
    return `${body.slice(0, -1)}${" ".repeat(bytes - body.length)}}`;
  };

  test("a body of 2,048 bytes is read and runs", async () => {
    const body = paddedMutation("just fits", 2048);
    expect(Buffer.byteLength(body)).toBe(2048);
    const response = await fetch(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(200);
    expect((await response.json()).data.createChat.__typename).toBe("Chat");
    expect(await db.prisma.chat.count({ where: { title: "just fits" } })).toBe(1);
  });

  test("a body of 2,049 bytes gets 413 and writes nothing", async () => {
    const body = paddedMutation("too big", 2049);
    const response = await writesNothing(() => fetch(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body }));
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].message).toMatch(/2048/);
  });

  test("a body far above the limit (1 MB) gets its 413 too, not a reset connection", async () => {
    const body = paddedMutation("far too big", 1_000_000);
    const response = await writesNothing(() => fetch(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body }));
    expect(response.status).toBe(413);
  });

  test("an oversized body that is not even JSON gets 413, not a parse error: the limit comes first", async () => {
    const response = await fetch(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{".repeat(10_000) });
    expect(response.status).toBe(413);
    // The same malformed body under the limit is a parse error: it was not refused for its content above.
    const under = await fetch(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{".repeat(100) });
    expect(under.status).toBe(400);
  });

  test("a chunked body without Content-Length is cut off at the limit with 413", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      const body = paddedMutation("chunked", 6000);
      for (let i = 0; i < body.length; i += 1000) req.write(body.slice(i, i + 1000));
      req.end();
    });
    expect(status).toBe(413);
    expect(await db.prisma.chat.count({ where: { title: "chunked" } })).toBe(0);
    // The server is still fine afterwards.
    const after = await fetch(small.graphqlUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    expect(after.status).toBe(200);
  });
});

describe("GraphiQL", () => {
  async function page(): Promise<{ html: string; response: Response }> {
    const response = await fetch(t.graphqlUrl, { headers: { accept: "text/html" } });
    return { html: await response.text(), response };
  }

  test("GET /graphql from a browser is the GraphiQL page, with subscriptions over WebSocket", async () => {
    const { html, response } = await page();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const config = html.match(/renderYogaGraphiQL\(root, (\{.*\})\);/)?.[1];
    expect(config, "the page renders GraphiQL with a config object").toBeTruthy();
    expect(JSON.parse(config!)).toMatchObject({ subscriptionsProtocol: "WS", title: "Tracedeck GraphiQL" });
  });

  test("every script, style and worker the page loads is local, and each is served with its type", async () => {
    const { html } = await page();
    const attributes = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    const workers = Object.values(JSON.parse(html.match(/const workerUrls = (\{.*?\});/)![1]!)) as string[];
    const urls = [...attributes, ...workers];
    expect(attributes.length).toBeGreaterThanOrEqual(2); // the stylesheet and the script
    expect(workers.length).toBeGreaterThanOrEqual(3); // Monaco's editor, JSON and GraphQL workers
    for (const url of urls) expect(url).toMatch(/^\/graphiql-assets\/[\w./-]+$/);
    // No CDN anywhere in the page.
    expect(html).not.toMatch(/(?:https?:)?\/\/(?:unpkg|cdn|esm\.sh|fonts\.)/);
    for (const url of new Set(urls)) {
      const response = await fetch(new URL(url, t.url));
      expect(response.status, url).toBe(200);
      const type = response.headers.get("content-type") ?? "";
      expect(type, url).toMatch(url.endsWith(".css") ? /^text\/css/ : /^(?:text|application)\/javascript/);
      expect((await response.arrayBuffer()).byteLength, url).toBeGreaterThan(100);
    }
  });

  test("only GraphiQL's own files are served from /graphiql-assets/", async () => {
    // Raw paths: fetch would normalise the dot segments away before sending them.
    const rawGet = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(t.url, { path, method: "GET" }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await rawGet("/graphiql-assets/graphiql.css")).toBe(200);
    for (const path of ["/graphiql-assets/nope.js", "/graphiql-assets/../package.json", "/graphiql-assets/../../package.json", "/graphiql-assets/%2e%2e/package.json", "/graphiql-assets/yoga-graphiql.es.js"]) {
      expect(await rawGet(path), path).toBe(404);
    }
  });

  test("/ is the dashboard now, not a redirect (tests/api/dashboard.test.ts covers it)", async () => {
    const response = await fetch(`${t.url}/`, { redirect: "manual" });
    // 200 with web/dist built, 503 "run npm run build" without it.
    expect([200, 503]).toContain(response.status);
    expect(response.headers.get("location")).toBeNull();
  });
});
