import type { JsonValue } from "./json.js";

/** Token usage of the model step that issued a call: counts, or a provider's own usage object. */
export interface TokenUsage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
  /** Anthropic's usage as it comes: input_tokens, output_tokens, cache_*_input_tokens. */
  anthropic?: Record<string, unknown>;
  /** OpenAI's usage as it comes: prompt_tokens, completion_tokens and their details. */
  openai?: Record<string, unknown>;
}

export interface ClientOptions {
  /** The server, e.g. http://127.0.0.1:4000 (its /graphql endpoint is used), or the endpoint itself. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`; never logged. */
  apiKey?: string;
  /** An existing chat (UUID or global id). Without one, a chat is created before the first write. */
  chatId?: string;
  /** Title of the chat the client creates (no chatId given). */
  chatTitle?: string;
  /** Workspace label of the chat the client creates. */
  workspace?: string;
  /** The session (a UUID) the calls belong to; the chat's current one by default. */
  sessionId?: string;
  /** How long a new item may wait for others to join its request. Default 20 ms. */
  flushIntervalMs?: number;
  /** Most queued items (a call's start and finish share one until the start is sent). Default 10,000. */
  maxQueueItems?: number;
  /** Most queued bytes (JSON of the queued items). Default 32 MiB. */
  maxQueueBytes?: number;
  /** Largest request body; an item alone above it is dropped. Default 4 MiB (the server takes 8). */
  maxRequestBytes?: number;
  /** Most mutation fields in one request (the server allows 15 aliases by default, so 16). */
  maxFieldsPerRequest?: number;
  /** Most finished calls in one recordToolTraces field (the server's MAX_BATCH_ITEMS is 1,000). Default 500. */
  maxBatchItems?: number;
  /** A tool input larger than this (bytes of JSON) is stored as a note with a preview. Default 256 KiB. */
  maxInputBytes?: number;
  /** A tool output longer than this (bytes) is cut, with a note. Default 1 MiB. */
  maxOutputBytes?: number;
  /** One request's time limit. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** First retry delay. Default 200 ms; it doubles per failed attempt, with jitter. */
  retryBaseMs?: number;
  /** Longest retry delay. Default 10,000 ms. */
  retryMaxMs?: number;
  /** Attempts at an item the server fails unexpectedly (HTTP 500, an unmasked error) before it is rejected. Default 10. */
  maxItemAttempts?: number;
  /** Called for every item dropped (queue full, too large, client closed). Its errors are ignored. */
  onDrop?: (info: DropInfo) => void;
  /** Called for every item the server refused (a typed error, a bad request). Its errors are ignored. */
  onReject?: (info: RejectInfo) => void;
  /** Where the client warns, once per kind of trouble; default console. `null` keeps it quiet. */
  logger?: { warn(message: string): void } | null;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
}

export type ItemKind = "start" | "finish" | "snapshot";

export interface DropInfo {
  reason: "queue_full" | "too_large" | "closed";
  kind: ItemKind;
  /** The tool, for a start or a finish. */
  toolName?: string;
  toolCallId?: string;
  /** Operations dropped with this item (a start merged with its finish counts 2). */
  count: number;
  /** Operations dropped so far by this client. */
  totalDropped: number;
}

export interface RejectInfo {
  kind: ItemKind;
  toolName?: string;
  toolCallId?: string;
  count: number;
  /** The server's message (its typed error, or the refusal of the request). */
  message: string;
  totalRejected: number;
}

/** Counts of operations (a call's start and its finish are one each, a snapshot is one). */
export interface ClientStats {
  /** Acknowledged by the server. */
  sent: number;
  /** Queued or in flight. */
  pending: number;
  /** Never sent: queue full, too large, or left when the client closed. */
  dropped: number;
  /** Refused by the server with a typed error or a bad-request answer; not retried. */
  rejected: number;
  /** Requests tried again after a network failure, a timeout, 5xx or 429. */
  retries: number;
  /** The latest failure to deliver, if any (no secrets). */
  lastError?: string;
}

export interface TraceToolOptions<T = unknown> {
  /** The provider's tool call id; one is generated when absent. Must be unique in the chat. */
  toolCallId?: string;
  /** The assistant message (model step) that issued the call. */
  messageId?: string;
  /** Usage of the model step that issued the call. */
  tokens?: TokenUsage;
  /** Turns the tool's return value into the output text; a string as it is and JSON otherwise by default. */
  formatOutput?: (value: T) => string;
}

export interface SnapshotOptions {
  /** The turn this snapshot closes; the chat's open turn by default. */
  turn?: number;
}

export interface TracedeckClient {
  /**
   * Runs `fn` as a traced tool call: a start before, a finish after (ok with its return value as
   * output, or error with the thrown error's message). Resolves to what `fn` returns and rejects
   * with what it throws, the same value or object; Tracedeck's own troubles never reach the caller.
   */
  traceTool<T>(name: string, input: unknown, fn: () => T | PromiseLike<T>, options?: TraceToolOptions<Awaited<T>>): Promise<Awaited<T>>;
  /** Saves the agent's state (a JSON object) at a turn boundary, closing the turn. Never throws. */
  saveSnapshot(state: Record<string, unknown>, options?: SnapshotOptions): void;
  /** Sends what is queued; resolves true once everything queued before the call is settled, false on timeout (default 10 s). */
  flush(options?: { timeoutMs?: number }): Promise<boolean>;
  /** Flushes (default 5 s), then stops: timers cleared, what is left counted as dropped. */
  close(options?: { timeoutMs?: number }): Promise<ClientStats>;
  stats(): ClientStats;
  /** The chat's UUID (or the id given) once known. */
  readonly chatId: string | undefined;
}

export type { JsonValue };
