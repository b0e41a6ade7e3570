import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import { DATABASE_UNAVAILABLE } from "./database-errors.js";
import { HttpRefusal, sendJson } from "./refusal.js";
import type { Endpoint } from "./routes.js";
import type { TracedeckYoga } from "./yoga.js";

/** One REST resource of a chat, GET /api/chats/:id/<name>. */
export interface ChatResource {
  name: string;
  handle(req: IncomingMessage, res: ServerResponse, chatId: string, params: URLSearchParams): Promise<void>;
}

const PREFIX = "/api/chats/";

/**
 * GET /api/chats/:id/<resource>. The router matches fixed paths and prefixes, and the chat's id sits
 * in the middle of these paths, so the chat's resources (traces here, export in chat-export.ts)
 * share this one endpoint, which hands each request to the resource its last segment names.
 */
export function chatResourcesEndpoint(...resources: ChatResource[]): Endpoint {
  const byName = new Map(resources.map((r) => [r.name, r]));
  return {
    path: PREFIX,
    prefix: true,
    // REST reads and export downloads: a key with the read scope (when API keys are on).
    scope: "read",
    methods: ["GET"],
    async handle(req, res) {
      const url = new URL(req.url ?? "/", "http://localhost");
      const [rawId, name, ...rest] = url.pathname.slice(PREFIX.length).split("/");
      const resource = name === undefined ? undefined : byName.get(name);
      if (!rawId || !resource || rest.length > 0) {
        const names = resources.map((r) => `/api/chats/:id/${r.name}`).join(", ");
        return sendJson(res, 404, { errors: [{ message: `Nothing at ${url.pathname}; a chat's resources are ${names}`, extensions: { code: "NOT_FOUND" } }] });
      }
      let chatId: string;
      try {
        chatId = decodeURIComponent(rawId);
      } catch {
        throw new HttpRefusal(400, "BAD_USER_INPUT", "The chat id in the path is not valid percent-encoding");
      }
      await resource.handle(req, res, chatId, url.searchParams);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// GET /api/chats/:id/traces

/** Every field of a trace, as Chat.traces gives it: the REST rows are that connection's nodes. */
const TRACES_DOCUMENT = /* GraphQL */ `
  query RestChatTraces($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: TraceFilter) {
    chat(id: $id) {
      traces(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges {
          cursor
          node {
            id uuid sessionId agentId agentType messageId toolCallId turnNumber toolName toolInput toolOutput outputBytes outputTruncated
            startedAt finishedAt latencyMs durationMs status error outcome
            tokens { input output cacheRead cacheWrite reasoning } tokensUsed cacheTokens reasoningTokens createdAt
          }
        }
      }
    }
  }
`;

const INT_PARAMS = ["first", "last", "turnFrom", "turnTo", "minLatencyMs"] as const;
const STRING_PARAMS = ["after", "before", "startedFrom", "startedBefore"] as const;
const LIST_PARAMS = ["toolNames", "statuses"] as const;
const KNOWN = new Set<string>([...INT_PARAMS, ...STRING_PARAMS, ...LIST_PARAMS]);

const badParameter = (message: string) => new HttpRefusal(400, "BAD_USER_INPUT", message);

/** The query string as the connection's variables: `?first=&after=&statuses=error,timeout&toolNames=a&toolNames=b…`. */
export function tracesVariables(chatId: string, params: URLSearchParams): Record<string, unknown> {
  for (const key of new Set(params.keys())) {
    if (!KNOWN.has(key)) throw badParameter(`Unknown parameter ${JSON.stringify(key)}; the parameters are ${[...KNOWN].join(", ")}`);
  }
  const single = (name: string) => {
    const values = params.getAll(name);
    if (values.length > 1) throw badParameter(`${name} is given ${values.length} times; give it once`);
    return values[0];
  };
  const variables: Record<string, unknown> = { id: chatId };
  const filter: Record<string, unknown> = {};
  for (const name of INT_PARAMS) {
    const value = single(name);
    if (value === undefined) continue;
    // GraphQL's Int coercion then refuses what does not fit 32 bits, as it would in a query.
    if (!/^-?\d{1,12}$/.test(value)) throw badParameter(`${name} must be a whole number, not ${JSON.stringify(value.slice(0, 40))}`);
    (name === "first" || name === "last" ? variables : filter)[name] = Number(value);
  }
  for (const name of STRING_PARAMS) {
    const value = single(name);
    if (value !== undefined) (name === "after" || name === "before" ? variables : filter)[name] = value;
  }
  const toolNames = params.getAll("toolNames");
  if (toolNames.length > 0) filter.toolNames = toolNames;
  // Statuses never hold a comma: both ?statuses=error,timeout and ?statuses=error&statuses=timeout.
  const statuses = params.getAll("statuses").flatMap((s) => s.split(","));
  if (statuses.length > 0) filter.statuses = statuses.map((s) => s.trim());
  if (Object.keys(filter).length > 0) variables.filter = filter;
  return variables;
}

interface GraphQLError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string };
}

/** The codes of errors that are the request's fault, as GraphQL answers them. */
const CLIENT_CODES = new Set(["BAD_USER_INPUT", "INVALID_CURSOR", "PAGE_SIZE_INVALID", "GRAPHQL_VALIDATION_FAILED", "QUERY_COMPLEXITY"]);
const RETRYABLE_CODES = new Set([DATABASE_UNAVAILABLE, "STATEMENT_TIMEOUT", "OPERATION_TIMEOUT"]);

/**
 * GET /api/chats/:id/traces: pages of a chat's traces as JSON. A thin layer over the GraphQL
 * connection Chat.traces: a fixed document runs through the same Yoga instance (its limits,
 * complexity, cursors, masking), with the query string as its variables, so rows, order,
 * cursors and errors are the connection's own.
 */
export function restTracesResource(yoga: TracedeckYoga, log: Logger): ChatResource {
  return {
    name: "traces",
    async handle(req, res, chatId, params) {
      const variables = tracesVariables(chatId, params);
      // The caller's credentials go along: the document runs as the caller's own query would.
      const authorization = req.headers.authorization;
      const response = await yoga.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query: TRACES_DOCUMENT, variables, operationName: "RestChatTraces" }),
      });
      const result = (await response.json()) as { data?: { chat: { traces: any } | null } | null; errors?: GraphQLError[] };
      const errors = result.errors ?? [];
      if (errors.length > 0) {
        const codes = errors.map((e) => e.extensions?.code ?? "");
        const publicErrors = errors.map((e) => ({ message: e.message, extensions: { code: e.extensions?.code ?? "INTERNAL_SERVER_ERROR" } }));
        if (codes.some((c) => RETRYABLE_CODES.has(c))) return sendJson(res, 503, { errors: publicErrors }, { "retry-after": "1" });
        // Variables GraphQL could not coerce (an Int out of range, a bad status or DateTime) come without a code.
        const clientFault = codes.every((c) => CLIENT_CODES.has(c)) || (response.status === 400 && codes.every((c) => c === "" || CLIENT_CODES.has(c)));
        if (clientFault) {
          return sendJson(res, 400, { errors: errors.map((e) => ({ message: e.message, extensions: { code: e.extensions?.code ?? "BAD_USER_INPUT" } })) });
        }
        log.error("rest.traces_failed", { chatId, errors: publicErrors });
        return sendJson(res, 500, { errors: publicErrors });
      }
      const chat = result.data?.chat;
      if (!chat) return sendJson(res, 404, { errors: [{ message: `No chat has the id ${chatId}`, extensions: { code: "NOT_FOUND" } }] });
      const { edges, pageInfo, totalCount } = chat.traces as { edges: { cursor: string; node: Record<string, unknown> }[]; pageInfo: unknown; totalCount: number };
      sendJson(res, 200, { traces: edges.map((e) => ({ ...e.node, cursor: e.cursor })), pageInfo, totalCount }, { "cache-control": "no-store" });
    },
  };
}
