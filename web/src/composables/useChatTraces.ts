/**
 * useChatTraces: a chat's traces for the waterfall, by page, for up to 100,000 rows and more.
 *
 *   const traces = useChatTraces(() => chatId, () => filter);
 *   traces.total          // Ref<number>: traces under the filter (M), bumped by live starts
 *   traces.rowAt(i)       // the light row at index i (start order), or undefined while its page is not held
 *   traces.pageStateAt(i) // "ready" | "loading" | "error" | "missing": what the row's page is doing
 *   traces.setViewport(first, last) // the rows on screen: pages around them are fetched, far ones dropped
 *   traces.applyTraceEvent(kind, trace) // a live trace_started / trace_finished (exactly once per trace)
 *   traces.reconcile(serverTotal)        // the turns' sum: a mismatch triggers a resync
 *   traces.findNextError(from)           // the index of the next error row after `from` (fetching as needed)
 *   traces.indexOfTrace(id)              // a trace's row index under the filter (for a link's ?trace=)
 *   traces.version        // Ref<number>: bumped whenever rows change (render dependency)
 *
 * Data: one index query (Chat.tracePageCursors + totalCount + eventCursor), then page k =
 * traces(first: 200, after: cursors[k-1]) of light fields only, fetched for the pages the viewport
 * needs and dropped when far (page-window.ts), so memory stays bounded. Rows are keyed by id; a
 * live start is appended at the end (M + 1); anything that would move rows (an out-of-order start,
 * a finish that changes whether a trace passes the filter, a count that disagrees with the turns)
 * schedules a resync: the index is read again and held pages are refetched in place.
 */
import { Client, createRequest, fetchExchange, useClientHandle } from "@urql/vue";
import { type InjectionKey, onScopeDispose, ref, type Ref, shallowRef, toValue, watch } from "vue";
import { type FragmentType, graphql, useFragment } from "../gql";
import type { TraceStatus, WaterfallRowFragment as WaterfallRowFragmentData } from "../gql/graphql";
import { coalesce } from "../lib/coalesce";
import { ERROR_STATUSES } from "../lib/format";
import { MAX_PAGES, PAGE_SIZE, pageOf, planPages } from "../lib/page-window";
import { effectiveStatuses, isFiltered, matchesFilter, toTraceFilter, type TraceFilterVars, type WaterfallFilter } from "../lib/trace-filter";

/** The light fields of a waterfall row: what list pages and live events select, never input or output. */
export const WaterfallRowFragment = graphql(`
  fragment WaterfallRow on ToolTrace {
    id
    uuid
    toolName
    status
    startedAt
    finishedAt
    latencyMs
    turnNumber
    error
    agentId
    agentType
  }
`);

export const WaterfallIndexDocument = graphql(`
  query WaterfallIndex($id: ID!, $filter: TraceFilter, $pageSize: Int!, $first: Int!) {
    chat(id: $id) {
      id
      eventCursor
      tracePageCursors(pageSize: $pageSize, filter: $filter)
      tail: traces(last: 1, filter: $filter) {
        edges {
          node {
            id
            startedAt
          }
        }
      }
      traces(first: $first, filter: $filter) {
        totalCount
        edges {
          cursor
          node {
            ...WaterfallRow
          }
        }
      }
    }
  }
`);

export const WaterfallPageDocument = graphql(`
  query WaterfallPage($id: ID!, $filter: TraceFilter, $first: Int!, $after: String) {
    chat(id: $id) {
      id
      traces(first: $first, after: $after, filter: $filter) {
        edges {
          cursor
          node {
            ...WaterfallRow
          }
        }
      }
    }
  }
`);

export const TraceSeekDocument = graphql(`
  query TraceSeek($id: ID!, $filter: TraceFilter, $first: Int!) {
    chat(id: $id) {
      id
      traces(first: $first, filter: $filter) {
        totalCount
        edges {
          node {
            id
            startedAt
          }
        }
      }
    }
  }
`);

