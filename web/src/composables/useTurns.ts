/**
 * useTurns: a chat's turns (Chat.turns) with their totals and snapshot revisions, read again,
 * coalesced, when live events say they changed.
 *
 *   const turns = useTurns(() => chatId, () => traceFilterOrNull);
 *   turns.turns      // ShallowRef<TurnInfo[]>: in turn order (firstIndex under the same filter)
 *   turns.chat       // ShallowRef<{ nextTurn; continuedFromTurn } | null>
 *   turns.error      // the last read's error (shown by the panel that uses it), or null
 *   turns.loading    // true until the first read of this chat/filter answers
 *   turns.invalidate() // a read soon (bursts of events make one read)
 *   turns.refresh()    // a read now
 *
 * Reads go through client.query with network-only (not useQuery): the document cache would
 * otherwise re-run this query on every subscription result that carries a ToolTrace.
 */
import { type Client, useClientHandle } from "@urql/vue";
import { onScopeDispose, ref, type Ref, shallowRef, toValue, watch } from "vue";
import { graphql } from "../gql";
import type { ChatTurnsQuery } from "../gql/graphql";
import { coalesce } from "../lib/coalesce";
import type { TraceFilterVars } from "../lib/trace-filter";

export const ChatTurnsDocument = graphql(`
  query ChatTurns($id: ID!, $filter: TraceFilter) {
    chat(id: $id) {
      id
      nextTurn
      continuedFromTurn
      turns(filter: $filter) {
        turn
        traceCount
        errorCount
        runningCount
        startedAt
        endedAt
        firstIndex
        tokens {
          input
          output
          cacheRead
          cacheWrite
          reasoning
          tokensUsed
        }
        revision {
          id
          uuid
          turn
          createdAt
          isCurrent
          restoredFrom
          supersededAt
          sessionId
          stateBytes
        }
      }
    }
  }
`);

export type TurnInfo = NonNullable<ChatTurnsQuery["chat"]>["turns"][number];
export type TurnRevision = NonNullable<TurnInfo["revision"]>;

type Source<T> = T | Ref<T> | (() => T);

export function useTurns(
  chatId: Source<string | null | undefined>,
  filter: Source<TraceFilterVars | null> = null,
  options: { client?: Client; delayMs?: number } = {},
) {
  const client = options.client ?? useClientHandle().client;
  const turns = shallowRef<TurnInfo[]>([]);
  const chat = shallowRef<{ nextTurn: number; continuedFromTurn: number | null } | null>(null);
  const error = shallowRef<unknown>(null);
  const loading = ref(true);
  let generation = 0;
  let disposed = false;

  async function read() {
    const id = toValue(chatId);
    if (!id) return;
    const gen = generation;
    const res = await client.query(ChatTurnsDocument, { id, filter: toValue(filter) }, { requestPolicy: "network-only" }).toPromise();
    if (gen !== generation || disposed) return;
    loading.value = false;
    if (res.error) {
      error.value = res.error;
      return;
    }
    const c = res.data?.chat;
    if (!c) {
      error.value = new Error("This chat does not exist (it may have been deleted).");
      return;
    }
    error.value = null;
    turns.value = c.turns;
    chat.value = { nextTurn: c.nextTurn, continuedFromTurn: c.continuedFromTurn ?? null };
  }

  const coalescer = coalesce(read, options.delayMs ?? 500);

  watch(
    () => [toValue(chatId), JSON.stringify(toValue(filter))],
    () => {
      generation++;
      coalescer.cancel();
      loading.value = true;
      error.value = null;
      turns.value = [];
      chat.value = null;
      void coalescer.flush();
    },
    { immediate: true },
  );

  onScopeDispose(() => {
    disposed = true;
    coalescer.cancel();
  });

  return {
    turns,
    chat,
    error,
    loading,
    invalidate: () => coalescer.request(),
    refresh: () => coalescer.flush(),
  };
}

export type Turns = ReturnType<typeof useTurns>;
