import { type Entry, kindOf } from "./queue.js";
import type { ClientOptions, ClientStats, DropInfo, RejectInfo } from "./types.js";

/**
 * The client's counts and what it tells the agent: callbacks per dropped or rejected item, and one
 * warning per kind of trouble (a flood of lines would be worse than none). Callbacks and the logger
 * run inside try/catch: reporting must never break the agent.
 */
export function createReporter(options: Pick<ClientOptions, "onDrop" | "onReject" | "logger">, pendingOps: () => number) {
  const counts = { sent: 0, dropped: 0, rejected: 0, retries: 0 };
  let lastError: string | undefined;
  const warned = new Set<string>();
  const logger = options.logger === undefined ? console : options.logger;

  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // the agent's callback or logger failed: not ours to surface
    }
  };

  function warnOnce(kind: string, message: string): void {
    if (warned.has(kind) || !logger) return;
    warned.add(kind);
    safely(() => logger.warn(`[tracedeck] ${message}`));
  }

  const about = (entry: Entry) => (entry.kind === "snapshot" ? {} : { toolName: entry.call.toolName, toolCallId: entry.call.toolCallId });

  return {
    warnOnce,
    /** Lets a kind of warning be given again (an outage that ended may come back). */
    rearm(kind: string): void {
      warned.delete(kind);
    },
    sent(entries: readonly Entry[]): void {
      for (const e of entries) counts.sent += e.ops;
    },
    retried(reason: string): void {
      counts.retries++;
      lastError = reason;
    },
    dropped(entry: Entry, reason: DropInfo["reason"], limits: string): void {
      counts.dropped += entry.ops;
      const info: DropInfo = { reason, kind: kindOf(entry), ...about(entry), count: entry.ops, totalDropped: counts.dropped };
      if (options.onDrop) safely(() => options.onDrop!(info));
      warnOnce(`drop:${reason}`, `dropping trace data (${reason.replace("_", " ")}; ${limits}); client.stats().dropped counts what was lost`);
    },
    rejected(entry: Entry, message: string): void {
      counts.rejected += entry.ops;
      lastError = message;
      const info: RejectInfo = { kind: kindOf(entry), ...about(entry), count: entry.ops, message, totalRejected: counts.rejected };
      if (options.onReject) safely(() => options.onReject!(info));
      warnOnce("reject", `the server refused trace data: ${message}; client.stats().rejected counts it`);
    },
    stats(): ClientStats {
      return { ...counts, pending: pendingOps(), ...(lastError !== undefined ? { lastError } : {}) };
    },
  };
}

export type Reporter = ReturnType<typeof createReporter>;
