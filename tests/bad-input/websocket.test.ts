// Bad input over WebSocket: upgrades under a refused Host or Origin (403, no connection_ack), and
// graphql-transport-ws conversations that break the protocol (the protocol's close codes) or carry a
// bad operation (an error frame for that operation only; the socket stays usable). Each case: the
// answer, nothing written, /healthz still 200.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ERROR_FIELDS } from "../helpers/graphql-fixtures.js";
import {
  badInputCase,
  CREATE_CHAT,
  expectHealthy,
  expectUsable,
  type Harness,
  openWs,
  postGraphQL,
  rawUpgrade,
  RawSocket,
  startHarness,
  stopHarness,
} from "./harness.js";

let h: Harness;
/** The same database with WS_MAX_PAYLOAD_BYTES=65536. */
let small: TestApp;
let chat: { id: string; uuid: string; eventCursor: string };
const sockets: RawSocket[] = [];

beforeAll(async () => {
  h = await startHarness();
  small = await startTestApp(h.db, { env: { WS_MAX_PAYLOAD_BYTES: "65536" } });
  const created = await postGraphQL(h.t.url, { query: `mutation { createChat(input: {title: "bad-input ws"}) { ... on Chat { id uuid eventCursor } } }` });
  chat = created.json.data.createChat;
  expect(chat.uuid).toBeTruthy();
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await stopHarness(h, small);
});

const port = () => Number(new URL(h.t.url).port);
const own = () => `127.0.0.1:${port()}`;
const MISSING_UUID = "00000000-0000-4000-8000-00000000abcd";
/** After a close, how long a wrongly run operation gets to write before the fingerprint looks. */
const SETTLE_MS = 150;

async function open(url = h.t.wsUrl, options: Parameters<typeof openWs>[1] = {}): Promise<RawSocket> {
  const s = await RawSocket.open(url, options);
  sockets.push(s);
  return s;
}
async function acked(url = h.t.wsUrl): Promise<RawSocket> {
  const s = await RawSocket.acked(url);
  sockets.push(s);
  return s;
}

/** The error codes of operation `id`: from an `error` frame, or from a `next` that carries errors. */
async function operationErrors(s: RawSocket, id: string): Promise<{ frame: string; errors: { message: string; extensions?: Record<string, unknown> }[] }> {
  const frame = await s.waitFor((m) => m.id === id && (m.type === "error" || m.type === "next"));
  if (frame.type === "error") return { frame: "error", errors: frame.payload };
  expect(frame.payload.errors, `operation ${id} answered with errors: ${JSON.stringify(frame).slice(0, 500)}`).toBeTruthy();
  return { frame: "next", errors: frame.payload.errors };
}

describe("upgrades refused with 403, before any connection_ack", () => {
  test("controls (not counted): the server's own origin under its own Host, and no Origin, are accepted", async () => {
    expect(await rawUpgrade(h.t.url, { origin: `http://${own()}` })).toEqual({ kind: "upgraded", protocol: "graphql-transport-ws" });
    expect(await rawUpgrade(h.t.url, {})).toEqual({ kind: "upgraded", protocol: "graphql-transport-ws" });
    const s = await acked();
    await expectUsable(s);
  });

  test("Host rebind.example:PORT, through the ws client: 'unexpected-response' 403", async () => {
    const outcome = await badInputCase(h, () => openWs(h.t.wsUrl, { headers: { host: `rebind.example:${port()}` } }));
    expect(outcome).toEqual({ kind: "unexpected-response", status: 403 });
  });

  test("Origin https://evil.example, through the ws client: 'unexpected-response' 403", async () => {
    const outcome = await badInputCase(h, () => openWs(h.t.wsUrl, { headers: { origin: "https://evil.example" } }));
    expect(outcome).toEqual({ kind: "unexpected-response", status: 403 });
  });

  const raw: [string, () => Record<string, string>][] = [
    ["Host 127.0.0.1.evil.com", () => ({ host: "127.0.0.1.evil.com" })],
    ["Host localhost.evil.com:PORT", () => ({ host: `localhost.evil.com:${port()}` })],
    ["an empty Host", () => ({ host: "" })],
    ["Host 10.0.0.1:PORT", () => ({ host: `10.0.0.1:${port()}` })],
    ["a rebinding page: Host evil.example:PORT with its own Origin http://evil.example:PORT", () => ({ host: `evil.example:${port()}`, origin: `http://evil.example:${port()}` })],
    ["Origin null", () => ({ origin: "null" })],
    ["Origin of the server's host on another port", () => ({ origin: `http://127.0.0.1:${port() === 1 ? 2 : port() - 1}` })],
    ["Origin http://localhost.evil.com:PORT", () => ({ origin: `http://localhost.evil.com:${port()}` })],
  ];
  test.each(raw)("%s", async (_label, headers) => {
    const outcome = await badInputCase(h, () => rawUpgrade(h.t.url, headers()));
    expect(outcome.kind, JSON.stringify(outcome)).toBe("refused");
    expect(outcome.kind === "refused" && outcome.status).toBe(403);
  });
});

