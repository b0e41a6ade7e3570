import { getPrisma } from "../db/client.js";
import type { AgentMessage, AgentSnapshotRevision, AgentTurn, Chat, PrismaClient, ToolTrace } from "../db/generated/prisma/client.js";

/**
 * The rows live frames show, read once per event per process and shared by every subscriber whose
 * frame needs them, instead of once per subscriber.
 *
 * Why sharing is correct: events are published after their commit, so a read that starts after the
 * process has heard of event `seq` of a chat sees that event's change (or a later one). The key is
 * (model, id, chat, the chat's latest event heard by this process): a row shared under it was read
 * after that event was heard, so it is the row "as it stands now" as far as the process knows, for a
 * live frame and for a replay of an old event alike; the next event of the chat starts a new key.
 * The writer may prime the key of its own event with the row it committed (prime()). Requests made
 * in the same tick are gathered into one `findMany` per model, DataLoader-style.
 *
 * Bounded: at most `maxEntries` rows and about `maxBytes` of them, each kept at most `ttlMs` after
 * its read; a row larger than `maxEntryBytes` is shared only by the requests that joined its read.
 * A subscriber that falls further behind than the cache reaches reads again: slower, still correct.
 * Rows are shared objects: resolvers must not change them (copy, as toolTraceStarted's asStarted does).
 */
export interface LiveRowsOptions {
  maxEntries: number;
  maxBytes: number;
  maxEntryBytes: number;
  ttlMs: number;
  /** Ids per statement. */
  maxBatch: number;
  /** Chats whose latest heard event is remembered. */
  maxChats: number;
}

export const defaultLiveRowsOptions: LiveRowsOptions = {
  // A 1,000-item recordToolTraces batch is 2,000 events: subscribers spread over it still share.
  maxEntries: 4_096,
  maxBytes: 16 * 1024 * 1024,
  maxEntryBytes: 1024 * 1024,
  ttlMs: 10_000,
  maxBatch: 500,
  maxChats: 50_000,
};

interface Rows {
  trace: ToolTrace;
  revision: AgentSnapshotRevision;
  turn: AgentTurn;
  message: AgentMessage;
  chat: Chat;
}
export type LiveModel = keyof Rows;

type Reader<M extends LiveModel> = (prisma: PrismaClient, ids: string[]) => Promise<Rows[M][]>;
const readers: { [M in LiveModel]: Reader<M> } = {
  trace: (prisma, ids) => prisma.toolTrace.findMany({ where: { id: { in: ids } } }),
  revision: (prisma, ids) => prisma.agentSnapshotRevision.findMany({ where: { id: { in: ids } } }),
  turn: (prisma, ids) => prisma.agentTurn.findMany({ where: { id: { in: ids } } }),
  message: (prisma, ids) => prisma.agentMessage.findMany({ where: { id: { in: ids } } }),
  chat: (prisma, ids) => prisma.chat.findMany({ where: { id: { in: ids } } }),
};

interface Entry {
  promise: Promise<unknown>;
  /** When its read finished (0 while under way). */
  settledAt: number;
  bytes: number;
}

interface Waiter {
  resolve(row: unknown): void;
  reject(error: unknown): void;
}

export interface LiveRowsStats {
  /** Requests answered from an entry (read under way or done). */
  hits: number;
  /** Requests that needed a read. */
  misses: number;
  /** Statements sent. */
  reads: number;
  entries: number;
  bytes: number;
}

