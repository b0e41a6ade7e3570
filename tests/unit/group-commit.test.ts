// The group-commit queue alone: how waiting items are shared among free slots, the item and byte
// bounds of a batch, and that each caller gets its own answer.
import { expect, test } from "vitest";
import { createGroupCommit, type Settled } from "../../server/services/group-commit.js";

function recorder(maxInFlight: number, maxItems = 100, maxBytes = 1_000_000) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const gc = createGroupCommit<number, number>(
    async (items) => {
      batches.push(items);
      await new Promise<void>((r) => gates.push(r));
      return items.map((n): Settled<number> => (n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: n * 10 }));
    },
    { maxInFlight, maxItems, maxBytes },
  );
  const openAll = async () => {
    while (gates.length) gates.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { gc, batches, openAll };
}

const tick = () => new Promise((r) => setImmediate(r));

test("items arriving together are shared among the free slots; what arrives while all are busy waits for the next batch", async () => {
  const { gc, batches, openAll } = recorder(2);
  const first = [1, 2, 3, 4, 5].map((n) => gc.submit(n));
  await tick();
  expect(batches).toEqual([[1, 2, 3], [4, 5]]);
  const later = [6, 7, 8].map((n) => gc.submit(n));
  await tick();
  expect(gc.waiting).toBe(3);
  for (let i = 0; i < 5 && gc.waiting + batches.length < 10; i++) await openAll();
  expect(await Promise.all(first)).toEqual([10, 20, 30, 40, 50]);
  expect(await Promise.all(later)).toEqual([60, 70, 80]);
  expect(batches.slice(2).flat().sort()).toEqual([6, 7, 8]);
});

test("one item's failure is its own", async () => {
  const { gc, openAll } = recorder(1);
  const answers = Promise.allSettled([gc.submit(1), gc.submit(-2), gc.submit(3)]);
  await tick();
  await openAll();
  const settled = await answers;
  expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
});

test("a batch stops at maxItems and at maxBytes (but always takes one item)", async () => {
  const { gc, batches, openAll } = recorder(1, 3, 100);
  const all = [gc.submit(1, 10), gc.submit(2, 10), gc.submit(3, 10), gc.submit(4, 10), gc.submit(5, 95), gc.submit(6, 500), gc.submit(7, 1)];
  let done = false;
  const settled = Promise.all(all).then(() => (done = true));
  for (let i = 0; i < 20 && !done; i++) {
    await tick();
    await openAll();
  }
  await settled;
  expect(batches).toEqual([[1, 2, 3], [4], [5], [6], [7]]);
});

test("a commit that throws rejects its whole batch, and the queue goes on", async () => {
  let calls = 0;
  const gc = createGroupCommit<number, number>(
    async (items) => {
      if (calls++ === 0) throw new Error("database down");
      return items.map((n) => ({ ok: true, value: n }));
    },
    { maxInFlight: 1, maxItems: 10, maxBytes: 1000 },
  );
  const failed = Promise.allSettled([gc.submit(1), gc.submit(2)]);
  expect((await failed).map((s) => s.status)).toEqual(["rejected", "rejected"]);
  expect(await gc.submit(3)).toBe(3);
});