describe("protocol violations close the socket with graphql-ws's codes", () => {
  test("a subscribe (of a mutation) before connection_init: 4401, and the mutation never runs", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await open();
      s.send({ id: "early", type: "subscribe", payload: { query: CREATE_CHAT } });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4401 });
  });

  test("an unknown message type: 4400", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send({ type: "hello", payload: { query: CREATE_CHAT } });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4400 });
  });

  test("a frame that is not JSON: 4400", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send(`{"id": "1", "type": "subscribe", "payload": {"query": ${JSON.stringify(CREATE_CHAT)}`);
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4400 });
  });

  test("a second connection_init: 4429", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send({ type: "connection_init", payload: {} });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4429 });
  });

  test("a subscribe that reuses the id of a running subscription: 4409, and the second operation never runs", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send({ id: "dup", type: "subscribe", payload: { query: "subscription { chatsActivity { kind } }" } });
      s.send({ id: "dup", type: "subscribe", payload: { query: CREATE_CHAT } });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4409 });
  });

  test("a subscribe without an id: 4400", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send({ type: "subscribe", payload: { query: CREATE_CHAT } });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4400 });
  });

  test("a subscribe whose payload has no query: 4400", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send({ id: "noquery", type: "subscribe", payload: { variables: {} } });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4400 });
  });

  test("a subscribe whose variables are not an object: 4400", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await acked();
      s.send({ id: "vars", type: "subscribe", payload: { query: CREATE_CHAT, variables: "x" } });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4400 });
  });

  test("a connection_init whose payload is not an object: 4400", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await open();
      s.send({ type: "connection_init", payload: "let me in" });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4400 });
  });

  test("a socket opened without the graphql-transport-ws subprotocol: 4406", async () => {
    const closed = await badInputCase(h, async () => {
      const s = await open(h.t.wsUrl, { protocol: [] });
      s.send({ type: "connection_init", payload: {} });
      return s.closeWithin();
    }, h.t, SETTLE_MS);
    expect(closed).toMatchObject({ code: 4406 });
  });

  test("a frame over WS_MAX_PAYLOAD_BYTES (70 KB against 65,536): 1009, and its mutation never runs", async () => {
    const closed = await badInputCase(
      h,
      async () => {
        const s = await acked(small.wsUrl);
        s.send({ id: "big", type: "subscribe", payload: { query: `${CREATE_CHAT}${" ".repeat(70_000)}` } });
        return s.closeWithin();
      },
      small,
      SETTLE_MS,
    );
    expect(closed).toMatchObject({ code: 1009 });
  });
});

