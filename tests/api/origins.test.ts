// Other sites' pages must not read the API or subscribe to it; the configured origins may.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { startTestApp, subscribe, type TestApp, wsClients } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const FRIEND = "http://localhost:5173";
const EVIL = "https://evil.example";
let db: TestDatabase;
let open: TestApp; // default: no CORS_ORIGINS
let friendly: TestApp; // CORS_ORIGINS = FRIEND
beforeAll(async () => {
  db = await createTestDatabase();
  open = await startTestApp(db);
  friendly = await startTestApp(db, { env: { CORS_ORIGINS: FRIEND } });
});
const { client, disposeAll } = wsClients(() => open.wsUrl);
afterAll(async () => {
  await disposeAll();
  await open?.stop();
  await friendly?.stop();
  await db?.destroy();
});

const preflight = (url: string, origin: string) =>
  fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });

/** Opens a WebSocket with an Origin header; resolves to whether the server accepted it. */
function handshake(url: string, origin?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, "graphql-transport-ws", origin ? { headers: { origin } } : {});
    socket.once("open", () => {
      socket.close();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("CORS", () => {
  test("by default no other origin is allowed: no CORS headers on a preflight or a GET", async () => {
    const response = await preflight(open.graphqlUrl, EVIL);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const get = await fetch(`${open.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`, { headers: { origin: EVIL } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("a configured origin is allowed, others still are not", async () => {
    const ok = await preflight(friendly.graphqlUrl, FRIEND);
    expect(ok.headers.get("access-control-allow-origin")).toBe(FRIEND);
    const refused = await preflight(friendly.graphqlUrl, EVIL);
    expect(refused.headers.get("access-control-allow-origin")).not.toBe(EVIL);
  });
});

describe("WebSocket origin", () => {
  test("another site's page cannot open the socket; the server's own origin, a configured one and non-browser clients can", async () => {
    expect(await handshake(open.wsUrl, EVIL)).toBe(false);
    expect(await handshake(open.wsUrl, open.url)).toBe(true);
    expect(await handshake(open.wsUrl)).toBe(true);
    expect(await handshake(friendly.wsUrl, FRIEND)).toBe(true);
    expect(await handshake(friendly.wsUrl, EVIL)).toBe(false);
  });
});

test("a syntax error fails only its own operation, not the other subscriptions on the socket", async () => {
  const c = client();
  const activity = subscribe(c, `subscription { chatsActivity { kind chatId } }`);
  const broken = subscribe(c, `subscription { chatsActivity { kind `);
  await expect(broken.until(() => false, 10_000)).rejects.toThrow(/Syntax Error/);
  // The first subscription still delivers (it is live-only: write until one of the writes shows up).
  for (let tries = 0; activity.received.length === 0; tries++) {
    await open.app.services.chats.create({ title: "still alive" });
    await activity.until((all) => all.length > 0, 1_000).catch((error: Error) => {
      if (tries > 20) throw error;
    });
  }
  expect(activity.received[0]!.data?.chatsActivity?.kind).toBe("chat_created");
  expect(activity.completed).toBe(false);
  activity.dispose();
});
