// What the fault tests share: GraphQL over real HTTP (node:http, so every socket error is seen as
// itself and the moment a request's bytes were fully written is known), the operations they run,
// how a response is classified, and the ledger of acknowledged writes checked against the database.
import { type Agent, request } from "node:http";
import { createClient, type Client } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import WebSocket from "ws";
import { createPgCluster, destroyAllPgClusters, type PgCluster } from "../helpers/pg-cluster.js";
import { killAllSpawnedServers } from "../helpers/server-process.js";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One HTTP exchange, as the client saw it. */
export interface Exchange {
  op: string;
  startedAt: number;
  /** When the request's last byte was handed to the kernel ('finish'); undefined if it never was. */
  writtenAt?: number;
  /** When the response had fully arrived. */
  endedAt?: number;
  /** Whether the request went out on a socket that had carried an earlier request (keep-alive). */
  reusedSocket?: boolean;
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  text?: string;
  body?: GraphQLBody;
  /** A socket-level failure: ECONNREFUSED, ECONNRESET, "socket hang up", a timeout... */
  error?: { code?: string; message: string };
}

export interface GraphQLBody {
  data?: Record<string, any> | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface HttpOptions {
  agent?: Agent;
  timeoutMs?: number;
  /** Called once the request's bytes were fully written. */
  onWritten?: (exchange: Exchange) => void;
}

/** One HTTP request; never throws: a socket error or timeout ends up in `error`. */
export function httpRequest(
  url: string,
  init: { method?: string; body?: string; op?: string; headers?: Record<string, string> },
  options: HttpOptions = {},
): Promise<Exchange> {
  const exchange: Exchange = { op: init.op ?? `${init.method ?? "GET"} ${url}`, startedAt: Date.now() };
  return new Promise((resolve) => {
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(exchange);
    };
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const req = request(url, {
      method: init.method ?? "GET",
      agent: options.agent ?? false,
      headers: {
        ...(body ? { "content-type": "application/json", "content-length": String(body.length) } : {}),
        accept: "application/graphql-response+json, application/json",
        ...init.headers,
      },
    });
    const timer = setTimeout(() => {
      exchange.error = { code: "CLIENT_TIMEOUT", message: `no response within ${options.timeoutMs ?? 30_000} ms` };
      req.destroy();
      settle();
    }, options.timeoutMs ?? 30_000);
    req.once("finish", () => {
      exchange.writtenAt = Date.now();
      exchange.reusedSocket = req.reusedSocket;
      options.onWritten?.(exchange);
    });
    req.once("error", (error: NodeJS.ErrnoException) => {
      exchange.error ??= { code: error.code, message: error.message };
      settle();
    });
    req.once("response", (res) => {
      exchange.status = res.statusCode;
      exchange.headers = res.headers;
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.once("error", (error: NodeJS.ErrnoException) => {
        exchange.error ??= { code: error.code, message: `response cut: ${error.message}` };
        settle();
      });
      res.once("aborted", () => {
        exchange.error ??= { code: "ECONNRESET", message: "response aborted" };
      });
      res.once("close", () => {
        if (!res.complete) {
          exchange.error ??= { code: "INCOMPLETE", message: "the connection closed before the response's last byte" };
          settle();
        }
      });
      res.once("end", () => {
        if (!res.complete) {
          exchange.error ??= { code: "INCOMPLETE", message: "the response ended before its last byte" };
          return settle();
        }
        exchange.endedAt = Date.now();
        exchange.text = Buffer.concat(chunks).toString("utf8");
        try {
          exchange.body = JSON.parse(exchange.text) as GraphQLBody;
        } catch {
          // not JSON: left in `text`
        }
        settle();
      });
    });
    req.end(body);
  });
}

export function graphql(graphqlUrl: string, op: string, query: string, variables?: Record<string, unknown>, options?: HttpOptions): Promise<Exchange> {
  return httpRequest(graphqlUrl, { method: "POST", op, body: JSON.stringify({ query, variables }) }, options);
}

/** The single (union) result of a mutation or the root field of a query, if the exchange has one. */
export function rootResult(exchange: Exchange): Record<string, any> | undefined {
  const data = exchange.body?.data;
  if (!data) return undefined;
  return Object.values(data)[0] as Record<string, any> | undefined;
}

