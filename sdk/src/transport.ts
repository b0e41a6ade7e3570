import type { GraphQLBody } from "./batch.js";

/**
 * How a request ended, as the sender acts on it:
 * - answered: a GraphQL body; each field says for itself how it went.
 * - retry: the server could not be reached or could not serve (network, timeout, 408, 429, 502-504);
 *   nothing about the items is known, so all of them go again after a backoff.
 * - server_error: 500 or an unreadable answer; retried, but counted against each item's attempts.
 * - bad_request: the request itself was refused (400, 413, 422…): an item in it is bad.
 * - refused: the client may not write (401, 403, 404, 405, 415): no retry helps.
 */
export type Outcome =
  | { type: "answered"; body: GraphQLBody }
  | { type: "retry"; reason: string; retryAfterMs?: number }
  | { type: "server_error"; reason: string }
  | { type: "bad_request"; status: number; reason: string }
  | { type: "refused"; status: number; reason: string };

export interface TransportOptions {
  endpoint: string;
  headers: Record<string, string>;
  timeoutMs: number;
  fetch: typeof fetch;
}

export function createTransport(options: TransportOptions) {
  const inFlight = new Set<AbortController>();

  async function post(payload: { query: string; variables?: Record<string, unknown> }): Promise<Outcome> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    inFlight.add(controller);
    try {
      let response: Response;
      try {
        response = await options.fetch(options.endpoint, {
          method: "POST",
          headers: options.headers,
          body: JSON.stringify(payload),
          signal: controller.signal,
        });
      } catch (error) {
        return { type: "retry", reason: networkReason(error, controller.signal) };
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        return { type: "retry", reason: networkReason(error, controller.signal) };
      }
      return classify(response.status, text, response.headers.get("retry-after"));
    } finally {
      clearTimeout(timer);
      inFlight.delete(controller);
    }
  }

  return {
    post,
    /** Cuts the requests under way (close). */
    abortAll(): void {
      for (const controller of inFlight) controller.abort(new Error("the client was closed"));
    },
  };
}

function classify(status: number, text: string, retryAfter: string | null): Outcome {
  const body = parseBody(text);
  const reason = `HTTP ${status}${body?.errors?.[0]?.message ? `: ${body.errors[0].message}` : ""}`;
  if (status === 408 || status === 429 || status === 502 || status === 503 || status === 504) {
    return { type: "retry", reason, retryAfterMs: retryAfterMsOf(retryAfter) };
  }
  if (status >= 500) return { type: "server_error", reason };
  if (status === 401 || status === 403 || status === 404 || status === 405 || status === 415) return { type: "refused", status, reason };
  if (status >= 400) return { type: "bad_request", status, reason };
  if (!body || (body.data === undefined && body.errors === undefined)) return { type: "server_error", reason: `HTTP ${status}: not a GraphQL answer` };
  // A request-level error (no field ran) answered 200, as servers do for plain application/json.
  if (body.data == null && body.errors?.every((e) => !e.path)) return { type: "bad_request", status, reason };
  return { type: "answered", body };
}

function parseBody(text: string): GraphQLBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === "object" ? (parsed as GraphQLBody) : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds or as an HTTP date. */
function retryAfterMsOf(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** A failed fetch's cause, e.g. "ECONNREFUSED" or "no answer within 10000 ms"; never a header. */
function networkReason(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason.message : "aborted";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}
