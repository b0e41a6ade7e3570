/**
 * useChatEventStream: one chat's `chatEvents` subscription, gap-free and without duplicates across
 * drops, reconnects and replays.
 *
 *   const stream = useChatEventStream(() => route.params.id as string, {
 *     after: () => chat.value?.eventCursor,     // optional: start after a query's Chat.eventCursor
 *     onEvent: (event) => applyToMyModel(event), // called exactly once per seq, in seq order
 *     onOpening: (opening) => {},               // each ChatStreamOpening (first and on every resubscribe)
 *     document: MyChatEventsDocument,           // optional: your own selection (see below)
 *     maxEvents: 2000,                          // size of the `events` ring
 *   });
 *   stream.events      // ShallowRef<ChatEvent[]>: the last `maxEvents` applied events, oldest first
 *   stream.lastCursor  // Ref<string | null>: the cursor of the last applied event (or of the opening)
 *   stream.lastSeq     // Ref<number | null>: its seq (null until known)
 *   stream.opening     // Ref<ChatStreamOpening | null>: the latest opening message
 *   stream.error       // Ref<CombinedError | undefined>: urql's error of the subscription, if any
 *   stream.paused      // Ref<boolean>, writable: true unsubscribes; false resumes from lastCursor
 *   stream.status      // Ref<"idle" | "waiting" | "subscribing" | "live" | "paused" | "ended" | "error">
 *   stream.ended       // Ref<boolean>: the chat was deleted (chat_deleted applied); nothing more comes
 *   stream.stats       // Ref<{ applied; duplicates; gaps; resubscribes }>
 *   stream.clear()     // empties `events` (keeps the cursor)
 *   stream.restart()   // forgets the cursor and subscribes afresh (live from now), e.g. after a cursor error
 *
 * Rules:
 * - chatId is a getter or ref (global id or UUID); null/undefined: no subscription. When it changes,
 *   everything is reset and the new chat is subscribed.
 * - `after` (optional getter/ref): where the first subscription starts. If given, the stream waits
 *   while it yields undefined (e.g. the chat query is loading), then subscribes with its value (a
 *   cursor, or null for "live from now"); it is read once per chat. Without `after`, the stream
 *   starts at once, live from the opening.
 * - Each ChatEvent is applied once: a seq at or below the last applied one is dropped (a replay
 *   overlapping what was already seen); a seq beyond last + 1 is a gap, and the stream resubscribes
 *   with after = lastCursor so the server replays what is missing.
 * - After the WebSocket reconnects (ConnectionInfo.reconnects, provided by main.ts under
 *   ConnectionKey), the stream resubscribes with after = lastCursor.
 * - The opening's position is adopted only by a subscription without `after` (live from now).
 * - `document`: any subscription document with variables ($chatId: ID!, $after: String) whose
 *   `chatEvents` selects `__typename`, plus `cursor` and `seq` on both ChatStreamOpening and
 *   ChatEvent and `kind` on ChatEvent; the types of `events`, `onEvent` and `opening` follow it.
 */
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type Client, type CombinedError, useClientHandle } from "@urql/vue";
import { inject, onScopeDispose, type Ref, ref, shallowRef, type ShallowRef, toValue, watch } from "vue";
import { ConnectionKey, type ConnectionInfo } from "../connection";
import { graphql } from "../gql";

/** The default selection: everything the raw event viewer shows. */
export const ChatEventStreamDocument = graphql(`
  subscription ChatEventStream($chatId: ID!, $after: String) {
    chatEvents(chatId: $chatId, after: $after) {
      __typename
      ... on ChatStreamOpening {
        cursor
        seq
        snapshot {
          id
          turn
        }
      }
      ... on ChatEvent {
        cursor
        seq
        kind
        at
        chatId
        subjectId
        trace {
          id
          uuid
          toolName
          status
          turnNumber
          latencyMs
        }
        revision {
          id
          turn
        }
        turn {
          id
          turnNumber
          trigger
          status
          fixAttempt
          fixFollows
          outcome
        }
        message {
          id
          turnNumber
          kind
          text
        }
      }
    }
  }
`);

type StreamMessageShape =
  | { __typename?: "ChatStreamOpening"; cursor: string; seq: number }
  | { __typename?: "ChatEvent"; cursor: string; seq: number; kind: string };

