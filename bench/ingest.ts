// Batch ingest over HTTP (recordToolTraces, 500 items a request) beside the raw multi-row INSERT of
// the same rows, alternated batch by batch so that the machine's noise falls on both.
import { gql } from "./gql.js";
import { batchItems, type RawDb, rawInsertBatch } from "./seed.js";
import { round } from "./stats.js";

export const BATCH = 500;
const RECORD = `mutation Record($input: RecordToolTracesInput!) { recordToolTraces(input: $input) { __typename ... on RecordToolTracesPayload { traces { id } } ... on Error { message } } }`;

/** One recordToolTraces request; throws on anything but a payload with every trace. */
export async function recordBatch(graphqlUrl: string, chatId: string, from: number, count: number): Promise<void> {
  const body = await gql<{ recordToolTraces: { __typename: string; traces?: unknown[]; message?: string } }>(graphqlUrl, RECORD, {
    input: { items: batchItems(chatId, from, count) },
  });
  const result = body.data?.recordToolTraces;
  if (result?.__typename !== "RecordToolTracesPayload" || result.traces?.length !== count) {
    throw new Error(`recordToolTraces: ${result?.__typename ?? ""} ${result?.message ?? JSON.stringify(body.errors ?? body).slice(0, 300)}`);
  }
}

export interface BatchResult {
  batches: number;
  rows: number;
  httpRowsPerSec: number;
  rawRowsPerSec: number;
  httpBatchMs: number;
  rawBatchMs: number;
}

export async function measureBatch(options: {
  graphqlUrl: string;
  chatId: string;
  raw: RawDb;
  rawChat: { id: string; sessionId: string };
  seconds: number;
  log: (line: string) => void;
}): Promise<BatchResult> {
  let httpMs = 0;
  let rawMs = 0;
  let batches = 0;
  let next = 0;
  const timed = async (fn: () => Promise<void>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  // Two batches each first, not counted: the first statements compile and plan.
  for (let i = 0; i < 2; i++, next += BATCH) {
    await recordBatch(options.graphqlUrl, options.chatId, next, BATCH);
    await rawInsertBatch(options.raw, options.rawChat.id, options.rawChat.sessionId, next, BATCH);
  }
  let lastLog = performance.now();
  while (batches < 10 || httpMs < options.seconds * 1000) {
    const http = () => recordBatch(options.graphqlUrl, options.chatId, next, BATCH);
    const raw = () => rawInsertBatch(options.raw, options.rawChat.id, options.rawChat.sessionId, next, BATCH);
    // Alternate which goes first.
    if (batches % 2 === 0) {
      httpMs += await timed(http);
      rawMs += await timed(raw);
    } else {
      rawMs += await timed(raw);
      httpMs += await timed(http);
    }
    batches++;
    next += BATCH;
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      options.log(`    ${batches} batches: recordToolTraces ${Math.round((batches * BATCH) / (httpMs / 1000))}/s, raw ${Math.round((batches * BATCH) / (rawMs / 1000))}/s`);
    }
  }
  const rows = batches * BATCH;
  return {
    batches,
    rows,
    httpRowsPerSec: round(rows / (httpMs / 1000), 0)!,
    rawRowsPerSec: round(rows / (rawMs / 1000), 0)!,
    httpBatchMs: round(httpMs / batches, 1)!,
    rawBatchMs: round(rawMs / batches, 1)!,
  };
}

/** Sends recordToolTraces batches from `concurrency` clients until `total` rows or the time limit. */
export async function ingestOverHttp(options: {
  graphqlUrl: string;
  chatId: string;
  total: number;
  maxSeconds: number;
  concurrency: number;
  log: (line: string) => void;
}): Promise<{ rows: number; seconds: number; rowsPerSec: number; stoppedByTime: boolean }> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + options.maxSeconds * 1000;
  let lastLog = t0;
  const worker = async () => {
    while (next < options.total && performance.now() < deadline) {
      const from = next;
      const count = Math.min(BATCH, options.total - from);
      next += count;
      await recordBatch(options.graphqlUrl, options.chatId, from, count);
      done += count;
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        const s = (lastLog - t0) / 1000;
        options.log(`    ${done.toLocaleString("en")} / ${options.total.toLocaleString("en")} traces over HTTP, ${Math.round(done / s)}/s`);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { rows: done, seconds: round(seconds, 1)!, rowsPerSec: round(done / seconds, 0)!, stoppedByTime: done < options.total };
}
