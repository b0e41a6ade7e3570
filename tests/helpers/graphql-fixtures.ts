// Shared pieces of the GraphQL API tests (tests/api/*): the two transports, result unwrapping,
// bulk inserts through recordToolTraces, and a logger that keeps its lines.
import { request } from "node:http";
import { expect } from "vitest";
import { createLogger, type Logger } from "../../server/logger.js";
import { execute, type GraphQLResponse, type TestApp } from "./app.js";

export type Run = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>) => Promise<GraphQLResponse<T>>;

/** The same operation in process (yoga.fetch) and over real HTTP on the app's port. */
export function transports(t: () => TestApp): [string, Run][] {
  return [
    ["in-process", (query, variables) => execute(t().app, query, variables)],
    ["http", (query, variables) => postOnNewConnection(t().graphqlUrl, query, variables)],
  ];
}

/**
 * A JSON POST over real HTTP on a connection of its own. fetch() reuses idle keep-alive sockets,
 * and on a loaded machine one may be reused just as the server's keep-alive timeout (5 s) closes
 * it: an ECONNRESET that says nothing about the API.
 */
export function postOnNewConnection<T = Record<string, any>>(graphqlUrl: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = request(graphqlUrl, { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve(JSON.parse(text) as GraphQLResponse<T>);
        } catch {
          reject(new Error(`HTTP ${res.statusCode}: not JSON: ${text.slice(0, 500)}`));
        }
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The data of a response that must have no errors. */
export function dataOf<T = Record<string, any>>(response: GraphQLResponse<T>): T {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  expect(response.data).toBeTruthy();
  return response.data!;
}

/** The errors of a response that must have some. */
export function errorsOf(response: GraphQLResponse): NonNullable<GraphQLResponse["errors"]> {
  expect(response.errors, `expected errors, got ${JSON.stringify(response.data)}`).toBeTruthy();
  return response.errors!;
}

/** The error codes (extensions.code) of a response. */
export const codesOf = (response: GraphQLResponse) => errorsOf(response).map((e) => e.extensions?.code);

/**
 * Every typed error member, for mutation results. Aliased: NotFoundError.entity (String!) and
 * ConflictError.entity (String) may not share a response name, nor may `id` with a node's ID!.
 */
export const ERROR_FIELDS = `
  __typename
  ... on Error { message }
  ... on NotFoundError { missingEntity: entity missingId: id }
  ... on ConflictError { conflictEntity: entity conflictId: id }
  ... on ValidationError { issues { path message } }
`;

export const TRACE_FIELDS = `
  id uuid sessionId messageId toolCallId turnNumber toolName toolInput toolOutput outputBytes outputTruncated
  startedAt finishedAt latencyMs durationMs status error outcome
  tokens { input output cacheRead cacheWrite reasoning } tokensUsed cacheTokens reasoningTokens createdAt
`;

export interface ChatIds {
  /** The global id. */
  id: string;
  uuid: string;
}

export async function createChat(run: Run, title: string, workspace?: string): Promise<ChatIds> {
  const data = dataOf(
    await run(`mutation($input: CreateChatInput) { createChat(input: $input) { ${ERROR_FIELDS} ... on Chat { id uuid } } }`, {
      input: { title, workspace },
    }),
  );
  expect(data.createChat.__typename).toBe("Chat");
  return { id: data.createChat.id, uuid: data.createChat.uuid };
}

export interface RecordItem {
  chatId: string;
  toolName: string;
  [key: string]: unknown;
}

export interface RecordedTrace {
  id: string;
  uuid: string;
  startedAt: string;
  toolName: string;
}

/** Records finished traces through the recordToolTraces mutation, 1,000 items per call. */
export async function recordTraces(run: Run, items: RecordItem[]): Promise<RecordedTrace[]> {
  const out: RecordedTrace[] = [];
  for (let i = 0; i < items.length; i += 1000) {
    const data = dataOf(
      await run(
        `mutation($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { ${ERROR_FIELDS} ... on RecordToolTracesPayload { traces { id uuid startedAt toolName } } } }`,
        { input: { items: items.slice(i, i + 1000) } },
      ),
    );
    expect(data.recordToolTraces.__typename, JSON.stringify(data.recordToolTraces)).toBe("RecordToolTracesPayload");
    out.push(...data.recordToolTraces.traces);
  }
  return out;
}

/** A logger that keeps every record, parsed, for assertions on what was logged. */
export function recordingLogger(): { log: Logger; records: Record<string, any>[] } {
  const records: Record<string, any>[] = [];
  return { log: createLogger("debug", (line) => records.push(JSON.parse(line))), records };
}

/** percentile_cont as PostgreSQL defines it: linear interpolation between the closest ranks. */
export function percentileCont(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}