/** A document usable with useChatEventStream. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ChatStreamDocument = TypedDocumentNode<{ chatEvents: any }, { chatId: string; after?: string | null }>;
type MessageOf<D> = D extends TypedDocumentNode<infer R, infer _V> ? (R extends { chatEvents: infer M } ? M : never) : never;
/** The ChatEvent branch of a document's `chatEvents`. */
export type StreamEventOf<D> = Extract<MessageOf<D>, { __typename?: "ChatEvent" }>;
/** The ChatStreamOpening branch of a document's `chatEvents`. */
export type StreamOpeningOf<D> = Extract<MessageOf<D>, { __typename?: "ChatStreamOpening" }>;

export type StreamStatus = "idle" | "waiting" | "subscribing" | "live" | "paused" | "ended" | "error";

type Source<T> = T | Ref<T> | (() => T);

export interface ChatEventStreamOptions<D extends ChatStreamDocument> {
  document?: D;
  after?: Source<string | null | undefined>;
  onEvent?: (event: StreamEventOf<D>) => void;
  onOpening?: (opening: StreamOpeningOf<D>) => void;
  maxEvents?: number;
  /** Start paused (default false). */
  paused?: boolean;
  /** Defaults to the client provided to the app (@urql/vue's useClient). */
  client?: Client;
  /** Defaults to the ConnectionInfo provided under ConnectionKey, if any. */
  connection?: Pick<ConnectionInfo, "reconnects"> | null;
}

export interface ChatEventStream<D extends ChatStreamDocument> {
  events: Readonly<ShallowRef<readonly StreamEventOf<D>[]>>;
  lastCursor: Readonly<Ref<string | null>>;
  lastSeq: Readonly<Ref<number | null>>;
  opening: Readonly<ShallowRef<StreamOpeningOf<D> | null>>;
  error: Readonly<ShallowRef<CombinedError | undefined>>;
  paused: Ref<boolean>;
  status: Readonly<Ref<StreamStatus>>;
  ended: Readonly<Ref<boolean>>;
  stats: Readonly<Ref<{ applied: number; duplicates: number; gaps: number; resubscribes: number }>>;
  clear(): void;
  restart(): void;
}

export const DEFAULT_MAX_EVENTS = 2000;

