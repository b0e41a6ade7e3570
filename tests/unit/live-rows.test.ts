// The shared row cache of live frames (server/schema/live-rows.ts) against a fake client: one read per
// event heard however many ask, a later event always reads again (never a row older than its event,
// and a replayed old event shows the row as of the latest event heard), one statement per tick,
// failures not kept, primed rows, chats never heard read unshared, and its bounds.
import { describe, expect, test } from "vitest";
import type { PrismaClient } from "../../server/db/generated/prisma/client.js";
import { approximateBytes, defaultLiveRowsOptions, LiveRows, type LiveRowsOptions } from "../../server/schema/live-rows.js";

/** A table of traces whose rows the test changes, with every findMany it was asked. */
function fakeClient() {
  const rows = new Map<string, { id: string; status: string; toolOutput: string | null }>();
  const calls: string[][] = [];
  let fail: Error | undefined;
  const prisma = {
    toolTrace: {
      findMany: async ({ where }: { where: { id: { in: string[] } } }) => {
        calls.push(where.id.in);
        if (fail) throw fail;
        // A snapshot at the time of the read, as the database would give.
        return where.id.in.flatMap((id) => (rows.has(id) ? [{ ...rows.get(id)! }] : []));
      },
    },
  } as unknown as PrismaClient;
  return {
    prisma,
    rows,
    calls,
    failNext(error: Error | undefined) {
      fail = error;
    },
  };
}

const make = (options: Partial<LiveRowsOptions> = {}) => {
  const db = fakeClient();
  return { db, live: new LiveRows(db.prisma, { ...defaultLiveRowsOptions, ...options }) };
};
const tick = () => new Promise((r) => setImmediate(r));

