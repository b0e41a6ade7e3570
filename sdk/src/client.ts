import { capText, errorMessageOf, outputOf, toJsonValue, toolInputOf } from "./json.js";
import { type CallFinish, type CallStart, createQueue, type Entry, type Refusal } from "./queue.js";
import { createReporter } from "./report.js";
import { createSender } from "./sender.js";
import { createTransport } from "./transport.js";
import type { ClientOptions, ClientStats, SnapshotOptions, TraceToolOptions, TracedeckClient } from "./types.js";

export const SDK_VERSION = "0.1.0";

const DEFAULTS = {
  flushIntervalMs: 20,
  maxQueueItems: 10_000,
  maxQueueBytes: 32 * 2 ** 20,
  maxRequestBytes: 4 * 2 ** 20,
  maxFieldsPerRequest: 16,
  maxBatchItems: 500,
  maxInputBytes: 256 * 2 ** 10,
  maxOutputBytes: 2 ** 20,
  requestTimeoutMs: 10_000,
  retryBaseMs: 200,
  retryMaxMs: 10_000,
  maxItemAttempts: 10,
} as const;

type Limits = { -readonly [K in keyof typeof DEFAULTS]: number };

/** The options' numbers, defaulted and checked: a bad setting is the developer's to fix at once. */
function limitsOf(options: ClientOptions): Limits {
  const limits = { ...DEFAULTS } as Limits;
  for (const key of Object.keys(DEFAULTS) as (keyof Limits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    const floor = key === "flushIntervalMs" ? 0 : 1;
    if (typeof value !== "number" || !Number.isFinite(value) || value < floor) throw new TypeError(`@tracedeck/sdk: ${key} must be a number >= ${floor}, not ${String(value)}`);
    limits[key] = value;
  }
  return limits;
}

/** The GraphQL endpoint: the URL given, with /graphql added when it names the server only. */
function endpointOf(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`@tracedeck/sdk: url must be an absolute http(s) URL, not ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new TypeError(`@tracedeck/sdk: url must be http or https, not ${parsed.protocol}`);
  if (!parsed.pathname.replace(/\/+$/, "").endsWith("/graphql")) parsed.pathname = `${parsed.pathname.replace(/\/+$/, "")}/graphql`;
  return parsed;
}

const newCallId = () => `tdsdk_${globalThis.crypto.randomUUID()}`;

export function createClient(options: ClientOptions): TracedeckClient {
  if (!options || typeof options !== "object") throw new TypeError("@tracedeck/sdk: createClient needs options with a url");
  const limits = limitsOf(options);
  const endpoint = endpointOf(options.url);
  const endpointLabel = `${endpoint.origin}${endpoint.pathname}`; // never the user:password part
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw new TypeError("@tracedeck/sdk: no fetch: use Node 20 or later, or pass options.fetch");

  const headers: Record<string, string> = {
    ...options.headers,
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
    "user-agent": `@tracedeck/sdk/${SDK_VERSION}`,
  };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  if (endpoint.username || endpoint.password) {
    headers.authorization ??= `Basic ${btoa(`${decodeURIComponent(endpoint.username)}:${decodeURIComponent(endpoint.password)}`)}`;
    endpoint.username = endpoint.password = "";
  }

  const queue = createQueue({ maxItems: limits.maxQueueItems, maxBytes: limits.maxQueueBytes, maxItemBytes: limits.maxRequestBytes });
  const reporter = createReporter(options, () => queue.ops);
  const transport = createTransport({ endpoint: endpoint.href, headers, timeoutMs: limits.requestTimeoutMs, fetch: fetchImpl });
  const sender = createSender({
    queue,
    reporter,
    transport,
    endpointLabel,
    chat: { id: options.chatId, title: options.chatTitle, workspace: options.workspace },
    maxFields: limits.maxFieldsPerRequest,
    maxRecords: limits.maxBatchItems,
    maxRequestBytes: limits.maxRequestBytes,
    flushIntervalMs: limits.flushIntervalMs,
    retryBaseMs: limits.retryBaseMs,
    retryMaxMs: limits.retryMaxMs,
    maxItemAttempts: limits.maxItemAttempts,
  });
  const boundsText = `at most ${limits.maxQueueItems} items and ${limits.maxQueueBytes} bytes queued, ${limits.maxRequestBytes} bytes per item`;

  /** Reports what the queue refused (a drop, with the ops of the item that never got in), else sends. */
  function refused(refusal: Refusal | undefined, probe: () => Entry, urgent = false): void {
    if (refusal) reporter.dropped(probe(), refusal, boundsText);
    else sender.schedule(urgent);
  }

  const closedDrop = (entry: Entry) => reporter.dropped(entry, "closed", "the client is closed");

  /** A call's start: queued, or counted as dropped. Returns what its finish needs. */
  function begin(name: string, input: unknown, opts: TraceToolOptions<never> | undefined) {
    const startedAtMs = Date.now();
    const t0 = performance.now();
    const call: CallStart = {
      toolCallId: opts?.toolCallId ?? newCallId(),
      toolName: String(name),
      toolInput: toolInputOf(input, limits.maxInputBytes),
      startedAt: new Date(startedAtMs).toISOString(),
    };
    if (opts?.messageId !== undefined) call.messageId = opts.messageId;
    if (options.sessionId !== undefined) call.sessionId = options.sessionId;
    const startEntry = (): Entry => ({ kind: "start", call, ops: 1, seq: 0, bytes: 0, inFlight: false, attempts: 0 });
    if (sender.closed) closedDrop(startEntry());
    else refused(queue.addStart(call), startEntry, true);
    return { call, startedAtMs, t0 };
  }

  function end(begun: ReturnType<typeof begin>, result: { value?: unknown; error?: unknown; failed: boolean }, opts: TraceToolOptions<never> | undefined): void {
    const latencyMs = Math.max(0, Math.round(performance.now() - begun.t0));
    // Finish = start + monotonic latency: the two never disagree, whatever the wall clock did meanwhile.
    const finish: CallFinish = { finishedAt: new Date(begun.startedAtMs + latencyMs).toISOString(), latencyMs };
    if (result.failed) finish.error = capText(errorMessageOf(result.error), limits.maxOutputBytes);
    else {
      let output: string | undefined;
      try {
        output = opts?.formatOutput ? capText(String(opts.formatOutput(result.value as never)), limits.maxOutputBytes) : outputOf(result.value, limits.maxOutputBytes);
      } catch (error) {
        output = `[formatOutput failed: ${errorMessageOf(error)}]`;
      }
      if (output !== undefined) finish.output = output;
    }
    if (opts?.tokens) {
      const tokens = toJsonValue(opts.tokens);
      if (tokens && typeof tokens === "object" && !Array.isArray(tokens)) finish.tokens = tokens as CallFinish["tokens"];
    }
    const recordEntry = (): Entry => ({ kind: "record", call: begun.call, finish, ops: 1, seq: 0, bytes: 0, inFlight: false, attempts: 0 });
    if (sender.closed) closedDrop(recordEntry());
    else refused(queue.addFinish(begun.call, finish), recordEntry);
  }

  return {
    async traceTool<T>(name: string, input: unknown, fn: () => T | PromiseLike<T>, opts?: TraceToolOptions<Awaited<T>>): Promise<Awaited<T>> {
      const o = opts as TraceToolOptions<never> | undefined;
      let begun: ReturnType<typeof begin> | undefined;
      try {
        begun = begin(name, input, o);
      } catch {
        begun = undefined; // Tracedeck's trouble is never the tool's
      }
      let value: Awaited<T>;
      try {
        value = await fn();
      } catch (error) {
        if (begun) {
          try {
            end(begun, { error, failed: true }, o);
          } catch {
            // as above
          }
        }
        throw error;
      }
      if (begun) {
        try {
          end(begun, { value, failed: false }, o);
        } catch {
          // as above
        }
      }
      return value;
    },

    saveSnapshot(state: Record<string, unknown>, opts?: SnapshotOptions): void {
      try {
        const json = toJsonValue(state) ?? {};
        const turn = opts?.turn;
        const snapshotEntry = (): Entry => ({ kind: "snapshot", state: json, turn, explicitTurn: turn !== undefined, ops: 1, seq: 0, bytes: 0, inFlight: false, attempts: 0 });
        if (sender.closed) closedDrop(snapshotEntry());
        else refused(queue.addSnapshot(json, turn), snapshotEntry);
      } catch {
        // never surfaces to the agent
      }
    },

    flush(opts?: { timeoutMs?: number }): Promise<boolean> {
      return sender.flush(opts?.timeoutMs ?? 10_000);
    },

    async close(opts?: { timeoutMs?: number }): Promise<ClientStats> {
      if (!sender.closed) {
        await sender.flush(opts?.timeoutMs ?? 5_000);
        sender.close(closedDrop);
      }
      return reporter.stats();
    },

    stats: () => reporter.stats(),

    get chatId() {
      return sender.chatId;
    },
  };
}