describe("a bad operation fails alone: an error for its id, and the socket stays usable", () => {
  test("a syntax error", async () => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      s.send({ id: "syntax", type: "subscribe", payload: { query: `mutation { createChat(input: {title: "x"}) { __typename ` } });
      return operationErrors(s, "syntax");
    });
    expect(errors[0]!.message).toMatch(/Syntax Error/);
    await expectUsable(s);
  });

  test("a field the schema does not have", async () => {
    const s = await acked();
    const { frame, errors } = await badInputCase(h, async () => {
      s.send({ id: "unknown", type: "subscribe", payload: { query: `subscription { chatsDeleted { id } }` } });
      return operationErrors(s, "unknown");
    });
    expect(frame).toBe("error");
    expect(errors[0]!.message).toMatch(/chatsDeleted/);
    await expectUsable(s);
  });

  test("chatEvents of an unknown chat: NOT_FOUND", async () => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      s.send({ id: "missing", type: "subscribe", payload: { query: `subscription($c: ID!) { chatEvents(chatId: $c) { __typename } }`, variables: { c: MISSING_UUID } } });
      return operationErrors(s, "missing");
    });
    expect(errors.map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    await expectUsable(s);
  });

  test("toolTraceStarted with a malformed chat id: BAD_USER_INPUT", async () => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      s.send({ id: "badid", type: "subscribe", payload: { query: `subscription($c: ID!) { toolTraceStarted(chatId: $c) { id } }`, variables: { c: "not a chat id" } } });
      return operationErrors(s, "badid");
    });
    expect(errors.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    await expectUsable(s);
  });

  test.each([
    ["a random string", () => "not-a-cursor"],
    ["a tampered signature", () => `${chat.eventCursor.slice(0, -1)}${chat.eventCursor.endsWith("A") ? "B" : "A"}`],
    ["a forged cursor (a made-up signature)", () => `${Buffer.from(JSON.stringify({ s: "x", p: [1] })).toString("base64url")}.AAAAAAAAAAAAAAAAAAAAAA`],
  ])("chatEvents(after: %s): INVALID_CURSOR", async (_label, cursor) => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      s.send({ id: "cursor", type: "subscribe", payload: { query: `subscription($c: ID!, $a: String) { chatEvents(chatId: $c, after: $a) { __typename } }`, variables: { c: chat.id, a: cursor() } } });
      return operationErrors(s, "cursor");
    });
    expect(errors.map((e) => e.extensions?.code)).toEqual(["INVALID_CURSOR"]);
    await expectUsable(s);
  });

  test("a mutation with bad input: its typed ValidationError, with the path", async () => {
    const s = await acked();
    const frame = await badInputCase(h, async () => {
      s.send({
        id: "typed",
        type: "subscribe",
        payload: { query: `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { ${ERROR_FIELDS} } }`, variables: { input: { chatId: chat.id, toolName: "" } } },
      });
      const next = await s.waitFor((m) => m.id === "typed" && (m.type === "next" || m.type === "error"));
      await s.waitFor((m) => m.id === "typed" && m.type === "complete");
      return next;
    });
    expect(frame.type).toBe("next");
    expect(frame.payload.errors).toBeUndefined();
    expect(frame.payload.data.startToolTrace).toMatchObject({ __typename: "ValidationError", issues: [{ path: ["input", "toolName"] }] });
    await expectUsable(s);
  });

  test("a mutation in an unknown chat: its typed NotFoundError", async () => {
    const s = await acked();
    const frame = await badInputCase(h, async () => {
      s.send({
        id: "nf",
        type: "subscribe",
        payload: { query: `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { ${ERROR_FIELDS} } }`, variables: { input: { chatId: MISSING_UUID, toolName: "x" } } },
      });
      return s.waitFor((m) => m.id === "nf" && (m.type === "next" || m.type === "error"));
    });
    expect(frame.type).toBe("next");
    expect(frame.payload.data.startToolTrace.__typename).toBe("NotFoundError");
    await expectUsable(s);
  });

  test("50 aliased createChat mutations: refused naming the alias limit, none runs", async () => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      const query = `mutation { ${Array.from({ length: 50 }, (_, i) => `a${i}: createChat(input: {title: "ws alias"}) { __typename }`).join(" ")} }`;
      s.send({ id: "aliases", type: "subscribe", payload: { query } });
      return operationErrors(s, "aliases");
    });
    expect(errors.some((e) => /alias/i.test(e.message)), JSON.stringify(errors).slice(0, 300)).toBe(true);
    await expectUsable(s);
  });

  test("a subscription 19 deep: refused naming the depth limit", async () => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      const inner = "traces { edges { node { chat { ".repeat(4);
      const query = `subscription($c: ID!) { toolTraceStarted(chatId: $c) { chat { ${inner} uuid ${"} } } } ".repeat(4)} } } }`;
      s.send({ id: "deep", type: "subscribe", payload: { query, variables: { c: chat.id } } });
      return operationErrors(s, "deep");
    });
    expect(errors.some((e) => /depth/i.test(e.message)), JSON.stringify(errors).slice(0, 300)).toBe(true);
    await expectUsable(s);
  });

  test("a mutation of 50,000 tokens: refused naming the token limit, it never runs", async () => {
    const s = await acked();
    const { errors } = await badInputCase(h, async () => {
      s.send({ id: "tokens", type: "subscribe", payload: { query: `mutation { createChat(input: {title: "ws tokens"}) { __typename ${"__typename ".repeat(50_000)}} }` } });
      return operationErrors(s, "tokens");
    });
    expect(errors.some((e) => /token/i.test(e.message)), JSON.stringify(errors).slice(0, 300)).toBe(true);
    await expectUsable(s);
  });
});

test("the server is healthy at the end of the file", async () => {
  await expectHealthy(h.t, false);
  await expectHealthy(small, false);
});
