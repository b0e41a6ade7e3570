// The bad-input suite's shared pieces: raw HTTP requests (every header under the test's control),
// raw WebSocket upgrades and frames, and the per-case checks: the answer, nothing written, healthy after.
import { request, type IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { expect } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";

export const GQL_ACCEPT = "application/graphql-response+json, application/json";

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** A header value; `undefined` leaves the header out (for Host: sends no Host at all). */
export type RawHeaders = Record<string, string | string[] | undefined>;

export interface RawRequest {
  method?: string;
  path?: string;
  /**
   * Sent exactly as given, in this order. Host defaults to the app's own `127.0.0.1:PORT`; give
   * `host: undefined` to send none, an array to send the header several times.
   */
  headers?: RawHeaders;
  body?: string | Buffer;
  /** Body pieces sent one write at a time (with `transfer-encoding: chunked` unless a length is given). */
  chunks?: (string | Buffer)[];
  /** Send the body but never finish the request (a declared length larger than what is sent). */
  leaveOpen?: boolean;
  timeoutMs?: number;
}

const portOf = (url: string) => Number(new URL(url).port);

/**
 * One request on a connection of its own (agent: false), built from a raw header list so that Host,
 * Origin, Content-Type, Content-Encoding and Content-Length are exactly what the case says. Resolves
 * once the whole response has arrived; an error on the request after that (the server closing on a
 * body it refused) does not matter.
 */
export function rawRequest(base: string, req: RawRequest): Promise<RawResponse> {
  const port = portOf(base);
  const headers: RawHeaders = { host: `127.0.0.1:${port}`, ...req.headers };
  const names = Object.keys(headers).map((k) => k.toLowerCase());
  if (req.body !== undefined && !names.includes("content-length") && !names.includes("transfer-encoding")) {
    headers["content-length"] = String(Buffer.byteLength(req.body));
  }
  if (req.chunks && !names.includes("content-length") && !names.includes("transfer-encoding")) headers["transfer-encoding"] = "chunked";
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) flat.push(name, v);
  }
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      r.destroy();
      reject(new Error(`no response to ${req.method ?? "GET"} ${req.path ?? "/"} in ${req.timeoutMs ?? 20_000} ms`));
    }, req.timeoutMs ?? 20_000);
    const r = request({ host: "127.0.0.1", port, method: req.method ?? "GET", path: req.path ?? "/", agent: false, setHost: false, headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(error);
      });
      res.on("end", () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString("utf8");
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
        if (req.leaveOpen) r.destroy();
      });
    });
    r.on("error", (error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`request failed before a response: ${error.message}`));
    });
    if (req.chunks) {
      for (const chunk of req.chunks) r.write(chunk);
      if (!req.leaveOpen) r.end();
    } else if (req.body !== undefined) {
      if (req.leaveOpen) r.write(req.body);
      else r.end(req.body);
    } else if (!req.leaveOpen) r.end();
  });
}

/** A JSON POST to /graphql: `payload` is serialised unless it is already a string or Buffer. */
export function postGraphQL(base: string, payload: unknown, headers: RawHeaders = {}): Promise<RawResponse> {
  const body = typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  return rawRequest(base, { method: "POST", path: "/graphql", headers: { "content-type": "application/json", accept: GQL_ACCEPT, ...headers }, body });
}

/** A mutation that writes when it runs: a refused request that ran it would show in the fingerprint. */
export const CREATE_CHAT = `mutation { createChat(input: {title: "must not exist"}) { __typename } }`;

/** One app on a listening port and its own database, for one test file. */
export interface Harness {
  db: TestDatabase;
  t: TestApp;
}

export async function startHarness(env?: Record<string, string>): Promise<Harness> {
  const db = await createTestDatabase();
  const t = await startTestApp(db, { env });
  return { db, t };
}

export async function stopHarness(h: Partial<Harness> | undefined, ...more: (TestApp | undefined)[]): Promise<void> {
  for (const app of more) await app?.stop();
  await h?.t?.stop();
  await h?.db?.destroy();
}