export const TraceLocateDocument = graphql(`
  query TraceLocate($traceId: ID!) {
    node(id: $traceId) {
      __typename
      ... on ToolTrace {
        id
        startedAt
        turnNumber
      }
    }
  }
`);

const readClients = new WeakMap<Client, Client>();

/**
 * The chat view's client for its own reads: configured like the app's (its URL, fetch and fetch
 * options) but without the document cache. The view reads imperatively (network-only) and holds a
 * bounded window of pages; through the app's cacheExchange every page of a 100,000-trace chat would
 * stay cached until an event invalidated it (tens of MB after a scroll through the chat), and every
 * expanded trace's input and output and every viewed snapshot state (up to 4 MB) with them.
 */
export function uncachedReadClient(app: Client): Client {
  const known = readClients.get(app);
  if (known) return known;
  const { context } = app.createRequestOperation("query", createRequest(TraceLocateDocument, { traceId: "" }));
  const client = new Client({
    url: context.url,
    fetch: context.fetch,
    fetchOptions: context.fetchOptions,
    preferGetMethod: context.preferGetMethod,
    requestPolicy: "network-only",
    exchanges: [fetchExchange],
  });
  readClients.set(app, client);
  return client;
}

/** Where the chat view provides that client to the components under it (TraceDetail). */
export const ReadClientKey: InjectionKey<Client> = Symbol("tracedeck.chat-view.read-client");

/** A trace as the list shows it: the light fields only. */
export interface TraceRow {
  id: string;
  uuid: string;
  toolName: string;
  status: TraceStatus;
  startedAt: string;
  finishedAt: string | null;
  latencyMs: number | null;
  turnNumber: number;
  error: string | null;
  /** the subagent that made the call (Claude Code's agent_id and type, e.g. "Explore"); null for the main agent */
  agentId: string | null;
  agentType: string | null;
  /** epoch ms of startedAt / finishedAt */
  start: number;
  end: number | null;
}

/** A row as a query or an event returns it (masked by the codegen preset), or already read. */
export type LightTraceNode = FragmentType<typeof WaterfallRowFragment> | WaterfallRowFragmentData;

export function toRow(given: LightTraceNode): TraceRow {
  const node = useFragment(WaterfallRowFragment, given as FragmentType<typeof WaterfallRowFragment>);
  const finishedAt = node.finishedAt ?? null;
  return {
    id: node.id,
    uuid: node.uuid,
    toolName: node.toolName,
    status: node.status,
    startedAt: node.startedAt,
    finishedAt,
    latencyMs: node.latencyMs ?? null,
    turnNumber: node.turnNumber,
    error: node.error ?? null,
    agentId: node.agentId ?? null,
    agentType: node.agentType ?? null,
    start: Date.parse(node.startedAt),
    end: finishedAt ? Date.parse(finishedAt) : null,
  };
}