export class LiveRows {
  private readonly entries = new Map<string, Entry>();
  /** Each chat's latest event seq heard by this process (see heard()). */
  private readonly latest = new Map<string, number>();
  private bytes = 0;
  /** Ids to read in the next flush, by model; a request for an id already queued joins it. */
  private queued = new Map<LiveModel, Map<string, { promise: Promise<unknown>; waiter: Waiter }>>();
  private flushScheduled = false;
  private readonly counters = { hits: 0, misses: 0, reads: 0 };

  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: LiveRowsOptions = defaultLiveRowsOptions,
  ) {}

  /**
   * `model`'s row `id` as it stands after event `seq` of chat `chatId` (or later), null if there is
   * none. Call only for an event this process has heard (published, replayed from the log or read as
   * a stream's opening seq): the read may start at once.
   */
  load<M extends LiveModel>(model: M, id: string, chatId: string, seq: number): Promise<Rows[M] | null> {
    const now = Date.now();
    this.evict(now);
    // Shared as of the chat's latest event this process has heard, not the event being shown: a
    // replay of an old event shows the row as it stands now. A chat not heard of is read unshared.
    const latest = this.latest.get(chatId);
    if (latest === undefined) {
      this.counters.misses++;
      return this.enqueue(model, id) as Promise<Rows[M] | null>;
    }
    const key = `${model}:${id}@${chatId}:${Math.max(seq, latest)}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.counters.hits++;
      return hit.promise as Promise<Rows[M] | null>;
    }
    this.counters.misses++;
    const promise = this.enqueue(model, id) as Promise<Rows[M] | null>;
    const entry: Entry = { promise, settledAt: 0, bytes: 0 };
    this.entries.set(key, entry);
    promise.then(
      (row) => {
        if (this.entries.get(key) !== entry) return; // evicted while under way
        const bytes = approximateBytes(row, this.options.maxEntryBytes);
        if (bytes > this.options.maxEntryBytes) {
          this.entries.delete(key);
          return;
        }
        entry.settledAt = Date.now();
        entry.bytes = bytes;
        this.bytes += bytes;
        this.evict(entry.settledAt);
      },
      () => {
        // A failed read is not kept: the next request reads again (e.g. after an outage).
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return promise;
  }

  /**
   * The process has heard event `seq` of the chat (the event router calls this for every event,
   * before any frame of it is resolved): later loads of the chat's rows share reads made from now.
   */
  heard(chatId: string, seq: number): void {
    const known = this.latest.get(chatId);
    if (known !== undefined && known >= seq) return;
    this.latest.delete(chatId); // re-inserted last: the map's order is the order chats were heard in
    this.latest.set(chatId, seq);
    // Bounded: a chat forgotten here is read unshared until it is heard again.
    if (this.latest.size > this.options.maxChats) this.latest.delete(this.latest.keys().next().value!);
  }

  /**
   * A row its writer has just committed, given before the event is published: this process's
   * subscribers of that event then read nothing. Only the writer's own row as of that event.
   */
  prime<M extends LiveModel>(model: M, row: Rows[M], chatId: string, seq: number): void {
    const key = `${model}:${row.id}@${chatId}:${seq}`;
    if (this.entries.has(key)) return;
    const bytes = approximateBytes(row, this.options.maxEntryBytes);
    if (bytes > this.options.maxEntryBytes) return;
    const now = Date.now();
    this.entries.set(key, { promise: Promise.resolve(row), settledAt: now, bytes });
    this.bytes += bytes;
    this.evict(now);
  }

  stats(): LiveRowsStats {
    return { ...this.counters, entries: this.entries.size, bytes: this.bytes };
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /** Oldest first (the map keeps insertion order): over a bound, or read longer ago than the ttl. */
  private evict(now: number): void {
    const { maxEntries, maxBytes, ttlMs } = this.options;
    for (const [key, entry] of this.entries) {
      const expired = entry.settledAt !== 0 && now - entry.settledAt > ttlMs;
      if (!expired && this.entries.size <= maxEntries && this.bytes <= maxBytes) return;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }

  private enqueue(model: LiveModel, id: string): Promise<unknown> {
    let ids = this.queued.get(model);
    if (!ids) this.queued.set(model, (ids = new Map()));
    const queued = ids.get(id);
    if (queued) return queued.promise;
    let waiter!: Waiter;
    const promise = new Promise<unknown>((resolve, reject) => (waiter = { resolve, reject }));
    ids.set(id, { promise, waiter });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the promise jobs under way (every subscriber's resolver of this event runs in them),
      // as DataLoader does: one read serves them all.
      void Promise.resolve().then(() => process.nextTick(() => this.flush()));
    }
    return promise;
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.queued;
    this.queued = new Map();
    for (const [model, ids] of queued) {
      const all = [...ids.entries()];
      for (let i = 0; i < all.length; i += this.options.maxBatch) {
        const chunk = all.slice(i, i + this.options.maxBatch);
        this.counters.reads++;
        let read: Promise<{ id: string }[]>;
        try {
          read = readers[model](this.prisma, chunk.map(([id]) => id));
        } catch (error) {
          read = Promise.reject(error);
        }
        read.then(
          (rows) => {
            const byId = new Map(rows.map((row) => [row.id, row]));
            for (const [id, { waiter }] of chunk) waiter.resolve(byId.get(id) ?? null);
          },
          (error: unknown) => {
            for (const [, { waiter }] of chunk) waiter.reject(error);
          },
        );
      }
    }
  }
}

/** A row's rough size in memory (string lengths, 8 per scalar), counting no further than `limit`. */
export function approximateBytes(value: unknown, limit: number): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length && total <= limit) {
    const v = stack.pop();
    if (typeof v === "string") total += 16 + v.length * 2;
    else if (v === null || typeof v !== "object") total += 8;
    else if (v instanceof Date) total += 24;
    else if (Array.isArray(v)) {
      total += 16;
      for (const item of v) stack.push(item);
    } else {
      total += 32;
      for (const [k, item] of Object.entries(v)) {
        total += k.length;
        stack.push(item);
      }
    }
  }
  return total;
}

const byClient = new WeakMap<PrismaClient, LiveRows>();

/** The process's shared rows for its Prisma client (a test that swaps clients gets a fresh cache). */
export function liveRows(prisma: PrismaClient = getPrisma()): LiveRows {
  let rows = byClient.get(prisma);
  if (!rows) byClient.set(prisma, (rows = new LiveRows(prisma)));
  return rows;
}
