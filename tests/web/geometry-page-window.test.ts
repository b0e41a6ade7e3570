import { describe, expect, it } from "vitest";
import { pageBounds, pageCount, pageOf, pagesForRows, planPages } from "../../web/src/lib/page-window";

describe("page arithmetic", () => {
  it("maps rows to pages of 200", () => {
    expect(pageOf(0)).toBe(0);
    expect(pageOf(199)).toBe(0);
    expect(pageOf(200)).toBe(1);
    expect(pageOf(99_999)).toBe(499);
    expect(pageCount(0)).toBe(0);
    expect(pageCount(1)).toBe(1);
    expect(pageCount(100_000)).toBe(500);
    expect(pageCount(100_001)).toBe(501);
    expect(pageBounds(499, 100_000)).toEqual([99_800, 100_000]);
    expect(pageBounds(2, 450)).toEqual([400, 450]);
  });

  it("lists the pages of a row range, clipped to the total", () => {
    expect(pagesForRows(190, 230, 1000)).toEqual([0, 1]);
    expect(pagesForRows(0, 10, 0)).toEqual([]);
    expect(pagesForRows(5, 4, 1000)).toEqual([]);
    expect(pagesForRows(950, 5000, 1000)).toEqual([4]);
  });
});

describe("planPages", () => {
  it("fetches the visible page and one either side on a first view", () => {
    const plan = planPages({ first: 0, last: 30, total: 100_000, held: [] });
    expect(plan.visible).toEqual([0]);
    expect(plan.fetch).toEqual([0, 1]);
    expect(plan.drop).toEqual([]);
  });

  it("fetches visible pages first, then prefetch pages nearest first", () => {
    const plan = planPages({ first: 1190, last: 1230, total: 100_000, held: [] });
    expect(plan.visible).toEqual([5, 6]);
    expect(plan.fetch).toEqual([5, 6, 7, 4]);
  });

  it("does not refetch held or loading pages", () => {
    const plan = planPages({ first: 1000, last: 1030, total: 100_000, held: [5], loading: [6] });
    expect(plan.fetch).toEqual([4]);
  });

  it("keeps held pages while within the budget (scrolling back is free)", () => {
    const plan = planPages({ first: 2000, last: 2030, total: 100_000, held: [0, 1, 2, 3], maxPages: 10 });
    expect(plan.drop).toEqual([]);
    expect(plan.fetch).toEqual([10, 11, 9]);
  });

  it("drops the pages farthest from the viewport beyond the budget, never a visible one", () => {
    const held = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const plan = planPages({ first: 4000, last: 4030, total: 100_000, held, maxPages: 10 });
    expect(plan.visible).toEqual([20]);
    expect(plan.fetch).toEqual([20, 21, 19]);
    // 13 pages would be held: the three farthest (0, 1, 2) go.
    expect(plan.drop.sort((a, b) => a - b)).toEqual([0, 1, 2]);
  });

  it("drops pages past the end when the total shrinks", () => {
    const plan = planPages({ first: 0, last: 20, total: 300, held: [0, 1, 5, 7] });
    expect(plan.drop.sort()).toEqual([5, 7]);
  });

  it("holds every visible page even when they alone exceed the budget", () => {
    const plan = planPages({ first: 0, last: 999, total: 100_000, held: [], maxPages: 3 });
    expect(plan.visible).toEqual([0, 1, 2, 3, 4]);
    expect(plan.fetch).toEqual([0, 1, 2, 3, 4]);
  });

  it("makes room for prefetch pages by dropping farther ones", () => {
    const plan = planPages({ first: 1000, last: 1020, total: 100_000, held: [2, 3, 5], maxPages: 3 });
    expect(plan.fetch).toEqual([6, 4]);
    expect(plan.drop).toEqual([2, 3]);
  });

  it("skips a prefetch rather than drop a nearer page", () => {
    const plan = planPages({ first: 1000, last: 1020, total: 100_000, held: [4, 5, 6], maxPages: 3, prefetch: 2 });
    expect(plan.visible).toEqual([5]);
    expect(plan.fetch).toEqual([]);
    expect(plan.drop).toEqual([]);
  });

  it("stays bounded and complete over a long scroll, down and back up", () => {
    const total = 100_000;
    const held = new Set<number>();
    const viewports: [number, number][] = [];
    for (let first = 0; first < total; first += 777) viewports.push([first, first + 40]);
    for (let first = total - 41; first > 0; first -= 1_313) viewports.push([first, first + 40]);
    for (const [first, last] of viewports) {
      const plan = planPages({ first, last, total, held, maxPages: 10 });
      for (const p of plan.drop) {
        expect(plan.visible).not.toContain(p);
        held.delete(p);
      }
      for (const p of plan.fetch) held.add(p);
      for (const p of plan.visible) expect(held.has(p)).toBe(true);
      expect(held.size).toBeLessThanOrEqual(10);
    }
  });

  it("holds nothing new when no trace row is visible, and trims to the budget", () => {
    const plan = planPages({ first: 0, last: -1, total: 5000, held: [0, 1, 2, 3, 4], maxPages: 3 });
    expect(plan.fetch).toEqual([]);
    expect(plan.drop.sort()).toEqual([3, 4]);
  });
});
