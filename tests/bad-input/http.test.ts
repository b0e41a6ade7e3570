// Bad input over raw HTTP: refused Host names (DNS rebinding) on every path and method, the POST
// guard (content types a browser sends cross-site without a preflight, foreign Origins), the body
// limit with and without compression, and request bodies Yoga cannot use. Each case: the exact
// status and code, nothing written, and /healthz still 200 afterwards.
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { startTestApp } from "../helpers/app.js";
import {
  badInputCase,
  CREATE_CHAT,
  errorsOfBody,
  expectHealthy,
  expectRefusal,
  expectRequestError,
  GQL_ACCEPT,
  type Harness,
  postGraphQL,
  rawRequest,
  type RawHeaders,
  type RawRequest,
  startHarness,
  stopHarness,
} from "./harness.js";

let h: Harness;
/** The same database behind MAX_BODY_BYTES=65536. */
let small: TestApp;
let chatId: string;

beforeAll(async () => {
  h = await startHarness();
  small = await startTestApp(h.db, { env: { MAX_BODY_BYTES: "65536" } });
  const created = await postGraphQL(h.t.url, { query: `mutation { createChat(input: {title: "bad-input http"}) { ... on Chat { id } } }` });
  chatId = created.json.data.createChat.id;
});
afterAll(async () => {
  await stopHarness(h, small);
});

const port = () => Number(new URL(h.t.url).port);
const own = () => `127.0.0.1:${port()}`;
const JSON_HEADERS = { "content-type": "application/json", accept: GQL_ACCEPT };
const createBody = JSON.stringify({ query: CREATE_CHAT });

describe("accepted Host names (controls, not counted)", () => {
  test.each([
    ["127.0.0.1:PORT", () => own()],
    ["localhost:PORT", () => `localhost:${port()}`],
    ["[::1]:PORT", () => `[::1]:${port()}`],
    ["127.0.0.1", () => "127.0.0.1"],
    ["localhost", () => "localhost"],
  ])("Host %s is answered", async (_label, host) => {
    const response = await rawRequest(h.t.url, { path: "/healthz", headers: { host: host() } });
    expect(response.status).toBe(200);
    const query = await postGraphQL(h.t.url, { query: "{ __typename }" }, { host: host() });
    expect(query.status).toBe(200);
    expect(query.json).toEqual({ data: { __typename: "Query" } });
  });
});