/** GET /healthz under the app's own Host answers 200 with status ok. */
export async function expectHealthy(t: TestApp, soft = true): Promise<void> {
  const e = soft ? expect.soft : expect;
  let response: RawResponse | undefined;
  try {
    response = await rawRequest(t.url, { path: "/healthz" });
  } catch (error) {
    e(`healthz failed: ${(error as Error).message}`, "GET /healthz answers afterwards").toBe("healthz answered 200");
    return;
  }
  e(response.status, `GET /healthz afterwards: ${response.text.slice(0, 300)}`).toBe(200);
  e(response.json?.status, "healthz status").toBe("ok");
}

/**
 * Runs one bad-input case: fingerprints the whole database, sends, checks that /healthz still
 * answers 200 and that nothing was written. The case's own assertions on the answer come after, on
 * the returned value. The two checks are soft, so a case that fails several ways reports each of
 * them. `settleMs` waits before looking, for answers (a closed socket) that may precede a write.
 */
export async function badInputCase<T>(h: Harness, send: () => Promise<T>, app: TestApp = h.t, settleMs = 0): Promise<T> {
  const before = await databaseFingerprint(h.db.prisma);
  let result: T;
  try {
    result = await send();
  } finally {
    if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
    await expectHealthy(app);
    expect.soft(await databaseFingerprint(h.db.prisma), "nothing written: the database fingerprint is unchanged").toEqual(before);
  }
  return result;
}

/** The errors array of a refusal body, asserted to be GraphQL-shaped. */
export function errorsOfBody(response: RawResponse): { message: string; extensions?: Record<string, unknown> }[] {
  expect(response.json, `the body is JSON: ${response.text.slice(0, 300)}`).toBeTypeOf("object");
  expect(Array.isArray(response.json?.errors), `an errors array: ${response.text.slice(0, 300)}`).toBe(true);
  expect(response.json.errors.length).toBeGreaterThan(0);
  for (const error of response.json.errors) expect(typeof error.message).toBe("string");
  return response.json.errors;
}

/** A refusal with this exact status and code in a GraphQL-shaped body. */
export function expectRefusal(response: RawResponse, status: number, code: string): void {
  expect.soft(response.status, `status (body: ${response.text.slice(0, 300)})`).toBe(status);
  const errors = errorsOfBody(response);
  expect(errors.map((e) => e.extensions?.code), `codes (body: ${response.text.slice(0, 300)})`).toEqual([code]);
}

/** A 4xx (from..to) with a GraphQL errors array: a request error, never a 500. */
export function expectRequestError(response: RawResponse, from = 400, to = 405): void {
  expect.soft(response.status, `status in ${from}–${to} (body: ${response.text.slice(0, 300)})`).toBeGreaterThanOrEqual(from);
  expect.soft(response.status, `status in ${from}–${to} (body: ${response.text.slice(0, 300)})`).toBeLessThanOrEqual(to);
  errorsOfBody(response);
  expect(response.json.data ?? null, "no data").toBeNull();
}

// ---------------------------------------------------------------------------------------------
// WebSocket

export type UpgradeOutcome = { kind: "refused"; status: number; text: string } | { kind: "upgraded"; protocol: string | undefined };

/**
 * A raw upgrade request on node:http: every header as given (Host may be empty), and the outcome:
 * refused with an HTTP status, or switched protocols (the socket is closed at once).
 */
export function rawUpgrade(base: string, headers: RawHeaders, path = "/graphql"): Promise<UpgradeOutcome> {
  const port = portOf(base);
  const all: RawHeaders = {
    host: `127.0.0.1:${port}`,
    connection: "Upgrade",
    upgrade: "websocket",
    "sec-websocket-version": "13",
    "sec-websocket-key": Buffer.from("0123456789abcdef").toString("base64"),
    "sec-websocket-protocol": "graphql-transport-ws",
    ...headers,
  };
  const flat: string[] = [];
  for (const [name, value] of Object.entries(all)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) flat.push(name, v);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      r.destroy();
      reject(new Error("no answer to the upgrade in 10 s"));
    }, 10_000);
    const r = request({ host: "127.0.0.1", port, path, agent: false, setHost: false, headers: flat });
    r.on("upgrade", (res, socket: Socket) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ kind: "upgraded", protocol: res.headers["sec-websocket-protocol"] as string | undefined });
    });
    r.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ kind: "refused", status: res.statusCode!, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    r.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`upgrade failed without an answer: ${error.message}`));
    });
    r.end();
  });
}

