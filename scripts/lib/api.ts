/**
 * A small client of a running Tracedeck server's GraphQL API for the command-line tools: queries and
 * mutations over HTTP (fetch), the chatEvents stream over graphql-ws. Errors a person can act on
 * are ApiError with a message written for them (unreachable server, GraphQL errors, typed errors).
 */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export class ApiError extends Error {
  override name = "ApiError";
}

/** A typed error result of a mutation (ValidationError, NotFoundError, …). */
export class ResultError extends ApiError {
  override name = "ResultError";
  constructor(
    readonly typename: string,
    message: string,
    readonly issues: { path: string[]; message: string }[] = [],
  ) {
    super(message);
  }
}

/** The server's base URL without a trailing slash; an ApiError for something that is not http(s). */
export function normalizeBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError(`${JSON.stringify(value)} is not a URL (expected e.g. http://127.0.0.1:4000)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ApiError(`${value}: the URL must start with http:// or https://`);
  return url.href.replace(/\/+$/, "");
}

/** Why a fetch failed, in a few words: "connection refused", "host not found", … */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  switch (cause?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connection timed out";
    case "ECONNRESET":
      return "connection reset";
    default:
      return cause?.message ?? (error as Error)?.message ?? String(error);
  }
}

export interface Api {
  baseUrl: string;
  graphqlUrl: string;
  wsUrl: string;
  /** Runs a query or mutation; GraphQL errors and HTTP failures are ApiError. */
  request<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, options?: { timeoutMs?: number }): Promise<T>;
  /** A graphql-ws client (no automatic retry: the caller resumes from its last cursor). */
  wsClient(): Client;
}

export function createApi(baseUrl: string): Api {
  const base = normalizeBaseUrl(baseUrl);
  const graphqlUrl = `${base}/graphql`;
  const wsUrl = `${base.replace(/^http/, "ws")}/graphql`;
  return {
    baseUrl: base,
    graphqlUrl,
    wsUrl,
    async request<T>(query: string, variables?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
      let response: Response;
      try {
        response = await fetch(graphqlUrl, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        if ((error as Error)?.name === "TimeoutError") throw new ApiError(`Tracedeck at ${base} did not answer within ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s`);
        throw new ApiError(
          `cannot reach Tracedeck at ${base} (${networkReason(error)}). Is the server running? Start it with \`npm start\`, or point --url or TRACEDECK_URL at it.`,
        );
      }
      const text = await response.text();
      let body: { data?: T; errors?: { message: string }[] };
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(`${graphqlUrl} answered HTTP ${response.status} with something that is not GraphQL: ${text.slice(0, 200).trim() || "(empty)"}`);
      }
      if (body.errors?.length) throw new ApiError(`the server refused the request: ${body.errors.map((e) => e.message).join("; ")}`);
      if (!response.ok || body.data === undefined) throw new ApiError(`${graphqlUrl} answered HTTP ${response.status}`);
      return body.data;
    },
    wsClient() {
      return createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    },
  };
}

/** The union result of a mutation: the object, or a ResultError for a typed error (…Error). */
export function unwrapResult<T extends { __typename: string }>(result: T | { __typename: string; message?: string; issues?: { path: string[]; message: string }[] }): T {
  if (/Error$/.test(result.__typename)) {
    const error = result as { __typename: string; message?: string; issues?: { path: string[]; message: string }[] };
    throw new ResultError(error.__typename, error.message ?? error.__typename, error.issues ?? []);
  }
  return result as T;
}

/** Fields every typed error of a mutation result carries, for the selections below. */
export const ERROR_FIELDS = `... on Error { message } ... on ValidationError { issues { path message } }`;
