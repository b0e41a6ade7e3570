/**
 * useChatList: the chat list, a page at a time (keyset cursors, newest first), filtered by title,
 * kept live by the `chatsActivity` subscription.
 *
 * Live updates are coalesced: events mark chats dirty, and at most every FLUSH_MS one request
 * re-reads the dirty chats that are loaded (nodes(ids)) and, when chats were created, the first
 * page. Deleted chats leave the list. After the WebSocket reconnects (events may have been missed)
 * or the subscription fails, every loaded chat and the first page are re-read.
 */
import { type Client, type CombinedError, useClientHandle } from "@urql/vue";
import { inject, onScopeDispose, type Ref, ref, shallowRef, toValue, watch } from "vue";
import { ConnectionKey, type ConnectionInfo } from "../connection";
import { type FragmentType, graphql, useFragment } from "../gql";
import type { ChatListRowFragment } from "../gql/graphql";

export const ChatListRowFragmentDoc = graphql(`
  fragment ChatListRow on Chat {
    id
    uuid
    title
    workspace
    createdAt
    lastActivityAt
    stats {
      traceCount
      errorCount
      runningCount
      tokens {
        tokensUsed
      }
    }
  }
`);

export const ChatsPageDocument = graphql(`
  query ChatsPage($first: Int!, $after: String, $filter: ChatFilter) {
    chats(first: $first, after: $after, filter: $filter) {
      edges {
        node {
          ...ChatListRow
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ChatsByIdDocument = graphql(`
  query ChatsById($ids: [ID!]!) {
    nodes(ids: $ids) {
      __typename
      ... on Chat {
        ...ChatListRow
      }
    }
  }
`);

export const ChatsActivityDocument = graphql(`
  subscription ChatsActivity {
    chatsActivity {
      chatId
      kind
      seq
    }
  }
`);

export type ChatRow = ChatListRowFragment;

/** How often, at most, live events turn into a request. */
export const FLUSH_MS = 400;
/** Chats re-read per request (each costs about 22 in the server's complexity limit). */
const REFRESH_BATCH = 50;

const unmask = (node: FragmentType<typeof ChatListRowFragmentDoc>): ChatRow => useFragment(ChatListRowFragmentDoc, node);

/** Newest first, as the server orders them: createdAt desc, then UUID desc. */
function newerFirst(a: ChatRow, b: ChatRow): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  if (byTime !== 0) return byTime;
  return a.uuid < b.uuid ? 1 : a.uuid > b.uuid ? -1 : 0;
}

const matches = (row: ChatRow, q: string) => q === "" || row.title.toLowerCase().includes(q.toLowerCase());

export interface ChatListOptions {
  pageSize?: number;
  client?: Client;
  connection?: Pick<ConnectionInfo, "reconnects"> | null;
  /** Subscribe to chatsActivity (default true). */
  live?: boolean;
}

export function useChatList(query: Ref<string> | (() => string), options: ChatListOptions = {}) {
  const pageSize = options.pageSize ?? 50;
  const client = options.client ?? useClientHandle().client;
  const connection = options.connection === undefined ? inject(ConnectionKey, null) : options.connection;

  const rows = shallowRef<ChatRow[]>([]);
  const hasMore = ref(false);
  const loading = ref(false);
  const loadingMore = ref(false);
  const loaded = ref(false);
  /** The first page failed: nothing to show. */
  const error = shallowRef<CombinedError | undefined>();
  /** Loading a further page failed. */
  const moreError = shallowRef<CombinedError | undefined>();
  /** The live updates failed (the list may be stale until they recover). */
  const liveError = shallowRef<CombinedError | undefined>();
  const lastUpdatedAt = ref<number | null>(null);

  let endCursor: string | null = null;
  /** Bumped when the filter changes: answers for an older filter are dropped. */
  let generation = 0;
  let q = "";

  async function loadFirst() {
    const mine = ++generation;
    loading.value = true;
    error.value = undefined;
    moreError.value = undefined;
    const result = await client
      .query(ChatsPageDocument, { first: pageSize, after: null, filter: q ? { titleContains: q } : null }, { requestPolicy: "network-only" })
      .toPromise();
    if (mine !== generation) return;
    loading.value = false;
    if (result.error || !result.data) {
      error.value = result.error;
      return;
    }
    rows.value = result.data.chats.edges.map((e) => unmask(e.node));
    endCursor = result.data.chats.pageInfo.endCursor ?? null;
    hasMore.value = result.data.chats.pageInfo.hasNextPage;
    loaded.value = true;
    lastUpdatedAt.value = Date.now();
    if (dirty.size || deleted.size || headDirty || refreshAll) schedule();
  }

  async function loadMore() {
    if (loadingMore.value || loading.value || !hasMore.value || !endCursor) return;
    const mine = generation;
    loadingMore.value = true;
    moreError.value = undefined;
    const result = await client
      .query(ChatsPageDocument, { first: pageSize, after: endCursor, filter: q ? { titleContains: q } : null }, { requestPolicy: "network-only" })
      .toPromise();
    if (mine !== generation) return;
    loadingMore.value = false;
    if (result.error || !result.data) {
      moreError.value = result.error;
      return;
    }
    const known = new Set(rows.value.map((r) => r.id));
    const added = result.data.chats.edges.map((e) => unmask(e.node)).filter((r) => !known.has(r.id));
    rows.value = [...rows.value, ...added];
    endCursor = result.data.chats.pageInfo.endCursor ?? endCursor;
    hasMore.value = result.data.chats.pageInfo.hasNextPage;
  }

  // ---- live updates ----
  const dirty = new Set<string>(); // UUIDs
  const deleted = new Set<string>();
  let headDirty = false;
  let refreshAll = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing = false;
  let lastFlush = 0;

  function schedule() {
    if (flushTimer || flushing) return;
    const wait = Math.max(0, lastFlush + FLUSH_MS - Date.now());
    flushTimer = setTimeout(() => {
      flushTimer = undefined;
      void flush();
    }, wait);
  }

  async function flush() {
    if (!loaded.value) return;
    flushing = true;
    lastFlush = Date.now();
    const mine = generation;
    try {
      if (deleted.size) {
        const gone = new Set(deleted);
        deleted.clear();
        rows.value = rows.value.filter((r) => !gone.has(r.uuid));
      }
      const byUuid = new Map(rows.value.map((r) => [r.uuid, r]));
      const ids = refreshAll ? rows.value.map((r) => r.id) : [...dirty].flatMap((uuid) => byUuid.get(uuid)?.id ?? []);
      const head = headDirty || refreshAll;
      dirty.clear();
      headDirty = false;
      refreshAll = false;

      const updates = new Map<string, ChatRow | null>();
      for (let i = 0; i < ids.length; i += REFRESH_BATCH) {
        const batch = ids.slice(i, i + REFRESH_BATCH);
        const result = await client.query(ChatsByIdDocument, { ids: batch }, { requestPolicy: "network-only" }).toPromise();
        if (mine !== generation) return;
        if (result.error || !result.data) {
          liveError.value = result.error;
          return;
        }
        result.data.nodes.forEach((node, index) => {
          updates.set(batch[index]!, node && node.__typename === "Chat" ? unmask(node) : null);
        });
      }
      let headRows: ChatRow[] | undefined;
      let headHasMore = false;
      let headEnd: string | null = null;
      if (head) {
        const result = await client
          .query(ChatsPageDocument, { first: pageSize, after: null, filter: q ? { titleContains: q } : null }, { requestPolicy: "network-only" })
          .toPromise();
        if (mine !== generation) return;
        if (result.error || !result.data) {
          liveError.value = result.error;
          return;
        }
        headRows = result.data.chats.edges.map((e) => unmask(e.node));
        headHasMore = result.data.chats.pageInfo.hasNextPage;
        headEnd = result.data.chats.pageInfo.endCursor ?? null;
      }
      liveError.value = undefined;
      apply(updates, headRows, headHasMore, headEnd);
      lastUpdatedAt.value = Date.now();
    } finally {
      flushing = false;
      if (dirty.size || deleted.size || headDirty || refreshAll) schedule();
    }
  }

  function apply(updates: Map<string, ChatRow | null>, headRows: ChatRow[] | undefined, headHasMore: boolean, headEnd: string | null) {
    let next = rows.value.flatMap((row) => {
      if (!updates.has(row.id)) return [row];
      const updated = updates.get(row.id);
      return updated && matches(updated, q) ? [updated] : [];
    });
    if (headRows) {
      const known = new Map(next.map((r) => [r.id, r]));
      const overlaps = headRows.some((r) => known.has(r.id));
      if (!overlaps && headHasMore && next.length > 0) {
        // More chats were created than a page holds: what lies between is unknown, start over at the head.
        next = headRows;
        endCursor = headEnd;
        hasMore.value = headHasMore;
      } else {
        for (const row of headRows) known.set(row.id, row);
        next = next.map((r) => known.get(r.id) ?? r);
        const present = new Set(next.map((r) => r.id));
        const added = headRows.filter((r) => !present.has(r.id));
        if (added.length) next = [...added, ...next].sort(newerFirst);
        if (rows.value.length === 0) {
          endCursor = headEnd;
          hasMore.value = headHasMore;
        }
      }
    }
    rows.value = next;
  }

  function onActivity(event: { chatId: string; kind: string }) {
    if (event.kind === "chat_deleted") {
      deleted.add(event.chatId);
      dirty.delete(event.chatId);
    } else if (event.kind === "chat_created") headDirty = true;
    else dirty.add(event.chatId);
    schedule();
  }

  let stopActivity: (() => void) | undefined;
  function subscribeActivity() {
    stopActivity?.();
    const subscription = client.subscription(ChatsActivityDocument, {}).subscribe((result) => {
      if (result.error) {
        liveError.value = result.error;
        // SUBSCRIBER_TOO_SLOW and the like end the stream: subscribe again and re-read everything.
        refreshAll = true;
        schedule();
        setTimeout(() => {
          if (stopActivity) subscribeActivity();
        }, 2000);
        return;
      }
      if (result.data) onActivity(result.data.chatsActivity);
    });
    stopActivity = () => subscription.unsubscribe();
  }

  if (options.live !== false) {
    subscribeActivity();
    if (connection) {
      watch(
        () => connection.reconnects.value,
        () => {
          refreshAll = true;
          schedule();
        },
      );
    }
  }

  watch(
    () => toValue(query).trim(),
    (value) => {
      q = value;
      dirty.clear();
      deleted.clear();
      headDirty = false;
      refreshAll = false;
      rows.value = [];
      hasMore.value = false;
      endCursor = null;
      loaded.value = false;
      void loadFirst();
    },
    { immediate: true },
  );

  onScopeDispose(() => {
    generation += 1;
    clearTimeout(flushTimer);
    const stop = stopActivity;
    stopActivity = undefined;
    stop?.();
  });

  return { rows, hasMore, loading, loadingMore, loaded, error, moreError, liveError, lastUpdatedAt, loadMore, reload: loadFirst };
}