export type WsOpenOutcome = { kind: "open"; socket: WebSocket } | { kind: "unexpected-response"; status: number } | { kind: "error"; message: string };

/** Opens a `ws` client; resolves when it is open, or with the refusal's HTTP status ('unexpected-response'). */
export function openWs(url: string, options: { headers?: Record<string, string>; protocol?: string | string[]; maxPayload?: number } = {}): Promise<WsOpenOutcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, options.protocol ?? "graphql-transport-ws", { headers: options.headers, maxPayload: options.maxPayload });
    socket.once("open", () => resolve({ kind: "open", socket }));
    socket.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve({ kind: "unexpected-response", status: res.statusCode! });
      socket.terminate();
    });
    socket.once("error", (error) => resolve({ kind: "error", message: error.message }));
  });
}

/** A raw graphql-transport-ws conversation: every frame it received, and how it closed. */
export class RawSocket {
  readonly messages: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** How the socket closed, once it has. */
  closeInfo: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length}>` : String(data);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { unparsable: text };
      }
      this.messages.push(parsed);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    // An error on the client side is reported by `closed`.
    socket.on("error", () => {});
  }

  static async open(url: string, options: Parameters<typeof openWs>[1] = {}): Promise<RawSocket> {
    const outcome = await openWs(url, options);
    if (outcome.kind !== "open") throw new Error(`the WebSocket did not open: ${JSON.stringify(outcome)}`);
    return new RawSocket(outcome.socket);
  }

  /** Opens and completes connection_init / connection_ack. */
  static async acked(url: string, options: Parameters<typeof openWs>[1] = {}): Promise<RawSocket> {
    const s = await RawSocket.open(url, options);
    s.send({ type: "connection_init", payload: {} });
    await s.waitFor((m) => m.type === "connection_ack");
    return s;
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" || Buffer.isBuffer(message) ? message : JSON.stringify(message));
  }

  /** The first message (from `from` on) matching the predicate; fails when the socket closes or the time is up. */
  waitFor(predicate: (m: any) => boolean, timeoutMs = 10_000, from = 0): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 1500)}`)), timeoutMs);
      const check = () => {
        const found = this.messages.slice(from).find(predicate);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (this.closeInfo || this.socket.readyState === WebSocket.CLOSED) {
          clearTimeout(timer);
          reject(new Error(`the socket closed (${this.closeInfo?.code} ${this.closeInfo?.reason}) before a matching frame; got ${JSON.stringify(this.messages).slice(0, 1500)}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** How the socket closed, within the time limit. */
  async closeWithin(timeoutMs = 10_000): Promise<{ code: number; reason: string } | "still open"> {
    return Promise.race([this.closed, new Promise<"still open">((r) => setTimeout(() => r("still open"), timeoutMs))]);
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/** The socket is still usable: a query on it completes with data. */
export async function expectUsable(s: RawSocket, id = `probe-${Math.random().toString(36).slice(2)}`): Promise<void> {
  expect(s.isOpen, "the socket is still open").toBe(true);
  const from = s.messages.length;
  s.send({ id, type: "subscribe", payload: { query: "{ __typename }" } });
  const next = await s.waitFor((m) => m.id === id && (m.type === "next" || m.type === "error"), 10_000, from);
  expect(next).toEqual({ id, type: "next", payload: { data: { __typename: "Query" } } });
  await s.waitFor((m) => m.id === id && m.type === "complete", 10_000, from);
}
