import { afterAll, beforeAll, expect } from "vitest";
import type { Limits } from "../../server/config.js";
import type { Database } from "../../server/db/client.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { databaseFingerprint } from "./fingerprint.js";
import { createServiceHarness, type ServiceHarness } from "./services.js";

// The setup and the write-nothing / event-log assertions shared by the service suites
// (tests/services/*.test.ts).

export type ErrorClass<E> = new (...args: never[]) => E;

/** The fields of a chat event that the stored log and the published message must agree on. */
export const brief = (e: { chatId: string; seq: number; kind: string; subjectId: string }) => ({ chatId: e.chatId, seq: e.seq, kind: e.kind, subjectId: e.subjectId });

export interface ServiceDatabaseOptions<N extends string> {
  /** Limits of the default harness `h` (the defaults otherwise). */
  limits?: Partial<Limits>;
  /** Further harnesses on the same database, each with its own limits and its own event bus. */
  harnesses?: Record<N, Partial<Limits>>;
}

export interface ServiceDatabase<N extends string> {
  db: TestDatabase;
  /** The harness the assertions use unless told otherwise. */
  h: ServiceHarness;
  harnesses: Record<N, ServiceHarness>;
}

/**
 * Registers the file's beforeAll (a fresh database, then `h`, then the other harnesses in the
 * order given) and afterAll (stops every harness's subscriber, then removes the database).
 *
 * The returned `db`, `h` and harnesses stand for the objects beforeAll creates: they can be
 * destructured at the top of the file and used in tests and hooks; using one before beforeAll
 * has run throws.
 */
export function useServiceDatabase<N extends string = never>(options: ServiceDatabaseOptions<N> = {}): ServiceDatabase<N> {
  let db: TestDatabase | undefined;
  let h: ServiceHarness | undefined;
  const others = new Map<N, ServiceHarness>();
  const named = Object.keys(options.harnesses ?? {}) as N[];
  beforeAll(async () => {
    db = await createTestDatabase();
    h = createServiceHarness(db, options.limits);
    for (const name of named) others.set(name, createServiceHarness(db, options.harnesses![name]));
  });
  afterAll(async () => {
    h?.published.stop();
    for (const harness of others.values()) harness.published.stop();
    await db?.destroy();
  });
  return {
    db: lateBound("db", () => db),
    h: lateBound("h", () => h),
    harnesses: Object.fromEntries(named.map((name) => [name, lateBound(name, () => others.get(name))])) as Record<N, ServiceHarness>,
  };
}

/** Stands for the object `current()` returns once it exists. */
function lateBound<T extends object>(name: string, current: () => T | undefined): T {
  const target = (): T => {
    const value = current();
    if (value === undefined) throw new Error(`${name} is used before useServiceDatabase's beforeAll created it`);
    return value;
  };
  return new Proxy({} as T, {
    get(_, key) {
      const object = target();
      const value: unknown = Reflect.get(object, key);
      return typeof value === "function" ? value.bind(object) : value;
    },
    has: (_, key) => Reflect.has(target(), key),
    set: () => false,
  });
}

/**
 * The assertions of the service suites, on `getDb()`'s database; `via` (the harness whose
 * published events are checked) defaults to `getHarness()`.
 */
export function serviceAssertions(getDb: () => Database, getHarness: () => ServiceHarness) {
  /** Runs a call that must fail with `kind`, and proves it wrote nothing at all and published nothing. */
  async function failsCleanly<E extends Error>(kind: ErrorClass<E>, run: () => Promise<unknown>, via: ServiceHarness = getHarness()): Promise<E> {
    const before = await databaseFingerprint(getDb().prisma);
    const publishedBefore = (await via.published.settle()).length;
    const error = await run().then(
      (value) => ({ resolved: value }),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(kind);
    expect(await databaseFingerprint(getDb().prisma)).toEqual(before);
    expect((await via.published.settle()).slice(publishedBefore)).toEqual([]);
    return error as E;
  }

  /** Runs a call that must succeed without writing or publishing anything (an identical replay, a read). */
  async function changesNothing<T>(run: () => Promise<T>, via: ServiceHarness = getHarness()): Promise<T> {
    const before = await databaseFingerprint(getDb().prisma);
    const publishedBefore = (await via.published.settle()).length;
    const value = await run();
    expect(await databaseFingerprint(getDb().prisma)).toEqual(before);
    expect((await via.published.settle()).slice(publishedBefore)).toEqual([]);
    return value;
  }

  /**
   * The chat's stored log: seq 1..n without gaps, the counter at n, and exactly that was published
   * (chat, seq, kind and subject of each event, in order). Returns [kind, subjectId] per event.
   */
  async function eventLog(chatId: string, via: ServiceHarness = getHarness()) {
    const { prisma } = getDb();
    const rows = await prisma.chatEvent.findMany({ where: { chatId }, orderBy: { seq: "asc" } });
    const chat = await prisma.chat.findUniqueOrThrow({ where: { id: chatId } });
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(chat.eventSeq).toBe(rows.length);
    const published = (await via.published.settle()).filter((e) => e.chatId === chatId).map(brief);
    expect(published).toEqual(rows.map(brief));
    return rows.map((r) => [r.kind, r.subjectId] as const);
  }

  const storedTrace = (id: string) => getDb().prisma.toolTrace.findUniqueOrThrow({ where: { id } });

  return { failsCleanly, changesNothing, eventLog, storedTrace };
}
