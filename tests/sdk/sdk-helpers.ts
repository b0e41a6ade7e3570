// Shared by the SDK's tests: a free port, the app started on a given port (a server that "comes
// back" where the client already points), a chat's stored traces and revisions, and a fetch that
// records what the SDK sends before passing it on to the real one.
import { createServer } from "node:net";
import { startTestApp, type TestApp } from "../helpers/app.js";
import type { TestDatabase } from "../helpers/db.js";

/** A port that was free a moment ago (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The app over real HTTP on this port of 127.0.0.1. */
export async function startAppOnPort(db: TestDatabase, port: number, env: Record<string, string> = {}): Promise<TestApp & { port: number }> {
  const t = await startTestApp(db, { listen: false, env });
  const url = await t.app.start(port);
  return { ...t, url, graphqlUrl: `${url}/graphql`, wsUrl: `${url.replace(/^http/, "ws")}/graphql`, port };
}

export async function tracesOf(db: TestDatabase, chatId: string) {
  return db.prisma.toolTrace.findMany({ where: { chatId }, orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
}

export async function revisionsOf(db: TestDatabase, chatId: string) {
  return db.prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "asc" } });
}

export interface SentRequest {
  url: string;
  headers: Record<string, string>;
  body: { query: string; variables: Record<string, unknown> };
  /** Mutation fields in the request (start, record and snapshot fields, or createChat). */
  fields: number;
}

/** The global fetch, with every request the SDK makes kept for the test to read. */
export function recordingFetch() {
  const requests: SentRequest[] = [];
  const spy: typeof fetch = async (input, init) => {
    const body = JSON.parse(String(init?.body)) as SentRequest["body"];
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const fields = (body.query.match(/\b(startToolTrace|recordToolTraces|saveSnapshot|createChat)\(/g) ?? []).length;
    requests.push({ url: String(input), headers, body, fields });
    return fetch(input, init);
  };
  return { fetch: spy, requests };
}

/** Warnings the client gives, kept for the test. */
export function warnings() {
  const lines: string[] = [];
  return { logger: { warn: (message: string) => void lines.push(message) }, lines };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (arrival, not speed) until the predicate holds. */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await sleep(10);
  }
}