export function useChatEventStream<D extends ChatStreamDocument = typeof ChatEventStreamDocument>(
  chatId: Source<string | null | undefined>,
  options: ChatEventStreamOptions<D> = {},
): ChatEventStream<D> {
  type Ev = StreamEventOf<D>;
  type Op = StreamOpeningOf<D>;
  const document = (options.document ?? ChatEventStreamDocument) as unknown as D;
  const maxEvents = Math.max(1, options.maxEvents ?? DEFAULT_MAX_EVENTS);
  const client = options.client ?? useClientHandle().client;
  const connection = options.connection === undefined ? inject(ConnectionKey, null) : options.connection;

  const events = shallowRef<readonly Ev[]>([]);
  const lastCursor = ref<string | null>(null);
  const lastSeq = ref<number | null>(null);
  const opening = shallowRef<Op | null>(null);
  const error = shallowRef<CombinedError | undefined>(undefined);
  const paused = ref(options.paused ?? false);
  const status = ref<StreamStatus>("idle");
  const ended = ref(false);
  const stats = ref({ applied: 0, duplicates: 0, gaps: 0, resubscribes: 0 });

  let currentChat: string | null = null;
  /** The cursor the first subscription of this chat starts after; undefined: not known yet. */
  let startAfter: string | null | undefined;
  let unsubscribe: (() => void) | undefined;
  /** Bumped on every (re)subscribe: results of an older attempt are ignored. */
  let attempt = 0;
  let pending: Ev[] = [];
  let flushQueued = false;

  const flush = () => {
    flushQueued = false;
    if (pending.length === 0) return;
    const merged = events.value.concat(pending);
    pending = [];
    events.value = merged.length > maxEvents ? merged.slice(merged.length - maxEvents) : merged;
  };

  function stop() {
    attempt += 1;
    unsubscribe?.();
    unsubscribe = undefined;
  }

  function subscribe() {
    stop();
    if (currentChat === null || ended.value) return;
    if (paused.value) {
      status.value = "paused";
      return;
    }
    if (startAfter === undefined) {
      status.value = "waiting";
      return;
    }
    const mine = ++attempt;
    const after = lastCursor.value ?? startAfter;
    status.value = "subscribing";
    const source = client.subscription(document, { chatId: currentChat, after } as never);
    const subscription = source.subscribe((result) => {
      if (mine !== attempt) return;
      // urql may repeat the previous data alongside an error: a repeated event is a duplicate, dropped.
      const message = (result.data as { chatEvents?: StreamMessageShape } | undefined)?.chatEvents;
      if (message) handle(message, after, mine);
      if (result.error && mine === attempt) {
        error.value = result.error;
        if (!ended.value) status.value = "error";
      }
    });
    // The result source may have delivered synchronously and triggered a resubscribe meanwhile.
    if (mine === attempt) unsubscribe = () => subscription.unsubscribe();
    else subscription.unsubscribe();
  }

  function handle(message: StreamMessageShape, subscribedAfter: string | null, mine: number) {
    error.value = undefined;
    if (status.value !== "ended") status.value = "live";
    const isEvent = message.__typename === "ChatEvent" || (message.__typename === undefined && "kind" in message);
    if (!isEvent) {
      // A subscription live from now starts at the opening; one with `after` replays from there.
      if (subscribedAfter === null && lastCursor.value === null) {
        lastSeq.value = message.seq;
        lastCursor.value = message.cursor;
      }
      opening.value = message as unknown as Op;
      options.onOpening?.(message as unknown as Op);
      return;
    }
    const event = message as Extract<StreamMessageShape, { kind: string }>;
    const last = lastSeq.value;
    if (last !== null && event.seq <= last) {
      stats.value.duplicates += 1;
      return;
    }
    if (last !== null && event.seq > last + 1 && event.kind !== "chat_deleted") {
      // Something in between was missed: let the server replay it from the last applied cursor.
      stats.value.gaps += 1;
      resubscribe();
      return;
    }
    lastSeq.value = event.seq;
    lastCursor.value = event.cursor;
    stats.value.applied += 1;
    pending.push(event as unknown as Ev);
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush);
    }
    options.onEvent?.(event as unknown as Ev);
    if (event.kind === "chat_deleted" && mine === attempt) {
      // The server ends the stream after chat_deleted: nothing more will come for this chat.
      ended.value = true;
      status.value = "ended";
      stop();
    }
  }

  function resubscribe() {
    if (currentChat === null || ended.value || paused.value || startAfter === undefined) return;
    stats.value.resubscribes += 1;
    subscribe();
  }

  function reset(chat: string | null, live = false) {
    stop();
    flush();
    currentChat = chat;
    events.value = [];
    pending = [];
    lastCursor.value = null;
    lastSeq.value = null;
    opening.value = null;
    error.value = undefined;
    ended.value = false;
    stats.value = { applied: 0, duplicates: 0, gaps: 0, resubscribes: 0 };
    startAfter = live || options.after === undefined ? null : toValue(options.after);
    status.value = chat === null ? "idle" : "waiting";
    subscribe();
  }

  watch(
    () => toValue(chatId) ?? null,
    (chat) => reset(chat),
    { immediate: true },
  );

  if (options.after !== undefined) {
    const afterSource = options.after;
    watch(
      () => toValue(afterSource),
      (value) => {
        // Read once per chat: only the wait for a first value is ended here.
        if (startAfter !== undefined || value === undefined) return;
        startAfter = value;
        subscribe();
      },
    );
  }

  watch(paused, (now) => {
    if (now) {
      stop();
      if (currentChat !== null && !ended.value) status.value = "paused";
    } else subscribe();
  });

  if (connection) {
    watch(
      () => connection.reconnects.value,
      () => {
        // Whatever was live (or failed while the socket was down) picks up from its last cursor.
        if (unsubscribe || status.value === "error") resubscribe();
      },
    );
  }

  onScopeDispose(() => {
    stop();
  });

  return {
    events,
    lastCursor,
    lastSeq,
    opening,
    error,
    paused,
    status,
    ended,
    stats,
    clear() {
      pending = [];
      events.value = [];
    },
    restart() {
      reset(currentChat, true);
    },
  };
}