describe("LiveRows", () => {
  test("every request for one event shares one read", async () => {
    const { db, live } = make();
    db.rows.set("t1", { id: "t1", status: "running", toolOutput: null });
    live.heard("c1", 2);
    const all = await Promise.all(Array.from({ length: 1000 }, () => live.load("trace", "t1", "c1", 2)));
    expect(db.calls).toEqual([["t1"]]);
    expect(new Set(all).size).toBe(1);
    expect(all[0]).toEqual({ id: "t1", status: "running", toolOutput: null });
    // Later requests for the same event (a slower subscriber) are answered from the entry.
    await tick();
    await live.load("trace", "t1", "c1", 2);
    expect(db.calls.length).toBe(1);
    expect(live.stats()).toMatchObject({ misses: 1, hits: 1000, reads: 1, entries: 1 });
  });

  test("a later event reads again: its frame is never older than it, and a replayed old event shows the row as it stands now", async () => {
    const { db, live } = make();
    db.rows.set("t1", { id: "t1", status: "running", toolOutput: null });
    live.heard("c1", 2);
    expect(await live.load("trace", "t1", "c1", 2)).toMatchObject({ status: "running" });
    // The finish commits and is published as seq 3.
    db.rows.set("t1", { id: "t1", status: "ok", toolOutput: "done" });
    live.heard("c1", 3);
    expect(await live.load("trace", "t1", "c1", 3)).toMatchObject({ status: "ok", toolOutput: "done" });
    // The start's frame, resolved late or replayed to a resuming client: the row as of seq 3.
    expect(await live.load("trace", "t1", "c1", 2)).toMatchObject({ status: "ok", toolOutput: "done" });
    expect(db.calls.length).toBe(2);
  });

  test("a primed row is shown without a read once its event is heard; a chat never heard is read unshared", async () => {
    const { db, live } = make();
    db.rows.set("t1", { id: "t1", status: "ok", toolOutput: "stored" });
    live.prime("trace", { id: "t1", status: "ok", toolOutput: "committed" } as never, "c1", 4);
    live.heard("c1", 4);
    expect(await live.load("trace", "t1", "c1", 4)).toMatchObject({ toolOutput: "committed" });
    expect(db.calls).toEqual([]);
    // A later event of the chat: the primed row is not shown for it.
    live.heard("c1", 5);
    expect(await live.load("trace", "t1", "c1", 4)).toMatchObject({ toolOutput: "stored" });
    expect(db.calls.length).toBe(1);
    // Never heard: each request reads (sharing only a read under way), nothing is kept.
    await live.load("trace", "t1", "c9", 1);
    await live.load("trace", "t1", "c9", 1);
    expect(db.calls.length).toBe(3);
    const bounded = make({ maxChats: 2 });
    for (const chat of ["a", "b", "c"]) bounded.live.heard(chat, 1);
    bounded.db.rows.set("t", { id: "t", status: "ok", toolOutput: null });
    await bounded.live.load("trace", "t", "a", 1); // "a" was forgotten: unshared
    await bounded.live.load("trace", "t", "a", 1);
    expect(bounded.db.calls.length).toBe(2);
  });

  test("requests in one tick, for any events heard, go out as one statement; a missing row is null", async () => {
    const { db, live } = make();
    for (const id of ["a", "b", "c"]) db.rows.set(id, { id, status: "running", toolOutput: null });
    live.heard("c1", 4);
    live.heard("c2", 7);
    const [a, b, c, a2, gone] = await Promise.all([
      live.load("trace", "a", "c1", 1),
      live.load("trace", "b", "c1", 2),
      live.load("trace", "c", "c2", 7),
      live.load("trace", "a", "c1", 3), // another event of the same row joins the same read
      live.load("trace", "gone", "c1", 4),
    ]);
    expect(db.calls).toEqual([["a", "b", "c", "gone"]]);
    expect([a?.id, b?.id, c?.id, a2?.id, gone]).toEqual(["a", "b", "c", "a", null]);
  });

  test("a failed read is not kept: the next request reads again", async () => {
    const { db, live } = make();
    db.rows.set("t1", { id: "t1", status: "ok", toolOutput: "x" });
    live.heard("c1", 5);
    db.failNext(new Error("database unavailable"));
    await expect(Promise.all([live.load("trace", "t1", "c1", 5), live.load("trace", "t1", "c1", 5)])).rejects.toThrow("database unavailable");
    db.failNext(undefined);
    expect(await live.load("trace", "t1", "c1", 5)).toMatchObject({ status: "ok" });
    expect(db.calls.length).toBe(2);
  });

  test("bounded: entries, bytes, the ttl, and a row too large to keep", async () => {
    const { db, live } = make({ maxEntries: 10, maxBytes: 1_000_000, maxBatch: 4 });
    for (let i = 0; i < 25; i++) db.rows.set(`t${i}`, { id: `t${i}`, status: "ok", toolOutput: "x" });
    live.heard("c1", 25);
    await Promise.all(Array.from({ length: 25 }, (_, i) => live.load("trace", `t${i}`, "c1", i + 1)));
    // 25 ids in statements of at most 4.
    expect(db.calls.map((ids) => ids.length)).toEqual([4, 4, 4, 4, 4, 4, 1]);
    expect(live.stats().entries).toBeLessThanOrEqual(10);

    const bytes = make({ maxBytes: 3_000, maxEntryBytes: 2_000 });
    bytes.db.rows.set("big", { id: "big", status: "ok", toolOutput: "y".repeat(5_000) });
    bytes.db.rows.set("mid", { id: "mid", status: "ok", toolOutput: "y".repeat(600) });
    bytes.live.heard("c1", 1);
    await bytes.live.load("trace", "big", "c1", 1);
    expect(bytes.live.stats().entries).toBe(0); // shared while under way only
    for (let i = 0; i < 5; i++) {
      bytes.live.heard("c1", i + 1);
      await bytes.live.load("trace", "mid", "c1", i + 1);
    }
    expect(bytes.live.stats().bytes).toBeLessThanOrEqual(3_000);
    expect(bytes.live.stats().entries).toBeLessThan(5);

    const ttl = make({ ttlMs: 20 });
    ttl.db.rows.set("t", { id: "t", status: "ok", toolOutput: null });
    ttl.live.heard("c1", 1);
    await ttl.live.load("trace", "t", "c1", 1);
    await new Promise((r) => setTimeout(r, 40));
    await ttl.live.load("trace", "t", "c1", 1);
    expect(ttl.db.calls.length).toBe(2);
  });

  test("approximateBytes stops counting at its limit", () => {
    expect(approximateBytes({ a: "x".repeat(100) }, 10_000)).toBeGreaterThan(200);
    const huge = { state: Array.from({ length: 100_000 }, (_, i) => ({ i, s: "abc" })) };
    expect(approximateBytes(huge, 1_000)).toBeLessThan(2_000);
  });
});
