// useChatEventStream's cursor bookkeeping, driven through a real urql Client whose subscription end
// is a fake: each seq applied once, in order, across reconnects with overlapping replays, gaps,
// pauses and chat changes, and resumed with the right `after`.
import { afterEach, describe, expect, test } from "vitest";
import { effectScope, nextTick, ref } from "vue";
import { useChatEventStream } from "../../web/src/composables/useChatEventStream";
import { fakeClient, fakeConnection, type FakeSubscription, settle } from "./shell-fakes";

const CHAT = "3f2a1c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
const cursor = (seq: number, chat = CHAT) => `cur:${chat.slice(0, 4)}:${seq}`;

const opening = (seq: number, chat = CHAT) => ({
  data: { chatEvents: { __typename: "ChatStreamOpening", cursor: cursor(seq, chat), seq, snapshot: null } },
});
const event = (seq: number, kind = "trace_started", chat = CHAT) => ({
  data: {
    chatEvents: {
      __typename: "ChatEvent",
      cursor: cursor(seq, chat),
      seq,
      kind,
      at: new Date(1_700_000_000_000 + seq * 1000).toISOString(),
      chatId: chat,
      subjectId: `subject-${seq}`,
      trace: null,
      revision: null,
    },
  },
});

const scopes: ReturnType<typeof effectScope>[] = [];
afterEach(() => {
  while (scopes.length) scopes.pop()!.stop();
});

function setup(options: { chatId?: ReturnType<typeof ref<string | null>>; after?: ReturnType<typeof ref<string | null | undefined>>; maxEvents?: number } = {}) {
  const fake = fakeClient();
  const connection = fakeConnection();
  const applied: number[] = [];
  const openings: number[] = [];
  const chatId = options.chatId ?? ref<string | null>(CHAT);
  const scope = effectScope();
  scopes.push(scope);
  const stream = scope.run(() =>
    useChatEventStream(() => chatId.value, {
      client: fake.client,
      connection: connection.info,
      after: options.after === undefined ? undefined : () => options.after!.value,
      maxEvents: options.maxEvents,
      onEvent: (e) => applied.push(e.seq),
      onOpening: (o) => openings.push(o.seq),
    }),
  )!;
  const live = () => {
    const open = fake.open("ChatEventStream");
    expect(open, "exactly one open chatEvents subscription").toHaveLength(1);
    return open[0]!;
  };
  const deliver = async (sub: FakeSubscription, ...results: { data: unknown }[]) => {
    for (const result of results) sub.next(result);
    await settle();
  };
  return { fake, connection, stream, applied, openings, chatId, live, deliver, scope };
}

