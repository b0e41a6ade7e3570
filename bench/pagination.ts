// Pagination of a big chat through GraphQL: the first page, a keyset page deep in the chat, and
// totalCount, each the median of several runs (alternated). The deep cursor is minted with the
// server's own cursors.ts and CURSOR_SECRET; if the server refuses it (its cursor scope changed),
// Chat.tracePageCursors, the API's random access, gives one instead.
import { encodeCursor } from "../server/schema/cursors.js";
import { gql, gqlData } from "./gql.js";
import { median, round } from "./stats.js";

const PAGE = `query Page($id: ID!, $after: String) { chat(id: $id) { traces(first: 50, after: $after) {
  edges { cursor node { id uuid toolName status startedAt finishedAt latencyMs } } pageInfo { hasNextPage endCursor } } } }`;
const TOTAL = `query Total($id: ID!) { chat(id: $id) { traces(first: 1) { totalCount } } }`;
const STATS = `query Stats($id: ID!) { chat(id: $id) { stats { traceCount } } }`;
const PAGE_CURSORS = `query Cursors($id: ID!) { chat(id: $id) { tracePageCursors(pageSize: 500) } }`;

type PageData = { chat: { traces: { edges: { node: { uuid: string; startedAt: string } }[] } } };

/** The scope Chat.traces signs its cursors with (server/schema/types/ToolTrace.ts, tracesScope, no filter). */
const scopeOf = (chatId: string) => ({
  list: "traces",
  parentId: chatId,
  filter: { toolNames: null, statuses: null, turnFrom: null, turnTo: null, minLatencyMs: null, startedFrom: null, startedBefore: null },
  order: "startedAt asc, id asc",
});

export interface PaginationResult {
  depth: number;
  runs: number;
  firstPageMs: number | null;
  deepPageMs: number | null;
  totalCountMs: number | null;
  totalCount: number | null;
  statsTraceCountMs: number | null;
  statsTraceCount: number | null;
  cursorSource: "minted" | "tracePageCursors";
  tracePageCursorsMs?: number | null;
  deepPageChecked: boolean;
}

const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
};

export async function measurePagination(options: {
  httpUrl: string;
  chatId: string;
  secret: string;
  depth: number;
  /** The row just before `depth` (the cursor's position) and the row at `depth` (the deep page's first). */
  before: { startedAtMs: number; id: string };
  atDepth: { id: string };
  runs: number;
  log: (line: string) => void;
}): Promise<PaginationResult> {
  const url = `${options.httpUrl}/graphql`;
  const page = (after: string | null) => gqlData<PageData>(url, PAGE, { id: options.chatId, after });
  let cursor = encodeCursor(options.secret, scopeOf(options.chatId), [options.before.startedAtMs, options.before.id]);
  let cursorSource: PaginationResult["cursorSource"] = "minted";
  let tracePageCursorsMs: number | null | undefined;
  const probe = await gql<PageData>(url, PAGE, { id: options.chatId, after: cursor });
  if (probe.errors?.length) {
    options.log(`    the minted cursor was refused (${probe.errors[0]!.message}); asking Chat.tracePageCursors`);
    const [data, ms] = await timed(() => gqlData<{ chat: { tracePageCursors: string[] } }>(url, PAGE_CURSORS, { id: options.chatId }));
    tracePageCursorsMs = round(ms, 1);
    const k = Math.floor(options.depth / 500) - 1;
    const picked = data.chat.tracePageCursors[k];
    if (!picked) throw new Error(`tracePageCursors has no element ${k}`);
    cursor = picked;
    cursorSource = "tracePageCursors";
  }
  const check = await page(cursor);
  const deepPageChecked = check.chat.traces.edges[0]?.node.uuid === options.atDepth.id;
  if (!deepPageChecked) options.log(`    warning: the deep page starts at ${check.chat.traces.edges[0]?.node.uuid}, expected ${options.atDepth.id}`);

  const first: number[] = [];
  const deep: number[] = [];
  for (let i = 0; i < options.runs + 2; i++) {
    // Alternate the order; the first two rounds warm up and are not counted.
    const a = i % 2 === 0;
    const [, x] = await timed(() => page(a ? null : cursor));
    const [, y] = await timed(() => page(a ? cursor : null));
    if (i < 2) continue;
    first.push(a ? x : y);
    deep.push(a ? y : x);
  }
  const totals: number[] = [];
  const stats: number[] = [];
  let totalCount: number | null = null;
  let statsTraceCount: number | null = null;
  for (let i = 0; i < Math.max(3, Math.ceil(options.runs / 3)); i++) {
    const [t, tm] = await timed(() => gqlData<{ chat: { traces: { totalCount: number } } }>(url, TOTAL, { id: options.chatId }));
    totals.push(tm);
    totalCount = t.chat.traces.totalCount;
    const [s, sm] = await timed(() => gqlData<{ chat: { stats: { traceCount: number } } }>(url, STATS, { id: options.chatId }));
    stats.push(sm);
    statsTraceCount = s.chat.stats.traceCount;
  }
  return {
    depth: options.depth,
    runs: options.runs,
    firstPageMs: round(median(first), 2),
    deepPageMs: round(median(deep), 2),
    totalCountMs: round(median(totals), 1),
    totalCount,
    statsTraceCountMs: round(median(stats), 1),
    statsTraceCount,
    cursorSource,
    ...(tracePageCursorsMs !== undefined ? { tracePageCursorsMs } : {}),
    deepPageChecked,
  };
}
