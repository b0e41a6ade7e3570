// Defect 6: a stop lets the requests under way finish (answering Connection: close), closes
// WebSockets with 1001 and takes no new connection. tests/fault does the same through SIGTERM.
import { Agent, request } from "node:http";
import { afterAll, beforeAll, expect, test } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { createChat, transports } from "../helpers/graphql-fixtures.js";

let db: TestDatabase;
let t: TestApp;
let chat: { id: string; uuid: string };

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  chat = await createChat(transports(() => t)[0]![1], "drain");
});
afterAll(async () => {
  await t?.app.stop().catch(() => {});
  await db?.destroy();
});

interface Outcome {
  status?: number;
  connection?: string;
  traces?: number;
  error?: string;
  /** When the response arrived (ms). */
  at?: number;
}

test("requests in flight at the stop all finish; the WebSocket is closed with 1001; then nothing is accepted", async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  // Warm the keep-alive sockets, so the stop finds idle and busy connections alike.
  await Promise.all(Array.from({ length: 4 }, () => send(agent, "{ __typename }")));

  const socket = new WebSocket(t.wsUrl, "graphql-transport-ws");
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
    socket.once("message", () => resolve());
  });

  const batch = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ chatId: chat.id, toolName: `tool_${i}`, output: "x".repeat(200) })) });
  const written: Promise<void>[] = [];
  const inFlight = Array.from({ length: 6 }, () =>
    send(agent, "mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { ... on RecordToolTracesPayload { traces { id } } } }", { input: batch(300) }, written),
  );
  await Promise.all(written); // every request's bytes are on the wire before the stop
  const stopAt = Date.now();
  const stopping = t.app.stop();

  const outcomes = await Promise.all(inFlight);
  await stopping;
  expect(outcomes.map((o) => o.error)).toEqual(outcomes.map(() => undefined));
  expect(outcomes.map((o) => o.status)).toEqual(outcomes.map(() => 200));
  expect(outcomes.every((o) => o.traces === 300)).toBe(true);
  // A keep-alive client is told not to send another request on the connection: every response
  // written after the stop began says so (a JSON answer is written at once, so one that arrives
  // well after the stop was written after it). PGlite and PostgreSQL serialise enough of the
  // batches that several are answered late.
  const late = outcomes.filter((o) => o.at! > stopAt + 50);
  expect(late.length).toBeGreaterThanOrEqual(2);
  expect(late.map((o) => o.connection)).toEqual(late.map(() => "close"));
  expect(await closed).toBe(1001);
  expect(await db.prisma.toolTrace.count({ where: { chatId: chat.uuid } })).toBe(6 * 300);
  await expect(send(new Agent(), "{ __typename }").then((o) => o.error)).resolves.toMatch(/ECONNREFUSED/);
  agent.destroy();
});

function send(agent: Agent, query: string, variables?: unknown, written?: Promise<void>[]): Promise<Outcome> {
  const body = JSON.stringify({ query, variables });
  let markWritten: () => void = () => {};
  written?.push(new Promise((resolve) => (markWritten = resolve)));
  return new Promise((resolve) => {
    const req = request(t.graphqlUrl, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        resolve({ status: res.statusCode, connection: res.headers.connection, traces: json.data?.recordToolTraces?.traces?.length, at: Date.now() });
      });
      res.on("error", (e) => resolve({ error: e.message }));
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      markWritten();
      resolve({ error: e.code ?? e.message });
    });
    req.end(body, () => markWritten());
  });
}