/** (startedAt, id) order, as the server sorts Chat.traces. */
export function compareRows(a: Pick<TraceRow, "start" | "id">, b: Pick<TraceRow, "start" | "id">): number {
  return a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

type PageState = "loading" | "ready" | "error";

interface Page {
  rows: TraceRow[];
  /** the edge cursor of each row (null for rows that came from live events) */
  cursors: (string | null)[];
  state: PageState;
  /** held rows that a resync has put in doubt: shown until refetched */
  stale: boolean;
  /** a fetch of this page is under way */
  busy: boolean;
  error: unknown;
  token: number;
}

type Source<T> = T | Ref<T> | (() => T);

export interface UseChatTracesOptions {
  client?: Client;
  pageSize?: number;
  maxPages?: number;
  /** pages fetched at once (default 2) */
  concurrency?: number;
  /** the wait before a resync runs, coalescing bursts (default 400 ms) */
  resyncDelayMs?: number;
}

export function useChatTraces(chatId: Source<string | null | undefined>, filter: Source<WaterfallFilter>, options: UseChatTracesOptions = {}) {
  const client = options.client ?? useClientHandle().client;
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const maxPages = options.maxPages ?? MAX_PAGES;
  const concurrency = options.concurrency ?? 2;

  const total = ref(0);
  const version = ref(0);
  const status = ref<"idle" | "loading" | "ready" | "error">("idle");
  const indexError = shallowRef<unknown>(null);
  const eventCursor = ref<string | null | undefined>(undefined);
  /** The rows of the latest live starts, by turn (turns the turn list does not know yet). */
  const liveTurnStarts = shallowRef<ReadonlyMap<number, number>>(new Map());

  let cursors: string[] = [];
  /**
   * The last row in the list's order as far as we know: the index's tail, then live appends. A
   * start at or before it is not appended (it was counted by the index already, or it belongs in
   * the middle): the index is read again instead.
   */
  let tail: { start: number; id: string } | null = null;
  const pages = new Map<number, Page>();
  const idIndex = new Map<string, number>();
  /** ids counted into total by live events (so a later finish is not counted again) */
  const liveCounted = new Set<string>();
  let viewport = { first: 0, last: -1 };
  let generation = 0;
  let tokens = 0;
  let inFlight = 0;
  let chat: string | null = null;
  let currentFilter: WaterfallFilter = toValue(filter);
  let disposed = false;

  const bump = () => {
    version.value++;
  };
  const vars = () => ({ id: chat!, filter: toTraceFilter(currentFilter) as TraceFilterVars | null });

  // ---------- the index: total, page cursors, the stream's start ----------

  async function loadIndex(mode: "reset" | "resync" | "cursors") {
    if (!chat) return;
    const gen = generation;
    if (mode === "reset") status.value = "loading";
    const first = mode === "reset" ? pageSize : 1;
    const res = await client.query(WaterfallIndexDocument, { ...vars(), pageSize, first }, { requestPolicy: "network-only" }).toPromise();
    if (gen !== generation || disposed) return;
    const data = res.data?.chat;
    if (res.error || !data) {
      if (mode === "reset") {
        indexError.value = res.error ?? new Error("This chat does not exist (it may have been deleted).");
        status.value = "error";
        if (eventCursor.value === undefined) eventCursor.value = null;
      }
      return;
    }
    indexError.value = null;
    cursors = data.tracePageCursors;
    if (eventCursor.value === undefined) eventCursor.value = data.eventCursor;
    if (mode === "cursors") {
      schedule();
      return;
    }
    total.value = data.traces.totalCount;
    const last = data.tail.edges[0]?.node;
    tail = last ? { start: Date.parse(last.startedAt), id: last.id } : null;
    if (mode === "reset") {
      const rows = data.traces.edges.map((e) => toRow(e.node));
      if (rows.length) setPage(0, rows, data.traces.edges.map((e) => e.cursor));
    } else {
      for (const page of pages.values()) page.stale = true;
      liveTurnStarts.value = new Map();
    }
    status.value = "ready";
    bump();
    schedule();
  }

  const resyncer = coalesce(() => loadIndex("resync"), options.resyncDelayMs ?? 400);
  const cursorRefresher = coalesce(() => loadIndex("cursors"), 50);

  function reset() {
    generation++;
    resyncer.cancel();
    cursorRefresher.cancel();
    pages.clear();
    idIndex.clear();
    liveCounted.clear();
    cursors = [];
    tail = null;
    total.value = 0;
    liveTurnStarts.value = new Map();
    indexError.value = null;
    inFlight = 0;
    status.value = chat ? "loading" : "idle";
    bump();
    if (chat) void loadIndex("reset");
  }

  // ---------- pages ----------

  function forgetIds(k: number, page: Page) {
    page.rows.forEach((r, i) => {
      if (idIndex.get(r.id) === k * pageSize + i) idIndex.delete(r.id);
    });
  }

  function setPage(k: number, rows: TraceRow[], rowCursors: (string | null)[]) {
    const old = pages.get(k);
    if (old) forgetIds(k, old);
    pages.set(k, { rows, cursors: rowCursors, state: "ready", stale: false, busy: false, error: null, token: ++tokens });
    rows.forEach((r, i) => idIndex.set(r.id, k * pageSize + i));
  }

  function dropPage(k: number) {
    const page = pages.get(k);
    if (!page) return;
    forgetIds(k, page);
    if (page.busy) inFlight = Math.max(0, inFlight - 1);
    pages.delete(k);
  }

  /** The cursor page k starts after: undefined when it is not known (the cursors must be read again). */
  function cursorFor(k: number): string | null | undefined {
    if (k === 0) return null;
    const known = cursors[k - 1];
    if (known) return known;
    const prev = pages.get(k - 1);
    if (prev && prev.state === "ready" && !prev.stale && prev.rows.length === pageSize) return prev.cursors[pageSize - 1] ?? undefined;
    return undefined;
  }

  async function fetchPage(k: number) {
    const after = cursorFor(k);
    if (after === undefined) {
      cursorRefresher.request();
      return;
    }
    const existing = pages.get(k);
    if (existing?.busy) return;
    const token = ++tokens;
    const gen = generation;
    if (existing) {
      // A stale or failed page: refetched in place (its rows stay on screen meanwhile).
      existing.token = token;
      existing.busy = true;
      if (existing.rows.length === 0) existing.state = "loading";
    } else pages.set(k, { rows: [], cursors: [], state: "loading", stale: false, busy: true, error: null, token });
    inFlight++;
    bump();
    const res = await client.query(WaterfallPageDocument, { ...vars(), first: pageSize, after }, { requestPolicy: "network-only" }).toPromise();
    const page = pages.get(k);
    if (gen !== generation || disposed || !page || page.token !== token) return;
    inFlight = Math.max(0, inFlight - 1);
    const edges = res.data?.chat?.traces.edges;
    page.busy = false;
    if (res.error || !edges) {
      page.state = "error";
      page.error = res.error ?? new Error("The chat is gone.");
      bump();
      schedule();
      return;
    }
    setPage(
      k,
      edges.map((e) => toRow(e.node)),
      edges.map((e) => e.cursor),
    );
    bump();
    schedule();
  }

  let planTimer: ReturnType<typeof setTimeout> | undefined;
  /** Plans soon: a burst of viewport changes (a fast scroll) makes one plan. */
  function schedule(delay = 0) {
    if (planTimer !== undefined) return;
    planTimer = setTimeout(() => {
      planTimer = undefined;
      plan();
    }, delay);
  }

  function plan() {
    if (!chat || status.value === "loading" || status.value === "error") return;
    const loading: number[] = [];
    const held: number[] = [];
    for (const [k, p] of pages) (p.busy && p.rows.length === 0 ? loading : held).push(k);
    const result = planPages({ first: viewport.first, last: viewport.last, total: total.value, pageSize, held, loading, maxPages, prefetch: 1 });
    let changed = false;
    for (const k of result.drop) {
      dropPage(k);
      changed = true;
    }
    // Stale pages on screen or next to it are refetched in place, the visible ones first.
    const near = new Set([...result.visible, ...result.fetch]);
    const lo = result.visible[0] ?? 0;
    const hi = result.visible[result.visible.length - 1] ?? 0;
    for (const d of [1, -1]) near.add(d > 0 ? hi + 1 : lo - 1);
    const stale = [...pages.entries()]
      .filter(([k, p]) => p.stale && !p.busy && p.state === "ready" && near.has(k))
      .map(([k]) => k)
      .sort((a, b) => Number(!result.visible.includes(a)) - Number(!result.visible.includes(b)));
    for (const k of [...result.fetch, ...stale]) {
      if (inFlight >= concurrency) break;
      const p = pages.get(k);
      // A failed page waits for its Retry (its error is shown where its rows would be).
      if (p && (p.busy || p.state === "error")) continue;
      void fetchPage(k);
    }
    if (changed) bump();
  }

  function setViewport(first: number, last: number) {
    if (first === viewport.first && last === viewport.last) return;
    viewport = { first, last };
    schedule(40);
  }

  function retryPage(k: number) {
    const p = pages.get(k);
    if (p?.state !== "error") return;
    p.state = p.rows.length ? "ready" : "loading";
    p.error = null;
    void fetchPage(k);
  }

  // ---------- reading rows ----------

  /** Reads `version`, so a render or computed that shows rows updates with them. */
  function rowAt(index: number): TraceRow | undefined {
    void version.value;
    const page = pages.get(pageOf(index, pageSize));
    return page?.rows[index - pageOf(index, pageSize) * pageSize];
  }

  function pageStateAt(index: number): "ready" | "loading" | "error" | "missing" {
    void version.value;
    const page = pages.get(pageOf(index, pageSize));
    if (!page) return "missing";
    if (page.rows[index % pageSize]) return "ready";
    return page.state === "ready" ? "missing" : page.state;
  }

  function pageErrorAt(index: number): unknown {
    return pages.get(pageOf(index, pageSize))?.error ?? null;
  }

  /** The held row index of a trace (reads `version`). */
  function locate(id: string): number | null {
    void version.value;
    const i = idIndex.get(id);
    if (i === undefined) return null;
    if (rowAt(i)?.id === id) return i;
    idIndex.delete(id);
    return null;
  }

  /** How many rows are held in memory (loaded pages). */
  function heldRows(): number {
    let n = 0;
    for (const p of pages.values()) n += p.rows.length;
    return n;
  }

  /** Calls fn with every held row (reads `version`). */
  function forEachHeldRow(fn: (row: TraceRow, index: number) => void) {
    void version.value;
    for (const [k, page] of pages) page.rows.forEach((r, i) => fn(r, k * pageSize + i));
  }

  function heldPages(): number[] {
    return [...pages.keys()].sort((a, b) => a - b);
  }

  // ---------- live events ----------

  function requestResync() {
    resyncer.request();
  }

  function appendRow(row: TraceRow) {
    const index = total.value;
    if (tail && compareRows(row, tail) <= 0) {
      // At or before the last row: counted by the index already (its event was still on its way),
      // or it belongs in the middle. Either way the index is read again, and nothing is doubled.
      requestResync();
      return;
    }
    tail = { start: row.start, id: row.id };
    total.value = index + 1;
    liveCounted.add(row.id);
    const k = pageOf(index, pageSize);
    const slot = index - k * pageSize;
    const page = pages.get(k);
    if (page && !page.busy && page.state === "ready" && !page.stale && page.rows.length === slot) {
      page.rows.push(row);
      page.cursors.push(null);
      idIndex.set(row.id, index);
    } else if (!page && slot === 0 && pages.get(k - 1)?.rows.length === pageSize) {
      pages.set(k, { rows: [row], cursors: [null], state: "ready", stale: false, busy: false, error: null, token: ++tokens });
      idIndex.set(row.id, index);
    }
    const starts = liveTurnStarts.value;
    if (!starts.has(row.turnNumber)) {
      const next = new Map(starts);
      next.set(row.turnNumber, index);
      liveTurnStarts.value = next;
    }
    schedule();
  }

  /** A trace_started or trace_finished event's trace (light fields), applied once per trace. */
  function applyTraceEvent(kind: string, node: LightTraceNode | null | undefined) {
    if (!node || !chat || status.value !== "ready") return;
    const row = toRow(node);
    const f = currentFilter;
    const matches = matchesFilter(row, f);
    const at = locate(row.id);
    if (at !== null) {
      if (matches) {
        const k = pageOf(at, pageSize);
        pages.get(k)!.rows[at - k * pageSize] = row;
        bump();
      } else requestResync();
      return;
    }
    const counted = liveCounted.has(row.id);
    if (kind === "trace_started") {
      if (!counted && matches) appendRow(row);
      bump();
      return;
    }
    if (kind !== "trace_finished" || !isFiltered(f)) return;
    // A finish may change whether the trace passes the filter (status, latency).
    const matchedAtStart = counted || matchesFilter({ ...row, status: "running", latencyMs: null }, f);
    if (matches && !matchedAtStart) appendRow(row);
    else if (!matches && matchedAtStart) requestResync();
    bump();
  }

  let mismatch: string | null = null;
  /**
   * The turns' total under the same filter. A disagreement with M may be events still on their way,
   * so it is only acted on when a second read (which the caller makes when this returns true)
   * finds the same two numbers: then rows were missed or doubled, and the index is read again.
   */
  function reconcile(serverTotal: number): boolean {
    if (status.value !== "ready" || resyncer.running) return false;
    if (serverTotal === total.value) {
      mismatch = null;
      return false;
    }
    const key = `${serverTotal}:${total.value}`;
    if (mismatch === key) {
      mismatch = null;
      requestResync();
      return false;
    }
    mismatch = key;
    return true;
  }

  // ---------- seeking ----------

  async function countBefore(startedAt: string, f: TraceFilterVars | null): Promise<number | null> {
    const res = await client
      .query(TraceSeekDocument, { id: chat!, filter: { ...(f ?? {}), startedBefore: startedAt }, first: 1 }, { requestPolicy: "network-only" })
      .toPromise();
    return res.data?.chat?.traces.totalCount ?? null;
  }

  /** The row index of a trace under the current filter, or null (not in the list, or an error). */
  async function indexOfTrace(traceId: string): Promise<number | null> {
    const held = locate(traceId);
    if (held !== null) return held;
    if (!chat) return null;
    const res = await client.query(TraceLocateDocument, { traceId }, { requestPolicy: "network-only" }).toPromise();
    const node = res.data?.node;
    if (!node || node.__typename !== "ToolTrace") return null;
    const before = await countBefore(node.startedAt, toTraceFilter(currentFilter));
    return before;
  }

  /**
   * The next row after `from` whose status is an error (error, timeout) under the filter: held
   * pages are scanned first (as far as they run on without a hole), then the API is asked.
   */
  async function findNextError(from: number): Promise<number | null> {
    let i = from + 1;
    let lastSeen: TraceRow | undefined = rowAt(from);
    for (; i < total.value; i++) {
      const r = rowAt(i);
      if (!r) break;
      if ((ERROR_STATUSES as readonly string[]).includes(r.status)) return i;
      lastSeen = r;
    }
    if (i >= total.value || !chat) return null;
    const base = toTraceFilter(currentFilter);
    const allowed = effectiveStatuses(currentFilter);
    const statuses = (allowed ?? [...ERROR_STATUSES]).filter((s) => (ERROR_STATUSES as readonly string[]).includes(s));
    if (statuses.length === 0) return null;
    const seekFilter: TraceFilterVars & { startedFrom?: string } = { ...(base ?? {}), statuses: statuses as TraceFilterVars["statuses"] };
    if (lastSeen) seekFilter.startedFrom = lastSeen.startedAt;
    const res = await client.query(TraceSeekDocument, { id: chat, filter: seekFilter, first: 20 }, { requestPolicy: "network-only" }).toPromise();
    const edges = res.data?.chat?.traces.edges ?? [];
    const next = edges.find((e) => !lastSeen || compareRows({ start: Date.parse(e.node.startedAt), id: e.node.id }, lastSeen) > 0);
    if (!next) return null;
    return countBefore(next.node.startedAt, base);
  }

  // ---------- lifecycle ----------

  watch(
    () => [toValue(chatId) ?? null, JSON.stringify(toTraceFilter(toValue(filter)))] as const,
    ([id]) => {
      const changedChat = id !== chat;
      chat = id;
      currentFilter = toValue(filter);
      if (changedChat) eventCursor.value = undefined;
      reset();
    },
    { immediate: true },
  );

  onScopeDispose(() => {
    disposed = true;
    resyncer.cancel();
    cursorRefresher.cancel();
    if (planTimer !== undefined) clearTimeout(planTimer);
  });

  return {
    total,
    version,
    status,
    indexError,
    eventCursor,
    liveTurnStarts,
    pageSize,
    rowAt,
    pageStateAt,
    pageErrorAt,
    locate,
    heldRows,
    heldPages,
    forEachHeldRow,
    setViewport,
    retryPage,
    retryIndex: () => reset(),
    applyTraceEvent,
    reconcile,
    resync: () => resyncer.flush(),
    indexOfTrace,
    findNextError,
  };
}

export type ChatTraces = ReturnType<typeof useChatTraces>;