export type Outcome = "ack" | "unavailable" | "other";

/**
 * ack: HTTP 200, no GraphQL error, and a result that is not one of the typed *Error results.
 * unavailable: HTTP 503 whose GraphQL errors all carry extensions.code DATABASE_UNAVAILABLE.
 * other: anything else (a masked "Unexpected error.", a 200 with errors, a socket error...).
 */
export function classify(exchange: Exchange): Outcome {
  if (exchange.error || exchange.status === undefined) return "other";
  const errors = exchange.body?.errors;
  if (exchange.status === 200 && !errors?.length && exchange.body?.data) {
    const result = rootResult(exchange);
    if (result && typeof result.__typename === "string" && /Error$/.test(result.__typename)) return "other";
    return result === undefined || result === null ? "other" : "ack";
  }
  if (exchange.status === 503 && errors?.length && errors.every((e) => e.extensions?.code === "DATABASE_UNAVAILABLE")) return "unavailable";
  return "other";
}

/** A short, readable account of an exchange for assertion messages. */
export function describe(exchange: Exchange, origin = 0): string {
  const t = (at?: number) => (at === undefined ? "-" : `${at - origin}ms`);
  const what = exchange.error
    ? `${exchange.error.code ?? ""} ${exchange.error.message}`
    : `HTTP ${exchange.status} connection=${String(exchange.headers?.connection)} ${(exchange.text ?? "").slice(0, 300)}`;
  return `${exchange.op} [start ${t(exchange.startedAt)}, written ${t(exchange.writtenAt)}, ended ${t(exchange.endedAt)}${exchange.reusedSocket ? ", keep-alive" : ""}] ${what}`;
}

// --- operations -------------------------------------------------------------------------------

export const CREATE_CHAT = `mutation CreateChat($title: String!) {
  createChat(input: { title: $title, workspace: "/work/fault" }) {
    __typename
    ... on Chat { id uuid eventCursor }
    ... on Error { message }
  }
}`;

export const START_TRACE = `mutation Start($chatId: ID!, $toolCallId: String!, $input: JSON) {
  startToolTrace(input: { chatId: $chatId, toolName: "run_command", toolCallId: $toolCallId, messageId: "msg_fault", toolInput: $input }) {
    __typename
    ... on ToolTrace { id uuid status }
    ... on Error { message }
  }
}`;

export const FINISH_TRACE = `mutation Finish($chatId: ID!, $toolCallId: String!, $output: String) {
  finishToolTrace(input: { chatId: $chatId, toolCallId: $toolCallId, output: $output,
                           tokens: { anthropic: { input_tokens: 120, output_tokens: 8 } } }) {
    __typename
    ... on ToolTrace { id uuid status }
    ... on Error { message }
  }
}`;

export const RECORD_TRACES = `mutation Record($items: [RecordToolTraceInput!]!) {
  recordToolTraces(input: { items: $items }) {
    __typename
    ... on RecordToolTracesPayload { traces { uuid status toolCallId } }
    ... on Error { message }
  }
}`;

export const READ_CHAT = `query ReadChat($id: ID!) {
  chat(id: $id) {
    __typename
    id
    eventCursor
    stats { traceCount runningCount tokens { input output } }
    traces(first: 50) { totalCount edges { node { uuid status toolName } } }
  }
}`;

export const CHAT_EVENTS = `subscription Watch($id: ID!, $after: String) {
  chatEvents(chatId: $id, after: $after) {
    __typename
    ... on ChatStreamOpening { seq cursor }
    ... on ChatEvent { seq cursor kind subjectId }
  }
}`;

export function recordItems(chatId: string, prefix: string, count: number): Record<string, unknown>[] {
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  const finishedAt = new Date(Date.now() - 59_000).toISOString();
  return Array.from({ length: count }, (_, i) => ({
    chatId,
    toolName: i % 2 ? "read_file" : "run_command",
    toolCallId: `${prefix}-${i}`,
    messageId: `msg-${prefix}`,
    toolInput: { path: `/work/fault/${prefix}/${i}.ts`, lines: [1, 200] },
    output: `output of ${prefix}-${i} `.repeat(4),
    startedAt,
    finishedAt,
  }));
}

// --- acknowledged writes ------------------------------------------------------------------------