describe("refused Host: 403 HOST_NOT_ALLOWED on every path and method, before any work", () => {
  /** [label, request]: a mutation where the method takes a body, so a refusal that ran it would show. */
  const cases: [string, () => RawRequest][] = [
    ["POST /graphql mutation, Host rebind.example:PORT", () => ({ method: "POST", path: "/graphql", headers: { host: `rebind.example:${port()}`, ...JSON_HEADERS }, body: createBody })],
    ["POST /graphql mutation, Host evil.com", () => ({ method: "POST", path: "/graphql", headers: { host: "evil.com", ...JSON_HEADERS }, body: createBody })],
    ["POST /graphql mutation, Host 127.0.0.1.evil.com", () => ({ method: "POST", path: "/graphql", headers: { host: "127.0.0.1.evil.com", ...JSON_HEADERS }, body: createBody })],
    ["GET /healthz, Host localhost.evil.com:PORT", () => ({ path: "/healthz", headers: { host: `localhost.evil.com:${port()}` } })],
    ["GET /, Host 10.0.0.1", () => ({ path: "/", headers: { host: "10.0.0.1" } })],
    ["GET /graphql (GraphiQL page), empty Host", () => ({ path: "/graphql", headers: { host: "", accept: "text/html" } })],
    ["GET /graphiql-assets/graphiql.css, Host evil.com:PORT", () => ({ path: "/graphiql-assets/graphiql.css", headers: { host: `evil.com:${port()}` } })],
    ["POST /graphql mutation, Host with userinfo user@127.0.0.1:PORT", () => ({ method: "POST", path: "/graphql", headers: { host: `user@${own()}`, ...JSON_HEADERS }, body: createBody })],
    ["GET /healthz, Host with a path 127.0.0.1:PORT/x", () => ({ path: "/healthz", headers: { host: `${own()}/x` } })],
    ["POST /graphql mutation, Host duplicated (own name, then evil.com)", () => ({ method: "POST", path: "/graphql", headers: { host: [own(), "evil.com"], ...JSON_HEADERS }, body: createBody })],
    ["GET query over /graphql?query=, Host evil.com", () => ({ path: `/graphql?query=${encodeURIComponent("{ __typename }")}`, headers: { host: "evil.com", accept: GQL_ACCEPT } })],
    ["PUT /graphql, Host evil.com", () => ({ method: "PUT", path: "/graphql", headers: { host: "evil.com", ...JSON_HEADERS }, body: createBody })],
    ["DELETE /healthz, Host evil.com", () => ({ method: "DELETE", path: "/healthz", headers: { host: "evil.com" } })],
    ["OPTIONS /graphql preflight, Host evil.com", () => ({ method: "OPTIONS", path: "/graphql", headers: { host: "evil.com", origin: "http://evil.com", "access-control-request-method": "POST" } })],
    ["GET an unknown (future) path, Host evil.com", () => ({ path: "/api/v2/anything", headers: { host: "evil.com" } })],
    ["POST /graphql mutation, Host 127.0.0.2.evil.com:PORT with an allowed Origin", () => ({ method: "POST", path: "/graphql", headers: { host: `127.0.0.2.evil.com:${port()}`, origin: `http://${own()}`, ...JSON_HEADERS }, body: createBody })],
  ];
  test.each(cases)("%s", async (_label, make) => {
    const response = await badInputCase(h, () => rawRequest(h.t.url, make()));
    expectRefusal(response, 403, "HOST_NOT_ALLOWED");
  });

  test("no Host header at all: Node's parser answers 400 itself; nothing written", async () => {
    const response = await badInputCase(h, () => rawRequest(h.t.url, { method: "POST", path: "/graphql", headers: { host: undefined, ...JSON_HEADERS }, body: createBody }));
    expect(response.status).toBe(400);
  });
});

