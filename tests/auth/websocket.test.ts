// The WebSocket with API keys on: the key comes in connection_init (as an Authorization value or a
// plain apiKey field); a socket without a good one is closed with 4403 and a reason; an open socket
// checks its key every WS_AUTH_RECHECK_SECONDS (1 s here) and is closed with 4403 once the key is
// revoked or has expired.
import type { Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { bearer, codesOf, errorsOf, firstOutcome, keyedWsClient } from "./auth-helpers.js";

let db: TestDatabase;
let t: TestApp;
const clients: Client[] = [];
const client = (params?: Record<string, unknown>) => {
  const c = keyedWsClient(t.wsUrl, params);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { AUTH: "on", WS_AUTH_RECHECK_SECONDS: "1" } });
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.dispose()));
  await t?.stop();
  await db?.destroy();
});

const newKey = async (scopes: ("read" | "ingest" | "agent" | "admin")[], expiresAt?: Date) => (await t.app.services.apiKeys.create({ name: "ws test", scopes, expiresAt })).key;
const QUERY = `{ chats(first: 1) { edges { cursor } } }`;

/** A raw socket that sends connection_init with `payload`; resolves to how it was closed, or "ack". */
function handshake(payload: unknown): Promise<{ code: number; reason: string } | "ack"> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(t.wsUrl, "graphql-transport-ws");
    socket.once("open", () => socket.send(JSON.stringify(payload === undefined ? { type: "connection_init" } : { type: "connection_init", payload })));
    socket.on("message", (data) => {
      if (JSON.parse(String(data)).type === "connection_ack") {
        socket.close();
        resolve("ack");
      }
    });
    socket.once("close", (code, reason) => resolve({ code, reason: String(reason) }));
    socket.once("error", reject);
  });
}

describe("connection_init", () => {
  test("without a key, or with a malformed, unknown or revoked one: closed with 4403 and a reason saying which", async () => {
    const revoked = await newKey(["read"]);
    await t.app.services.apiKeys.revoke(revoked.slice(0, 11));
    const cases: [unknown, RegExp][] = [
      [undefined, /API key is required/],
      [{}, /API key is required/],
      [{ authorization: "Bearer " }, /API key is required/],
      [{ authorization: "Bearer nope" }, /not a Tracedeck key/],
      [{ apiKey: `td_${"Z".repeat(43)}` }, /not known/],
      [{ authorization: `Bearer ${revoked}` }, /was revoked/],
    ];
    for (const [payload, reason] of cases) {
      const outcome = await handshake(payload);
      expect(outcome, JSON.stringify(payload)).toMatchObject({ code: 4403 });
      expect((outcome as { reason: string }).reason).toMatch(reason);
      expect((outcome as { reason: string }).reason).not.toContain(revoked);
    }
  });

  test("a good key is accepted as { authorization: 'Bearer …' }, { Authorization: … } or { apiKey: … }", async () => {
    const key = await newKey(["read"]);
    expect(await handshake(bearer(key))).toBe("ack");
    expect(await handshake({ Authorization: `Bearer ${key}` })).toBe("ack");
    expect(await handshake({ apiKey: key })).toBe("ack");
  });

  test("the graphql-ws client sees the 4403 close as the operation's error", async () => {
    const outcome = await firstOutcome(client(), QUERY);
    expect(outcome).toMatchObject({ kind: "closed", code: 4403 });
  });
});

describe("an open socket", () => {
  test("a scope the key lacks fails that operation only; the socket and its other operations go on", async () => {
    const c = client(bearer(await newKey(["read"])));
    expect((await firstOutcome(c, QUERY)).kind).toBe("data");
    const refused = await firstOutcome(c, `mutation { deleteChat(id: "00000000-0000-4000-8000-000000000000") { __typename } }`);
    expect(refused.kind).toBe("errors");
    expect(codesOf(errorsOf(refused))).toEqual(["FORBIDDEN"]);
    expect(errorsOf(refused)[0]!.message).toMatch(/lacks the admin scope that mutation deleteChat needs; it has read/);
    expect((await firstOutcome(c, QUERY)).kind).toBe("data");
  });

  test("revoking its key closes it with 4403 within WS_AUTH_RECHECK_SECONDS (1 s)", async () => {
    const key = await newKey(["read"]);
    const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
      const socket = new WebSocket(t.wsUrl, "graphql-transport-ws");
      socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { apiKey: key } })));
      socket.once("close", (code, reason) => resolve({ code, reason: String(reason), at: Date.now() }));
    });
    // The socket works before the revoke.
    const live = client({ apiKey: key });
    expect((await firstOutcome(live, QUERY)).kind).toBe("data");
    await new Promise((r) => setTimeout(r, 300));
    const revokedAt = Date.now();
    await t.app.services.apiKeys.revoke(key.slice(0, 11));
    const { code, reason, at } = await closed;
    expect(code).toBe(4403);
    expect(reason).toMatch(/was revoked/);
    // Within one recheck period, with room for a loaded machine's timers.
    expect(at - revokedAt).toBeLessThan(1_000 + 1_500);
    // A new operation on the client's socket (reconnecting) is refused too.
    expect(await firstOutcome(live, QUERY)).toMatchObject({ kind: "closed", code: 4403 });
  });

  test("a key that expires while the socket is open closes it with 4403; one already expired is refused", async () => {
    const expiresAt = new Date(Date.now() + 2_000);
    const key = await newKey(["read"], expiresAt);
    const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => {
      const socket = new WebSocket(t.wsUrl, "graphql-transport-ws");
      socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: bearer(key) })));
      socket.on("message", (data) => {
        if (JSON.parse(String(data)).type === "connection_ack") socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: "subscription { chatsActivity { kind } }" } }));
      });
      socket.once("close", (code, reason) => resolve({ code, reason: String(reason), at: Date.now() }));
    });
    const { code, reason, at } = await closed;
    expect(code).toBe(4403);
    expect(reason).toMatch(/expired at/);
    expect(at).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(at - expiresAt.getTime()).toBeLessThan(1_000 + 1_500);
    expect(await handshake(bearer(key))).toMatchObject({ code: 4403 });
  });
});