/** What the server acknowledged: each must be stored afterwards. */
export class Ledger {
  /** chat UUID */
  readonly chats = new Set<string>();
  /** trace UUID -> what its latest acknowledged write left it: running, or finished (any other status) */
  readonly traces = new Map<string, "running" | "finished">();

  /** Records a createChat acknowledgement (anything else is ignored); returns the chat's UUID. */
  ackChat(exchange: Exchange): string | undefined {
    const result = exchange.body?.data?.createChat as Record<string, any> | undefined;
    if (classify(exchange) !== "ack" || result?.__typename !== "Chat") return undefined;
    this.chats.add(result.uuid as string);
    return result.uuid as string;
  }

  /** Records a startToolTrace/finishToolTrace/recordToolTraces acknowledgement (anything else is ignored); returns the UUIDs. */
  ackTraces(exchange: Exchange): string[] {
    if (classify(exchange) !== "ack") return [];
    const data = exchange.body!.data!;
    const single = (data.startToolTrace ?? data.finishToolTrace) as { __typename: string; uuid: string; status: string } | undefined;
    const batch = data.recordToolTraces as { __typename: string; traces: { uuid: string; status: string }[] } | undefined;
    const traces = single?.__typename === "ToolTrace" ? [single] : batch?.__typename === "RecordToolTracesPayload" ? batch.traces : [];
    for (const trace of traces) {
      const status = trace.status === "running" ? "running" : "finished";
      if (this.traces.get(trace.uuid) !== "finished") this.traces.set(trace.uuid, status);
    }
    return traces.map((t) => t.uuid);
  }
}

/** Rows as read back from the database, whatever the driver. */
export interface StoredState {
  chats: Set<string>;
  traces: Map<string, string>;
}

/** Every acknowledged write that the stored state lacks, as readable lines (empty: all stored). */
export function missingWrites(ledger: Ledger, stored: StoredState): string[] {
  const missing: string[] = [];
  for (const chat of ledger.chats) if (!stored.chats.has(chat)) missing.push(`chat ${chat} (acknowledged createChat) is not stored`);
  for (const [uuid, status] of ledger.traces) {
    const found = stored.traces.get(uuid);
    if (found === undefined) missing.push(`trace ${uuid} (acknowledged, ${status}) is not stored`);
    else if (status === "finished" && found === "running") missing.push(`trace ${uuid}: its finish was acknowledged, but it is stored as running`);
  }
  return missing;
}

export const STORED_SQL = {
  chats: `SELECT id::text AS id FROM chats WHERE id = ANY($1::uuid[])`,
  traces: `SELECT id::text AS id, status::text AS status FROM tool_traces WHERE id = ANY($1::uuid[])`,
};

/** Reads the acknowledged chats and traces back with any `query(sql, params) -> rows` function (pg or PGlite). */
export async function readStored(ledger: Ledger, query: <T>(sql: string, params: unknown[]) => Promise<T[]>): Promise<StoredState> {
  // UUID arrays as array literals: both drivers pass a string to a uuid[] parameter as it is.
  const literal = (ids: Iterable<string>) => `{${[...ids].join(",")}}`;
  const chats = await query<{ id: string }>(STORED_SQL.chats, [literal(ledger.chats)]);
  const traces = await query<{ id: string; status: string }>(STORED_SQL.traces, [literal(ledger.traces.keys())]);
  return { chats: new Set(chats.map((r) => r.id)), traces: new Map(traces.map((r) => [r.id, r.status])) };
}

// --- WebSocket subscriptions ----------------------------------------------------------------------

export interface Watch {
  client: Client;
  received: Record<string, any>[];
  /** How it failed, readably: errors in a result, an error message, or the socket's close. */
  errors: string[];
  completed: boolean;
  /** The close code of the client's socket, once it closed (1000 when the client itself closed it). */
  closeCode?: number;
  closedAt?: number;
  /** Waits until predicate(received) holds; rejects on error, completion or timeout. */
  until(predicate: (items: Record<string, any>[]) => boolean, timeoutMs: number): Promise<void>;
  dispose(): Promise<void>;
}