describe("POST guard: content types a browser sends without a preflight get 415 UNSUPPORTED_MEDIA_TYPE", () => {
  const cases: [string, RawHeaders, () => string][] = [
    ["no Content-Type", {}, () => createBody],
    ["application/x-www-form-urlencoded", { "content-type": "application/x-www-form-urlencoded" }, () => new URLSearchParams({ query: CREATE_CHAT }).toString()],
    [
      "multipart/form-data with a boundary",
      { "content-type": "multipart/form-data; boundary=XyZ" },
      () => `--XyZ\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${createBody}\r\n--XyZ\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--XyZ--\r\n`,
    ],
    ["text/plain", { "content-type": "text/plain" }, () => createBody],
    ["TEXT/PLAIN; charset=UTF-8 (any case, with parameters)", { "content-type": "TEXT/PLAIN; charset=UTF-8" }, () => createBody],
    ["Application/X-WWW-Form-Urlencoded;charset=utf-8", { "content-type": "Application/X-WWW-Form-Urlencoded;charset=utf-8" }, () => `query=${encodeURIComponent(CREATE_CHAT)}`],
  ];
  test.each(cases)("%s", async (_label, headers, body) => {
    const response = await badInputCase(h, () => rawRequest(h.t.url, { method: "POST", path: "/graphql", headers: { accept: GQL_ACCEPT, ...headers }, body: body() }));
    expectRefusal(response, 415, "UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("POST guard: a foreign Origin gets 403 ORIGIN_NOT_ALLOWED", () => {
  test("controls (not counted): no Origin, and the server's own origin, are served", async () => {
    const bare = await postGraphQL(h.t.url, { query: "{ __typename }" });
    expect(bare.status).toBe(200);
    for (const [host, origin] of [
      [own(), `http://${own()}`],
      [`localhost:${port()}`, `http://localhost:${port()}`],
    ]) {
      const response = await postGraphQL(h.t.url, { query: "{ __typename }" }, { host: host!, origin: origin! });
      expect(response.status, origin).toBe(200);
      expect(response.json).toEqual({ data: { __typename: "Query" } });
    }
  });

  const cases: [string, () => string][] = [
    ["https://evil.example", () => "https://evil.example"],
    ["null (a sandboxed frame or a file: page)", () => "null"],
    ["the server's host on another port", () => `http://127.0.0.1:${port() === 1 ? 2 : port() - 1}`],
    ["a look-alike http://localhost.evil.com:PORT", () => `http://localhost.evil.com:${port()}`],
    ["a malformed Origin (not a URL)", () => "not a url"],
  ];
  test.each(cases)("Origin %s", async (_label, origin) => {
    const response = await badInputCase(h, () => postGraphQL(h.t.url, createBody, { origin: origin() }));
    expectRefusal(response, 403, "ORIGIN_NOT_ALLOWED");
  });
});

describe("body limit (MAX_BODY_BYTES=65536)", () => {
  /** A createChat mutation padded with whitespace to `bytes` bytes of JSON. */
  const padded = (bytes: number) => `${createBody.slice(0, -1)}${" ".repeat(bytes - createBody.length)}}`;

  test("control (not counted): a gzip body that decompresses to a valid query is served", async () => {
    const body = gzipSync(JSON.stringify({ query: `query($id: ID!) { chat(id: $id) { title } }`, variables: { id: chatId } }));
    const response = await rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-encoding": "gzip" }, body });
    expect(response.status, response.text).toBe(200);
    expect(response.json).toEqual({ data: { chat: { title: "bad-input http" } } });
  });

  test("a 70,000-byte body gets 413 BODY_TOO_LARGE", async () => {
    const response = await badInputCase(h, () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: JSON_HEADERS, body: padded(70_000) }), small);
    expectRefusal(response, 413, "BODY_TOO_LARGE");
  });

  test("a declared Content-Length of 10 MB gets 413 without the body being read", async () => {
    const response = await badInputCase(
      h,
      // Only the first kilobyte is ever sent: the answer must come from the header alone.
      () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-length": "10000000" }, body: padded(1024), leaveOpen: true, timeoutMs: 10_000 }),
      small,
    );
    expectRefusal(response, 413, "BODY_TOO_LARGE");
  });

  test("a chunked body without Content-Length, past the limit, gets 413", async () => {
    const body = padded(200_000);
    const chunks = Array.from({ length: Math.ceil(body.length / 16_384) }, (_, i) => body.slice(i * 16_384, (i + 1) * 16_384));
    const response = await badInputCase(h, () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: JSON_HEADERS, chunks }), small);
    expectRefusal(response, 413, "BODY_TOO_LARGE");
  });

  test("a gzip body of ~10 KB that decompresses to 10 MB gets 413 BODY_TOO_LARGE", async () => {
    const body = gzipSync(padded(10 * 1024 * 1024), { level: 9 });
    expect(body.length).toBeLessThan(65_536);
    const response = await badInputCase(h, () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-encoding": "gzip" }, body }), small);
    expectRefusal(response, 413, "BODY_TOO_LARGE");
  });

  test("a corrupt gzip body gets 400 with an errors array", async () => {
    const good = gzipSync(createBody);
    const corrupt = Buffer.concat([good.subarray(0, 10), Buffer.alloc(good.length - 10, 0xa5)]);
    const response = await badInputCase(h, () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-encoding": "gzip" }, body: corrupt }), small);
    expect(response.status, response.text).toBe(400);
    errorsOfBody(response);
  });

  test("Content-Encoding: gzip on a body that is plain JSON gets 400 with an errors array", async () => {
    const response = await badInputCase(h, () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-encoding": "gzip" }, body: createBody }), small);
    expect(response.status, response.text).toBe(400);
    errorsOfBody(response);
  });

  test("a truncated gzip body (the first half of a valid one) gets 400 with an errors array", async () => {
    const good = gzipSync(createBody);
    const response = await badInputCase(
      h,
      () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-encoding": "gzip" }, body: good.subarray(0, Math.floor(good.length / 2)) }),
      small,
    );
    expect(response.status, response.text).toBe(400);
    errorsOfBody(response);
  });

  test.each(["br", "compress", "zstd"])("Content-Encoding: %s gets 415 UNSUPPORTED_MEDIA_TYPE", async (encoding) => {
    const response = await badInputCase(h, () => rawRequest(small.url, { method: "POST", path: "/graphql", headers: { ...JSON_HEADERS, "content-encoding": encoding }, body: createBody }), small);
    expectRefusal(response, 415, "UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("bodies and requests Yoga cannot use: a 4xx (400–405) with a GraphQL errors array, never 500", () => {
  const cases: [string, () => RawRequest][] = [
    ["malformed JSON", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: `{"query": "mutation { createChat(input: {}) { __typename } }"` })],
    ["a JSON array body", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify([{ query: CREATE_CHAT }]) })],
    ["a JSON number body", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: "42" })],
    ["a JSON null body", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: "null" })],
    ["an empty body", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: "" })],
    ["no query", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ variables: {} }) })],
    ["a query that is not a string", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: { mutation: "createChat" } }) })],
    ["variables that are not an object", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: CREATE_CHAT, variables: [1, 2] }) })],
    ["extensions that are not an object", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: CREATE_CHAT, extensions: "x" }) })],
    ["an operationName that names no operation", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: `mutation Make { createChat(input: {}) { __typename } }`, operationName: "Other" }) })],
    ["two operations and no operationName", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: `mutation A { createChat(input: {}) { __typename } } mutation B { createChat(input: {}) { __typename } }` }) })],
    ["a mutation over GET", () => ({ path: `/graphql?${new URLSearchParams({ query: CREATE_CHAT })}`, headers: { accept: GQL_ACCEPT } })],
    ["GET with variables that are not JSON", () => ({ path: `/graphql?${new URLSearchParams({ query: "query($id: ID!) { chat(id: $id) { title } }", variables: "{not json" })}`, headers: { accept: GQL_ACCEPT } })],
    ["PUT /graphql", () => ({ method: "PUT", path: "/graphql", headers: JSON_HEADERS, body: createBody })],
    ["DELETE /graphql", () => ({ method: "DELETE", path: "/graphql", headers: JSON_HEADERS })],
    ["PATCH /graphql", () => ({ method: "PATCH", path: "/graphql", headers: JSON_HEADERS, body: createBody })],
    ["a syntax error in the document", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: `mutation { createChat(input: {title: "x"}) { __typename ` }) })],
    ["a field the schema does not have", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: `mutation { createChat(input: {title: "x"}) { __typename } dropDatabase }` }) })],
    ["a fragment that spreads itself", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: JSON.stringify({ query: `fragment A on Query { ...B } fragment B on Query { ...A } { ...A }` }) })],
    ["a body that is not UTF-8", () => ({ method: "POST", path: "/graphql", headers: JSON_HEADERS, body: Buffer.from([0x7b, 0x22, 0x71, 0xff, 0xfe, 0xfd, 0x22, 0x7d]) })],
  ];
  test.each(cases)("%s", async (_label, make) => {
    const response = await badInputCase(h, () => rawRequest(h.t.url, make()));
    expectRequestError(response, 400, 405);
  });
});

test("the server is healthy at the end of the file", async () => {
  await expectHealthy(h.t, false);
  await expectHealthy(small, false);
});
