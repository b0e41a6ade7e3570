// Start+finish load from concurrent HTTP clients (autocannon). Each connection runs start, then
// finish by the traceId from start's answer, again and again; its chat is pinned per connection.
import autocannon, { type Client } from "autocannon";
import { FINISH, START } from "./gql.js";
import { percentile, round } from "./stats.js";

export interface LoadResult {
  seconds: number;
  traces: number;
  tracesPerSec: number;
  /** Per request (one mutation), as autocannon timed it. */
  requestP50Ms: number | null;
  requestP99Ms: number | null;
  /** Per trace: start sent to finish answered. */
  traceP50Ms: number | null;
  traceP99Ms: number | null;
  failures: number;
  firstFailure?: string;
}

interface Answer {
  data?: Record<string, { __typename: string; id?: string; message?: string } | null>;
  errors?: { message: string }[];
}

const parse = (status: number, body: string, field: string) => {
  try {
    const json = JSON.parse(body) as Answer;
    const result = json.data?.[field];
    if (status === 200 && result?.__typename === "ToolTrace" && result.id) return { id: result.id };
    return { failure: `${status} ${result?.__typename ?? ""} ${result?.message ?? json.errors?.[0]?.message ?? body.slice(0, 120)}` };
  } catch {
    return { failure: `${status} ${body.slice(0, 120)}` };
  }
};

/** Raw samples of one or more runs, so alternated rounds are summed before percentiles are taken. */
export interface LoadSamples {
  seconds: number;
  traces: number;
  requestMs: number[];
  traceMs: number[];
  failures: number;
  firstFailure?: string;
}

export const emptySamples = (): LoadSamples => ({ seconds: 0, traces: 0, requestMs: [], traceMs: [], failures: 0 });

export function summarize(samples: LoadSamples): LoadResult {
  return {
    seconds: round(samples.seconds, 2)!,
    traces: samples.traces,
    tracesPerSec: round(samples.traces / samples.seconds)!,
    requestP50Ms: round(percentile(samples.requestMs, 0.5)),
    requestP99Ms: round(percentile(samples.requestMs, 0.99)),
    traceP50Ms: round(percentile(samples.traceMs, 0.5)),
    traceP99Ms: round(percentile(samples.traceMs, 0.99)),
    failures: samples.failures,
    ...(samples.firstFailure ? { firstFailure: samples.firstFailure } : {}),
  };
}

/** Runs the start+finish load for `seconds`, adding its samples to `into`. */
export async function startFinishLoad(
  options: { url: string; chatIds: string[]; connections: number; seconds: number },
  into: LoadSamples = emptySamples(),
): Promise<LoadSamples> {
  const { requestMs, traceMs } = into;
  let traces = 0;
  const fail = (why: string) => {
    into.failures++;
    into.firstFailure ??= why;
  };
  let nextClient = 0;
  const json = { "content-type": "application/json" };
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 30,
    method: "POST",
    headers: json,
    // The chat goes into the connection's initial context, which autocannon restores at each cycle.
    setupClient: (client: Client) => {
      client.requestIterator.initialContext = { chatId: options.chatIds[nextClient++ % options.chatIds.length] };
      client.requestIterator.resetContext();
      client.requestIterator.rebuildRequest();
    },
    requests: [
      {
        method: "POST",
        setupRequest: (req, context) => {
          context.t0 = performance.now();
          const input = { chatId: context.chatId ?? options.chatIds[0], toolName: "read_file", toolInput: { path: "src/index.ts" } };
          return { ...req, headers: json, body: JSON.stringify({ query: START, variables: { input } }) };
        },
        onResponse: (status, body, context) => {
          const answer = parse(status, body, "startToolTrace");
          if (answer.id) context.traceId = answer.id;
          else fail(`start: ${answer.failure}`);
        },
      },
      {
        method: "POST",
        // No trace to finish (start failed): undefined makes autocannon begin the sequence again.
        setupRequest: (req, context) =>
          typeof context.traceId === "string"
            ? { ...req, headers: json, body: JSON.stringify({ query: FINISH, variables: { input: { traceId: context.traceId, output: "ok" } } }) }
            : undefined,
        onResponse: (status, body, context) => {
          const answer = parse(status, body, "finishToolTrace");
          if (!answer.id) return fail(`finish: ${answer.failure}`);
          traces++;
          traceMs.push(performance.now() - (context.t0 as number));
        },
      },
    ],
  });
  instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => requestMs.push(responseTime));
  const t0 = performance.now();
  await instance;
  into.seconds += (performance.now() - t0) / 1000;
  into.traces += traces;
  return into;
}
