// PostgreSQL: a chat whose row lock another session holds (an open transaction elsewhere) holds up
// only its own writes. A hot-path batch that meets the lock gives up after the write pool's
// lock_timeout and its items go one by one through the general path: the other chat's start in the
// same batch is answered while the lock is still held, the locked chat's start once it is released.
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultLimits } from "../../server/config.js";
import { createEventBus } from "../../server/events/pubsub.js";
import { silentLogger } from "../../server/logger.js";
import { createServices, type Services } from "../../server/services/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

/** Arrival, never speed: a shared two-core machine. */
const ARRIVAL_MS = 30_000;

let db: TestDatabase;
let services: Services;

beforeAll(async () => {
  db = await createTestDatabase();
  // One batch in flight: the two starts below share a statement.
  services = createServices({ prisma: db.prisma, bus: createEventBus(), limits: defaultLimits, log: silentLogger, writeSql: db.writeSql, writeConcurrency: 1 });
});
afterAll(async () => {
  await db?.destroy();
});

test("a batch meeting a chat locked elsewhere: the other chat's write is answered during the lock, the locked one after it", async () => {
  const locked = await services.chats.create({ title: "locked elsewhere" });
  const free = await services.chats.create({ title: "free" });
  const blocker = new pg.Client({ connectionString: db.location });
  await blocker.connect();
  try {
    await blocker.query("BEGIN");
    await blocker.query("SELECT id FROM chats WHERE id = $1 FOR UPDATE", [locked.id]);
    let lockedDone = false;
    const onLocked = services.traces.start({ chatId: locked.id, toolName: "waits" }).finally(() => (lockedDone = true));
    const onFree = services.traces.start({ chatId: free.id, toolName: "goes" });
    const answered = await Promise.race([onFree, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the free chat's write waited for the lock")), ARRIVAL_MS))]);
    expect(answered).toMatchObject({ chatId: free.id, toolName: "goes", status: "running" });
    expect(lockedDone).toBe(false);
    await blocker.query("ROLLBACK");
    expect(await onLocked).toMatchObject({ chatId: locked.id, toolName: "waits" });
  } finally {
    await blocker.end();
  }
  for (const chat of [locked, free]) {
    const seqs = (await db.prisma.chatEvent.findMany({ where: { chatId: chat.id }, orderBy: { seq: "asc" } })).map((e) => e.seq);
    expect(seqs).toEqual([1, 2]);
    expect(await db.prisma.chat.findUniqueOrThrow({ where: { id: chat.id }, select: { traceCount: true, runningCount: true } })).toEqual({ traceCount: 1, runningCount: 1 });
  }
}, 120_000);
