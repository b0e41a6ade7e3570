// Which pages of a chat's traces to hold for a viewport: the waterfall shows up to 100,000 rows but
// only ever holds a bounded window of fixed-size pages around what is on screen. Page k covers rows
// [k × pageSize, (k + 1) × pageSize); it is fetched with traces(first: pageSize, after: cursors[k-1])
// (Chat.tracePageCursors; page 0 needs no cursor).

export const PAGE_SIZE = 200;
export const MAX_PAGES = 10;

export function pageOf(index: number, pageSize = PAGE_SIZE): number {
  return Math.floor(Math.max(0, index) / pageSize);
}

export function pageCount(total: number, pageSize = PAGE_SIZE): number {
  return total <= 0 ? 0 : Math.ceil(total / pageSize);
}

/** The rows of page k, clipped to the total: [start, end). */
export function pageBounds(page: number, total: number, pageSize = PAGE_SIZE): [number, number] {
  const start = page * pageSize;
  return [start, Math.max(start, Math.min(total, start + pageSize))];
}

/** The pages holding rows first..last (inclusive), clipped to the total; [] when nothing is visible. */
export function pagesForRows(first: number, last: number, total: number, pageSize = PAGE_SIZE): number[] {
  if (total <= 0 || last < first || last < 0) return [];
  const a = pageOf(Math.max(0, first), pageSize);
  const b = pageOf(Math.min(total - 1, last), pageSize);
  const out: number[] = [];
  for (let p = a; p <= b; p++) out.push(p);
  return out;
}

export interface PageWindowInput {
  /** first and last visible row (inclusive); last < first when no trace row is visible */
  first: number;
  last: number;
  total: number;
  pageSize?: number;
  /** pages held (loaded or stale) */
  held: Iterable<number>;
  /** pages being fetched */
  loading?: Iterable<number>;
  /** most pages to hold (default 10); the visible ones are always held, even beyond it */
  maxPages?: number;
  /** pages to fetch ahead on each side of the visible ones (default 1) */
  prefetch?: number;
}

export interface PagePlan {
  /** the pages the viewport shows */
  visible: number[];
  /** pages to fetch now, the visible ones first, then the nearest prefetch ones */
  fetch: number[];
  /** pages to let go of (held or loading), the farthest first */
  drop: number[];
}

/**
 * The plan for a viewport: fetch the visible pages and, budget allowing, one page either side;
 * keep what is already held while the budget allows (scrolling back costs nothing), and beyond it
 * drop the pages farthest from the viewport. Pages past the end are always dropped.
 */
export function planPages(input: PageWindowInput): PagePlan {
  const pageSize = input.pageSize ?? PAGE_SIZE;
  const maxPages = Math.max(1, input.maxPages ?? MAX_PAGES);
  const prefetch = Math.max(0, input.prefetch ?? 1);
  const count = pageCount(input.total, pageSize);
  const visible = pagesForRows(input.first, input.last, input.total, pageSize);
  const held = new Set<number>([...input.held, ...(input.loading ?? [])]);

  const drop: number[] = [];
  for (const p of held) if (p >= count || p < 0) drop.push(p);
  for (const p of drop) held.delete(p);
  if (visible.length === 0) return { visible, fetch: [], drop: trimToBudget(held, maxPages, drop) };

  const lo = visible[0]!;
  const hi = visible[visible.length - 1]!;
  const centre = (lo + hi) / 2;
  const distance = (p: number) => (p < lo ? lo - p : p > hi ? p - hi : 0);

  const ahead: number[] = [];
  for (let d = 1; d <= prefetch; d++) {
    if (hi + d < count) ahead.push(hi + d);
    if (lo - d >= 0) ahead.push(lo - d);
  }
  const fetch = visible.filter((p) => !held.has(p));
  const budget = Math.max(maxPages, visible.length);
  // Held pages not wanted at all, farthest first: these go before a prefetch is skipped.
  const wanted = new Set([...visible, ...ahead]);
  const spare = [...held].filter((p) => !wanted.has(p)).sort((a, b) => distance(b) - distance(a) || Math.abs(b - centre) - Math.abs(a - centre));
  let size = held.size + fetch.length;
  for (const p of ahead) {
    if (held.has(p)) continue;
    if (size + 1 > budget) {
      // Make room by dropping a spare page farther away than this prefetch page.
      const far = spare[0];
      if (far === undefined || distance(far) <= distance(p)) continue;
      spare.shift();
      drop.push(far);
      size--;
    }
    fetch.push(p);
    size++;
  }
  // Still over: spare pages, then held prefetch pages, the farthest first.
  const heldAhead = ahead.filter((p) => held.has(p)).sort((a, b) => distance(b) - distance(a));
  for (const p of [...spare, ...heldAhead]) {
    if (size <= budget) break;
    drop.push(p);
    size--;
  }
  return { visible, fetch, drop };
}

function trimToBudget(held: Set<number>, maxPages: number, drop: number[]): number[] {
  // Nothing visible: keep the held pages up to the budget (the lowest ones, which the top shows).
  const sorted = [...held].sort((a, b) => a - b);
  return [...drop, ...sorted.slice(maxPages).reverse()];
}