describe("useChatEventStream", () => {
  test("starts live (after: null), adopts the opening's position and applies each event once, in order", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    expect(first.variables).toEqual({ chatId: CHAT, after: null });
    await t.deliver(first, opening(5), event(6), event(7), event(7), event(5), event(8));
    expect(t.applied).toEqual([6, 7, 8]);
    expect(t.openings).toEqual([5]);
    expect(t.stream.lastSeq.value).toBe(8);
    expect(t.stream.lastCursor.value).toBe(cursor(8));
    expect(t.stream.events.value.map((e) => e.seq)).toEqual([6, 7, 8]);
    expect(t.stream.stats.value).toMatchObject({ applied: 3, duplicates: 2, gaps: 0 });
    expect(t.stream.status.value).toBe("live");
  });

  test("a reconnect with overlapping replay applies every seq exactly once and resumes after the last applied cursor", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    await t.deliver(first, opening(5), event(6), event(7), event(8));

    // The socket drops and comes back: graphql-ws re-sends the old subscription first (replaying
    // from its old position), then the composable resubscribes from its last cursor.
    t.connection.state.value = "reconnecting";
    await t.deliver(first, opening(9), event(6), event(7), event(8), event(9));
    t.connection.reconnect();
    await settle();
    expect(first.closed).toBe(true);
    const second = t.live();
    expect(second.variables).toEqual({ chatId: CHAT, after: cursor(9) });
    // The server replays after the cursor; a late duplicate on the way is dropped.
    await t.deliver(second, opening(11), event(8), event(9), event(10), event(11));
    // Anything the torn-down subscription still produced is ignored.
    first.next(event(12));
    await settle();

    expect(t.applied).toEqual([6, 7, 8, 9, 10, 11]);
    expect(new Set(t.applied).size).toBe(t.applied.length);
    expect(t.stream.lastCursor.value).toBe(cursor(11));
    expect(t.stream.events.value.map((e) => e.seq)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(t.stream.stats.value.resubscribes).toBe(1);

    // A second reconnect resumes from the newest cursor again.
    t.connection.reconnect();
    await settle();
    expect(t.live().variables).toEqual({ chatId: CHAT, after: cursor(11) });
  });

  test("a gap resubscribes from the last applied cursor and fills it in order", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    await t.deliver(first, opening(1), event(2), event(3), event(6));
    expect(t.applied).toEqual([2, 3]);
    expect(first.closed).toBe(true);
    const second = t.live();
    expect(second.variables).toEqual({ chatId: CHAT, after: cursor(3) });
    await t.deliver(second, opening(6), event(4), event(5), event(6), event(7));
    expect(t.applied).toEqual([2, 3, 4, 5, 6, 7]);
    expect(t.stream.stats.value).toMatchObject({ gaps: 1, resubscribes: 1 });
  });

  test("with `after`, it waits for a value, replays from it and does not adopt the opening's (later) position", async () => {
    const after = ref<string | null | undefined>(undefined);
    const t = setup({ after });
    await settle();
    expect(t.fake.open("ChatEventStream")).toHaveLength(0);
    expect(t.stream.status.value).toBe("waiting");
    after.value = cursor(2);
    await nextTick();
    await settle();
    const first = t.live();
    expect(first.variables).toEqual({ chatId: CHAT, after: cursor(2) });
    // The opening is read at the head (seq 5); the replay of 3..5 follows it.
    await t.deliver(first, opening(5), event(3), event(4), event(5), event(6));
    expect(t.applied).toEqual([3, 4, 5, 6]);
    // Later changes of `after` do not restart the stream.
    after.value = cursor(1);
    await nextTick();
    await settle();
    expect(t.live()).toBe(first);
  });

  test("pause unsubscribes; resume replays from the last cursor without repeating anything", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    await t.deliver(first, opening(0), event(1), event(2));
    t.stream.paused.value = true;
    await nextTick();
    await settle();
    expect(first.closed).toBe(true);
    expect(t.fake.open("ChatEventStream")).toHaveLength(0);
    expect(t.stream.status.value).toBe("paused");
    // A reconnect while paused does not subscribe.
    t.connection.reconnect();
    await settle();
    expect(t.fake.open("ChatEventStream")).toHaveLength(0);

    t.stream.paused.value = false;
    await nextTick();
    await settle();
    const second = t.live();
    expect(second.variables).toEqual({ chatId: CHAT, after: cursor(2) });
    await t.deliver(second, opening(4), event(3), event(4));
    expect(t.applied).toEqual([1, 2, 3, 4]);
  });

  test("chat_deleted ends the stream: no resubscribe, even after a reconnect", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    await t.deliver(first, opening(0), event(1), event(3, "chat_deleted"));
    expect(t.applied).toEqual([1, 3]); // chat_deleted is applied even past a gap
    expect(t.stream.ended.value).toBe(true);
    expect(t.stream.status.value).toBe("ended");
    expect(first.closed).toBe(true);
    t.connection.reconnect();
    await settle();
    expect(t.fake.open("ChatEventStream")).toHaveLength(0);
  });

  test("errors are urql's CombinedError; restart() starts afresh, live from now", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    await t.deliver(first, opening(0), event(1));
    first.next({ errors: [{ message: "The cursor is not valid", extensions: { code: "BAD_CURSOR" } }] });
    await settle();
    expect(t.stream.error.value?.graphQLErrors[0]?.message).toBe("The cursor is not valid");
    expect(t.stream.error.value?.graphQLErrors[0]?.extensions.code).toBe("BAD_CURSOR");
    expect(t.stream.status.value).toBe("error");

    t.stream.restart();
    await settle();
    const second = t.live();
    expect(second.variables).toEqual({ chatId: CHAT, after: null });
    expect(t.stream.error.value).toBeUndefined();
    expect(t.stream.events.value).toEqual([]);
    await t.deliver(second, opening(7), event(8));
    expect(t.applied).toEqual([1, 8]);
  });

  test("a new chat id resets everything and subscribes to that chat; null stops", async () => {
    const chatId = ref<string | null>(CHAT);
    const t = setup({ chatId });
    await settle();
    const first = t.live();
    await t.deliver(first, opening(3), event(4));
    const other = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    chatId.value = other;
    await nextTick();
    await settle();
    expect(first.closed).toBe(true);
    const second = t.live();
    expect(second.variables).toEqual({ chatId: other, after: null });
    expect(t.stream.events.value).toEqual([]);
    expect(t.stream.lastSeq.value).toBeNull();
    await t.deliver(second, opening(1, other), event(2, "trace_started", other));
    expect(t.stream.lastCursor.value).toBe(cursor(2, other));
    chatId.value = null;
    await nextTick();
    await settle();
    expect(t.fake.open("ChatEventStream")).toHaveLength(0);
    expect(t.stream.status.value).toBe("idle");
  });

  test("events is a bounded ring of the latest maxEvents; clear() empties it and keeps the cursor", async () => {
    const t = setup({ maxEvents: 5 });
    await settle();
    const first = t.live();
    await t.deliver(first, opening(0), ...Array.from({ length: 12 }, (_, i) => event(i + 1)));
    expect(t.stream.events.value.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(t.applied).toHaveLength(12);
    t.stream.clear();
    expect(t.stream.events.value).toEqual([]);
    expect(t.stream.lastCursor.value).toBe(cursor(12));
  });

  test("disposing the scope unsubscribes", async () => {
    const t = setup();
    await settle();
    const first = t.live();
    t.scope.stop();
    await settle();
    expect(first.closed).toBe(true);
  });
});
