// Cursor order on PostgreSQL (PGlite's single connection serialises everything, so it cannot show
// this). Writer 1 takes its seq and keeps its transaction open while writer 2 writes to the same chat;
// a reader polls in between, each time replaying chat_events after the last seq it saw, as the API's
// resume stream does. It must never see a later event without the earlier one, and must end with every
// event exactly once, in order.
//
// The same scenario and the same checker run twice: through the real locking path (writeChats), which
// must pass, and through a naive writer drawing seq from a plain PostgreSQL SEQUENCE at insert time,
// which the checker must catch. The second run is what shows this test can fail.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { createEventBus } from "../../server/events/pubsub.js";
import { silentLogger } from "../../server/logger.js";
import { writeChats } from "../../server/services/chat-writes.js";
import type { ServiceDeps } from "../../server/services/deps.js";
import { createServices, type Services } from "../../server/services/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const ARRIVAL_MS = 30_000;

interface SeenEvent {
  seq: number;
  kind: string;
  subject_id: string;
}

/**
 * The checker: a reader that replays chat_events after the last seq it saw, like a resuming client,
 * and records every time the log shows it a later event while an earlier one is missing.
 */
class CursorReader {
  last = 0;
  readonly seen: SeenEvent[] = [];
  readonly problems: string[] = [];
  polls = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: pg.Client,
    private readonly chatId: string,
  ) {}

  /** One replay after the cursor; polls run one after another. */
  poll(): Promise<void> {
    const run = this.queue.then(async () => {
      const { rows } = await this.client.query<SeenEvent>(
        `SELECT seq, kind::text AS kind, subject_id::text AS subject_id
           FROM chat_events WHERE chat_id = $1 AND seq > $2 ORDER BY seq`,
        [this.chatId, this.last],
      );
      this.polls++;
      for (const row of rows) {
        if (row.seq !== this.last + 1) {
          this.problems.push(`after seq ${this.last} the reader saw seq ${row.seq} without seq ${this.last + 1}..${row.seq - 1}`);
        }
        this.seen.push(row);
        this.last = Math.max(this.last, row.seq);
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Polls in the background until stopped: more chances to catch a commit between two others. */
  pollContinuously(): { stop(): Promise<void> } {
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        await this.poll();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    return {
      async stop() {
        stopped = true;
        await loop;
      },
    };
  }

  /** After the writes: every committed event seen exactly once, in commit-log order. */
  finalCheck(committed: SeenEvent[]): string[] {
    const problems = [...this.problems];
    const seenSeqs = this.seen.map((e) => e.seq);
    const counts = new Map<number, number>();
    for (const seq of seenSeqs) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    for (const [seq, n] of counts) if (n > 1) problems.push(`seq ${seq} was seen ${n} times`);
    for (const event of committed) if (!counts.has(event.seq)) problems.push(`seq ${event.seq} (${event.kind}) was never seen`);
    for (let i = 1; i < seenSeqs.length; i++) {
      if (seenSeqs[i]! <= seenSeqs[i - 1]!) problems.push(`seq ${seenSeqs[i]} was seen after seq ${seenSeqs[i - 1]}`);
    }
    return problems;
  }
}

/** One way of writing events to a chat. */
interface HeldWrite {
  seq: number;
  release(): void;
  committed: Promise<unknown>;
}

interface Writer {
  /** Takes a seq and keeps the transaction open; resolves once the seq is taken. */
  holdOpen(chatId: string): Promise<HeldWrite>;
  /** Writer 2: a complete write of two events to the same chat. */
  write(chatId: string): Promise<unknown>;
}

interface ScenarioResult {
  problems: string[];
  seen: SeenEvent[];
  committed: SeenEvent[];
  writer1Seq: number;
  /** Writer 2 was seen waiting on a lock while writer 1's transaction was open. */
  writer2Blocked: boolean;
  /** Writer 2 committed while writer 1's transaction was still open. */
  writer2CommittedFirst: boolean;
  pollsWhileWriter1Open: number;
}

let db: TestDatabase;
let services: Services;
let deps: ServiceDeps;
let reader: pg.Client;
let monitor: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = { prisma: db.prisma, bus: createEventBus(), limits: defaultLimits, log: silentLogger };
  services = createServices(deps);
  reader = new pg.Client({ connectionString: db.location });
  monitor = new pg.Client({ connectionString: db.location });
  await reader.connect();
  await monitor.connect();
});

afterAll(async () => {
  await reader?.end();
  await monitor?.end();
  await db?.destroy();
});

async function sessionsWaitingOnLocks(): Promise<number> {
  const { rows } = await monitor.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return rows[0]!.n;
}

async function runScenario(writer: Writer, chatId: string): Promise<ScenarioResult> {
  const cursor = new CursorReader(reader, chatId);
  await cursor.poll(); // the chat as it was: chat_created
  const background = cursor.pollContinuously();
  try {
    return await scenario(writer, chatId, cursor);
  } finally {
    await background.stop().catch(() => {});
  }
}

async function scenario(writer: Writer, chatId: string, cursor: CursorReader): Promise<ScenarioResult> {
  const first = await writer.holdOpen(chatId);
  try {
    return await whileWriter1Holds(writer, chatId, cursor, first);
  } finally {
    first.release(); // idempotent; frees the transaction when an assertion failed midway
  }
}

async function whileWriter1Holds(writer: Writer, chatId: string, cursor: CursorReader, first: HeldWrite): Promise<ScenarioResult> {
  await cursor.poll();
  const pollsBefore = cursor.polls;

  let writer2Settled = false;
  const second = writer.write(chatId).finally(() => {
    writer2Settled = true;
  });
  second.catch(() => {}); // awaited below

  // Writer 2 now either waits for writer 1 (the row lock) or, with no lock, commits: wait for either.
  let writer2Blocked = false;
  const deadline = Date.now() + ARRIVAL_MS;
  while (!writer2Settled) {
    if ((await sessionsWaitingOnLocks()) > 0) {
      writer2Blocked = true;
      break;
    }
    if (Date.now() > deadline) throw new Error("writer 2 neither committed nor waited for a lock");
    await new Promise((r) => setTimeout(r, 10));
  }
  const writer2CommittedFirst = writer2Settled;
  // The reader replays while writer 1 is still open (and, without the lock, after writer 2 committed).
  await cursor.poll();
  await cursor.poll();
  const pollsWhileWriter1Open = cursor.polls - pollsBefore;

  first.release();
  await first.committed;
  await second;
  await cursor.poll();

  const { rows: committed } = await reader.query<SeenEvent>(
    `SELECT seq, kind::text AS kind, subject_id::text AS subject_id FROM chat_events WHERE chat_id = $1 ORDER BY seq`,
    [chatId],
  );
  return {
    problems: cursor.finalCheck(committed),
    seen: cursor.seen,
    committed,
    writer1Seq: first.seq,
    writer2Blocked,
    writer2CommittedFirst,
    pollsWhileWriter1Open,
  };
}

/** Tracedeck's path: the seq comes from the chat row's counter, taken under the row's lock. */
const lockedWriter: Writer = {
  holdOpen(chatId) {
    return new Promise((resolveTaken, rejectTaken) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const committed = writeChats(deps, [chatId], async (w) => {
        // Its only lock is the one writeChats takes on the chat row; the event is written at commit.
        w.events.add(chatId, "chat_updated", chatId);
        resolveTaken({ seq: w.chats.get(chatId)!.eventSeq + 1, release, committed });
        await gate;
      });
      committed.catch(rejectTaken);
    });
  },
  write(chatId) {
    return services.traces.record({ chatId, toolName: "writer_2", toolInput: { n: 2 }, output: "done" });
  },
};

