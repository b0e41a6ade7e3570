// Trace retention (TRACE_RETENTION_DAYS): a periodic pruner that deletes traces and events older
// than the limit in small batches (retention-batch.ts), pausing between them so that ingest, which
// locks the same chat rows, never waits for more than one short batch. Off by default: without a
// limit nothing is deleted and no timer runs.
import type { RetentionConfig } from "../config.js";
import { isDatabaseUnavailable } from "../db/availability.js";
import { publishChatEvents } from "../events/pubsub.js";
import type { Logger } from "../logger.js";
import type { ServiceDeps } from "./deps.js";
import { pruneChatBatch } from "./retention-batch.js";

const DAY_MS = 86_400_000;
/**
 * Between two batches the pruner waits as long as the batch took (at least 5 ms): the writes queued
 * meanwhile go first, and a backlog takes at most about half the database's time (PGlite has one
 * connection for everything).
 */
const MIN_PAUSE_MS = 5;

export interface RetentionRun {
  startedAt: Date;
  cutoff: Date;
  traces: number;
  steps: number;
  events: number;
  chats: number;
  /** Transactions that changed something. */
  batches: number;
  durationMs: number;
}

export interface RetentionTotals {
  traces: bigint;
  steps: bigint;
  events: bigint;
  chats: bigint;
  runs: number;
}

export interface RetentionReport {
  enabled: boolean;
  days: number | null;
  intervalSeconds: number;
  batchSize: number;
  lastRunAt: Date | null;
  lastRun: Omit<RetentionRun, "startedAt"> | null;
  totals: RetentionTotals;
}

const OFF: RetentionConfig = { days: null, intervalMs: 60_000, batchSize: 500 };

export function createRetentionService(deps: ServiceDeps) {
  const { prisma, log } = deps;
  let settings: RetentionConfig = OFF;

  /** Chats with something due: idle ones, expired finished traces, or an expired oldest event. */
  async function chatsDue(cutoff: Date): Promise<string[]> {
    const rows = await prisma.$queryRaw<{ id: string }[]>`
      SELECT c.id::text FROM chats c
       WHERE c.last_activity_at < ${cutoff}
          OR EXISTS (SELECT 1 FROM chat_events e WHERE e.chat_id = c.id AND e.seq = c.pruned_through_seq + 1 AND e.created_at < ${cutoff})
          OR EXISTS (SELECT 1 FROM tool_traces t WHERE t.chat_id = c.id AND t.started_at < ${cutoff} AND t.status <> 'running')
       ORDER BY c.id`;
    return rows.map((r) => r.id);
  }

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  return {
    /** The app sets the configuration's settings (retentionConfigFrom); until then retention is off. */
    configure(next: RetentionConfig): void {
      settings = { ...next };
    },

    get settings(): Readonly<RetentionConfig> {
      return settings;
    },

    /**
     * One pass over every chat with something due, batch by batch; null when retention is off (then
     * it reads and writes nothing). `signal` stops it between two batches.
     */
    async prune(options: { now?: Date; signal?: AbortSignal } = {}): Promise<RetentionRun | null> {
      if (settings.days === null) return null;
      const startedAt = options.now ?? new Date();
      const began = performance.now();
      const cutoff = new Date(startedAt.getTime() - settings.days * DAY_MS);
      const run: RetentionRun = { startedAt, cutoff, traces: 0, steps: 0, events: 0, chats: 0, batches: 0, durationMs: 0 };
      for (const chatId of await chatsDue(cutoff)) {
        for (let more = true; more && !options.signal?.aborted; ) {
          const batchStart = performance.now();
          const batch = await prisma.$transaction((tx) => pruneChatBatch(tx, chatId, cutoff, settings.batchSize), { maxWait: 10_000, timeout: 30_000 });
          publishChatEvents(deps.bus, batch.publish);
          if (batch.traces + batch.steps + batch.events > 0 || batch.chatDeleted) run.batches++;
          run.traces += batch.traces;
          run.steps += batch.steps;
          run.events += batch.events;
          if (batch.chatDeleted) run.chats++;
          more = batch.more;
          await pause(Math.max(MIN_PAUSE_MS, performance.now() - batchStart));
        }
        if (options.signal?.aborted) break;
      }
      run.durationMs = Math.round(performance.now() - began);
      await prisma.$executeRaw`
        UPDATE retention_status SET last_run_at = ${new Date()}, last_cutoff = ${cutoff}, last_traces = ${run.traces}, last_steps = ${run.steps},
               last_events = ${run.events}, last_chats = ${run.chats}, last_batches = ${run.batches}, last_duration_ms = ${run.durationMs}, runs = runs + 1
         WHERE id = 1`;
      if (run.batches > 0) log.info("retention.pruned", { ...run, startedAt: startedAt.toISOString(), cutoff: cutoff.toISOString() });
      return run;
    },

    /** What the pruner did: the latest run and the totals, whichever process ran them. */
    async report(): Promise<RetentionReport> {
      const row = await prisma.retentionStatus.findUnique({ where: { id: 1 } });
      const totals = { traces: row?.totalTraces ?? 0n, steps: row?.totalSteps ?? 0n, events: row?.totalEvents ?? 0n, chats: row?.totalChats ?? 0n, runs: row?.runs ?? 0 };
      const lastRun =
        row?.lastRunAt && row.lastCutoff
          ? { cutoff: row.lastCutoff, traces: row.lastTraces, steps: row.lastSteps, events: row.lastEvents, chats: row.lastChats, batches: row.lastBatches, durationMs: row.lastDurationMs }
          : null;
      return {
        enabled: settings.days !== null,
        days: settings.days,
        intervalSeconds: settings.intervalMs / 1000,
        batchSize: settings.batchSize,
        lastRunAt: row?.lastRunAt ?? null,
        lastRun,
        totals,
      };
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;

/**
 * Runs the pruner every intervalMs (and once at once), one run at a time; stop() ends the timer and
 * waits for a run under way to finish its batch. Retention off: no timer at all.
 */
export function scheduleRetention(retention: RetentionService, log: Logger): { stop(): Promise<void> } {
  const { days, intervalMs } = retention.settings;
  if (days === null) return { stop: async () => {} };
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running || abort.signal.aborted) return; // a run longer than the interval: the next tick waits for the one after
    running = retention
      .prune({ signal: abort.signal })
      .then(
        () => {},
        (error: unknown) =>
          isDatabaseUnavailable(error) ? log.warn("retention.skipped", { reason: "database unavailable" }) : log.error("retention.failed", { error }),
      )
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