/** A graphql-ws subscription (client from `graphql-ws`, socket from `ws`) that records how it ended. */
export function watch(wsUrl: string, query: string, variables: Record<string, unknown>): Watch {
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  const state: Watch = {
    client: undefined as unknown as Client,
    received: [],
    errors: [],
    completed: false,
    until(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(state.received)) {
            done();
            resolve();
          } else if (state.errors.length || state.completed || state.closeCode !== undefined) {
            done();
            reject(
              new Error(
                `the subscription ended (errors ${JSON.stringify(state.errors).slice(0, 1000)}, completed ${state.completed}, close code ${state.closeCode}) after ${state.received.length} messages`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`the subscription did not deliver within ${timeoutMs} ms; last: ${JSON.stringify(state.received.slice(-3))}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async dispose() {
      await state.client.dispose();
    },
  };
  state.client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        state.closeCode = (event as { code?: number }).code;
        state.closedAt = Date.now();
        notify();
      },
    },
  });
  state.client.subscribe(
    { query, variables },
    {
      next: (value) => {
        if (value.errors?.length) state.errors.push(`errors in a result: ${JSON.stringify(value.errors)}`);
        if (value.data) state.received.push(Object.values(value.data)[0] as Record<string, any>);
        notify();
      },
      error: (error) => {
        // graphql-ws hands over an Error, a CloseEvent (code, reason) or the operation's GraphQL errors.
        const closeEvent = error as { code?: number; reason?: string };
        state.errors.push(
          error instanceof Error
            ? error.message
            : typeof closeEvent?.code === "number"
              ? `socket closed ${closeEvent.code} ${closeEvent.reason ?? ""}`
              : JSON.stringify(error),
        );
        notify();
      },
      complete: () => {
        state.completed = true;
        notify();
      },
    },
  );
  return state;
}

/** How a delivered event sequence differs from the stored one: empty lists and inOrder when equal. */
export function sequenceDiff(delivered: number[], stored: number[]) {
  const storedSet = new Set(stored);
  const deliveredSet = new Set(delivered);
  const missing = stored.filter((seq) => !deliveredSet.has(seq));
  const unexpected = delivered.filter((seq) => !storedSet.has(seq));
  const repeated = delivered.filter((seq, i) => delivered.indexOf(seq) !== i);
  const inOrder = delivered.every((seq, i) => i === 0 || seq > delivered[i - 1]!);
  const brief = (list: number[]) => (list.length > 12 ? `${list.slice(0, 12).join(",")}… (${list.length})` : list.join(","));
  return { missing: brief(missing), unexpected: brief(unexpected), repeated: brief(repeated), inOrder };
}

/** The server's warn and error lines, a few of each kind, for a failed test's output. */
export function logDigest(lines: { level?: string; msg?: string; raw: string }[], perKind = 2): string {
  const seen = new Map<string, number>();
  const picked: string[] = [];
  for (const line of lines) {
    if (line.level !== "warn" && line.level !== "error") continue;
    const key = `${line.level} ${line.msg}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (n <= perKind) picked.push(line.raw.slice(0, 1500));
  }
  const counts = [...seen].map(([key, n]) => `${key} x${n}`).join("; ");
  return `server warn/error lines: ${counts || "none"}\n${picked.join("\n")}`;
}

// --- direct connections to the test's cluster ----------------------------------------------------

const pgClients = new Set<pg.Client>();

/** A pg client on the test's cluster; closed by closePgClients() in afterAll if the test did not. */
export async function openPg(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  // The cluster may be stopped under it when a test fails: that is no uncaught exception.
  client.on("error", () => {});
  pgClients.add(client);
  await client.connect();
  return client;
}

export async function closePg(client: pg.Client): Promise<void> {
  pgClients.delete(client);
  await client.end().catch(() => {});
}

export async function closePgClients(): Promise<void> {
  await Promise.allSettled([...pgClients].map((c) => closePg(c)));
}

/**
 * Everything a fault test file starts is stopped after it, even when a test fails: pg clients,
 * server processes (by process group), then the throwaway clusters.
 */
export function stopEverythingAfterAll(extra?: () => void): void {
  afterAll(async () => {
    await closePgClients();
    await killAllSpawnedServers();
    await destroyAllPgClusters();
    extra?.();
  });
}

/** One throwaway cluster, started before the file's tests; stopped with everything else after. */
export function runningClusterForFile(): () => PgCluster {
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    cluster = await createPgCluster();
    await cluster.start();
  });
  stopEverythingAfterAll();
  return () => cluster!;
}