/** The design the issue rules out: seq drawn from a database sequence at insert time, no row lock. */
const naiveSequenceWriter: Writer = {
  holdOpen(chatId) {
    return new Promise((resolveTaken, rejectTaken) => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const committed = db.prisma.$transaction(async (tx) => {
        const [row] = await tx.$queryRaw<{ seq: number }[]>`
          INSERT INTO chat_events (chat_id, seq, kind, subject_id)
          VALUES (${chatId}::uuid, nextval('naive_event_seq'), 'chat_updated', ${chatId}::uuid)
          RETURNING seq`;
        resolveTaken({ seq: row!.seq, release, committed });
        await gate;
      });
      committed.catch(rejectTaken);
    });
  },
  write(chatId) {
    return db.prisma.$transaction(async (tx) => {
      const traceId = randomUUID();
      await tx.$executeRaw`
        INSERT INTO chat_events (chat_id, seq, kind, subject_id)
        VALUES (${chatId}::uuid, nextval('naive_event_seq'), 'trace_started', ${traceId}::uuid)`;
      await tx.$executeRaw`
        INSERT INTO chat_events (chat_id, seq, kind, subject_id)
        VALUES (${chatId}::uuid, nextval('naive_event_seq'), 'trace_finished', ${traceId}::uuid)`;
    });
  },
};

test("seq from the chat row's counter under its lock: the reader never skips an event and sees each once, in order", async () => {
  const chat = await services.chats.create({ title: "cursor order" });
  const result = await runScenario(lockedWriter, chat.id);

  // The scenario really happened: writer 2 waited for writer 1, and the reader replayed meanwhile.
  expect(result.writer2Blocked).toBe(true);
  expect(result.writer2CommittedFirst).toBe(false);
  expect(result.pollsWhileWriter1Open).toBeGreaterThanOrEqual(2);

  expect(result.problems).toEqual([]);
  expect(result.writer1Seq).toBe(2);
  expect(result.committed.map((e) => [e.seq, e.kind])).toEqual([
    [1, "chat_created"],
    [2, "chat_updated"],
    [3, "trace_started"],
    [4, "trace_finished"],
  ]);
  expect(result.seen).toEqual(result.committed);
  const stored = await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.id } });
  expect(stored.eventSeq).toBe(4);
});

test("control: seq from a plain database SEQUENCE, the same checker catches the reader skipping an event", async () => {
  const chat = await services.chats.create({ title: "naive sequence" });
  // chat_created took seq 1 from the chat's counter; the naive writers go on from 2.
  await reader.query(`CREATE SEQUENCE naive_event_seq START WITH 2`);
  const result = await runScenario(naiveSequenceWriter, chat.id);

  // Nothing held writer 2 back: it committed seq 3 and 4 while seq 2 was still uncommitted.
  expect(result.writer2Blocked).toBe(false);
  expect(result.writer2CommittedFirst).toBe(true);
  expect(result.writer1Seq).toBe(2);
  expect(result.committed.map((e) => e.seq)).toEqual([1, 2, 3, 4]);

  expect(result.problems).toContain("after seq 1 the reader saw seq 3 without seq 2..2");
  expect(result.problems).toContain("seq 2 (chat_updated) was never seen");
  expect(result.seen.map((e) => e.seq)).toEqual([1, 3, 4]);
});
