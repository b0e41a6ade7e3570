// The live event viewers in happy-dom: one chat's chatEvents (/chats/:id/events) with Pause, Clear
// and Copy, a missing chat, and the all-chats activity feed (/events).
import urql from "@urql/vue";
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createMemoryHistory } from "vue-router";
import App from "../../web/src/App.vue";
import { ConnectionKey } from "../../web/src/connection";
import ErrorPanel from "../../web/src/components/ErrorPanel.vue";
import StatusBadge from "../../web/src/components/StatusBadge.vue";
import { createAppRouter } from "../../web/src/router";
import { CombinedError } from "@urql/core";
import { fakeClient, fakeConnection, settle } from "./shell-fakes";

const CHAT = "3f2a1c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  vi.restoreAllMocks();
});

const waitFor = (assertion: () => void, timeout = 2000) => vi.waitFor(assertion, { timeout, interval: 20 });

async function mountAt(path: string, chats: Record<string, string> = { [CHAT]: "Fix the build" }) {
  const fake = fakeClient((request) => {
    if (request.operationName === "EventsViewChat") {
      const title = chats[request.variables.id as string];
      return { data: { chat: title ? { __typename: "Chat", id: btoa(`Chat:${request.variables.id}`), uuid: request.variables.id, title } : null } };
    }
    if (request.operationName === "ActivityChatTitles") {
      const uuids = (request.variables.ids as string[]).map((id) => atob(id).slice("Chat:".length));
      return { data: { nodes: uuids.map((uuid) => (chats[uuid] ? { __typename: "Chat", uuid, title: chats[uuid] } : null)) } };
    }
    return { data: null };
  });
  const connection = fakeConnection();
  const router = createAppRouter(createMemoryHistory());
  await router.push(path);
  await router.isReady();
  wrapper = mount(App, { attachTo: document.body, global: { plugins: [router, [urql, fake.client]], provide: { [ConnectionKey as symbol]: connection.info } } });
  return { fake, connection, router, wrapper };
}

const opening = (seq: number) => ({ data: { chatEvents: { __typename: "ChatStreamOpening", cursor: `cursor-opening-${seq}-0123456789abcdef`, seq, snapshot: { __typename: "SnapshotRevision", id: "r", turn: 2 } } } });
const traceEvent = (seq: number, kind: "trace_started" | "trace_finished", status: "running" | "ok" | "error") => ({
  data: {
    chatEvents: {
      __typename: "ChatEvent",
      cursor: `cursor-${seq}-0123456789abcdef0123456789`,
      seq,
      kind,
      at: "2026-11-24T21:08:15.123Z",
      chatId: CHAT,
      subjectId: `aaaaaaaa-0000-4000-8000-00000000000${seq}`,
      trace: { __typename: "ToolTrace", id: `t${seq}`, uuid: `u${seq}`, toolName: "run_command", status, turnNumber: 3, latencyMs: status === "running" ? null : 2100 },
      revision: null,
    },
  },
});

describe("/chats/:id/events", () => {
  test("shows the chat's title and each event newest first: kind, seq, cursor, time and payload", async () => {
    const { fake, connection } = await mountAt(`/chats/${CHAT}/events`);
    await waitFor(() => expect(fake.open("ChatEventStream")).toHaveLength(1));
    expect(wrapper!.find("h1").text()).toContain("Fix the build");
    const stream = fake.open("ChatEventStream")[0]!;
    expect(stream.variables).toEqual({ chatId: CHAT, after: null });
    stream.next(opening(4));
    stream.next(traceEvent(5, "trace_started", "running"));
    stream.next(traceEvent(6, "trace_finished", "error"));
    await settle();
    await flushPromises();
    const rows = wrapper!.findAll("table.events tbody tr");
    expect(rows).toHaveLength(2);
    const cells = rows[0]!.findAll("td").map((td) => td.text());
    expect(cells[0]).toContain("trace_finished");
    expect(cells[1]).toBe("6");
    expect(rows[0]!.find(".cursor code").attributes("title")).toBe("cursor-6-0123456789abcdef0123456789");
    expect(cells[2]).toContain("…"); // truncated
    expect(rows[0]!.find("time").attributes("datetime")).toBe("2026-11-24T21:08:15.123Z");
    expect(cells[5]).toContain("run_command");
    expect(cells[5]).toContain("error"); // the status in words, not colour alone
    expect(cells[5]).toContain("2.10 s");
    expect(rows[1]!.text()).toContain("trace_started");
    expect(wrapper!.text()).toContain("Opened at seq 4");
    expect(wrapper!.find(".stream-status").text()).toContain("Streaming");
    connection.state.value = "reconnecting";
    await flushPromises();
    expect(wrapper!.find(".stream-status").text()).toContain("Interrupted: resumes on reconnect");
    connection.state.value = "connected";
    await flushPromises();
    const graphiql = wrapper!.find('a[href^="/graphql?"]');
    const query = new URL(graphiql.attributes("href")!, "http://x").searchParams.get("query")!;
    expect(query).toContain("chatEvents");
    expect(query).toContain(`$chatId: ID! = "${CHAT}"`);
    expect(query).toContain(`$after: String = "cursor-6-0123456789abcdef0123456789"`);
  });

  test("Pause unsubscribes and Resume continues from the last cursor; Clear empties; Copy copies JSON lines", async () => {
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const { fake } = await mountAt(`/chats/${CHAT}/events`);
    await waitFor(() => expect(fake.open("ChatEventStream")).toHaveLength(1));
    const stream = fake.open("ChatEventStream")[0]!;
    stream.next(opening(4));
    stream.next(traceEvent(5, "trace_started", "running"));
    stream.next(traceEvent(6, "trace_finished", "ok"));
    await settle();

    const pause = wrapper!.findAll("button").find((b) => b.text() === "Pause")!;
    expect(pause.attributes("aria-pressed")).toBe("false");
    await pause.trigger("click");
    await settle();
    expect(stream.closed).toBe(true);
    expect(pause.text()).toBe("Resume");
    expect(pause.attributes("aria-pressed")).toBe("true");
    expect(wrapper!.find(".stream-status").text()).toContain("Paused");

    await wrapper!.findAll("button").find((b) => b.text() === "Copy JSON lines")!.trigger("click");
    await flushPromises();
    expect(writeText).toHaveBeenCalledTimes(1);
    const lines = (writeText.mock.calls[0] as unknown as [string])[0].split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual([5, 6]);
    expect(lines[1]).toMatchObject({ kind: "trace_finished", cursor: "cursor-6-0123456789abcdef0123456789", trace: { toolName: "run_command", status: "ok" } });

    await pause.trigger("click");
    await settle();
    const resumed = fake.open("ChatEventStream");
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.variables).toEqual({ chatId: CHAT, after: "cursor-6-0123456789abcdef0123456789" });

    await wrapper!.findAll("button").find((b) => b.text() === "Clear")!.trigger("click");
    await flushPromises();
    expect(wrapper!.findAll("table.events tbody tr")).toHaveLength(0);
    expect(wrapper!.text()).toContain("Waiting for events");
  });

  test("an unknown chat says so and opens no stream", async () => {
    const { fake } = await mountAt(`/chats/00000000-0000-4000-8000-000000000000/events`);
    await waitFor(() => expect(wrapper!.find('[role="alert"]').exists()).toBe(true));
    expect(wrapper!.find('[role="alert"]').text()).toContain("Chat not found");
    expect(fake.open("ChatEventStream")).toHaveLength(0);
  });

  test("a stream error is shown with its code, and Retry starts the stream afresh", async () => {
    const { fake } = await mountAt(`/chats/${CHAT}/events`);
    await waitFor(() => expect(fake.open("ChatEventStream")).toHaveLength(1));
    const stream = fake.open("ChatEventStream")[0]!;
    stream.next({ errors: [{ message: "Chat was not found", extensions: { code: "NOT_FOUND" } }] });
    await settle();
    await flushPromises();
    const alert = wrapper!.find('[role="alert"]');
    expect(alert.text()).toContain("The event stream failed");
    expect(alert.text()).toContain("NOT_FOUND");
    expect(wrapper!.find(".stream-status").text()).toContain("Failed");
    await alert.find("button").trigger("click");
    await settle();
    expect(fake.open("ChatEventStream")).toHaveLength(1);
    expect(fake.open("ChatEventStream")[0]).not.toBe(stream);
  });
});

describe("/events", () => {
  test("every chat's activity, live, with links to each chat's stream", async () => {
    const { fake } = await mountAt("/events");
    await waitFor(() => expect(fake.open("ActivityFeed")).toHaveLength(1));
    expect(wrapper!.find('nav [aria-current="page"]').text()).toBe("Events");
    const feed = fake.open("ActivityFeed")[0]!;
    feed.next({ data: { chatsActivity: { __typename: "ChatEvent", chatId: CHAT, kind: "chat_created", seq: 1, cursor: "c1", at: "2026-11-24T21:08:15.123Z", subjectId: CHAT } } });
    feed.next({ data: { chatsActivity: { __typename: "ChatEvent", chatId: CHAT, kind: "trace_started", seq: 2, cursor: "c2", at: "2026-11-24T21:08:16.123Z", subjectId: "x" } } });
    await settle();
    await flushPromises();
    const rows = wrapper!.findAll("table.events tbody tr");
    expect(rows).toHaveLength(2);
    expect(rows[0]!.text()).toContain("trace_started");
    expect(rows[0]!.find(`a[href="/chats/${CHAT}/events"]`).exists()).toBe(true);
    // The chat column is labelled with the chat's title once it is looked up.
    await waitFor(() => expect(rows[0]!.find(`a[href="/chats/${CHAT}/events"]`).text()).toBe("Fix the build"));
    expect(wrapper!.findAll("table.events th").map((th) => th.text())).not.toContain("Payload");
  });
});

describe("components", () => {
  test("ErrorPanel lists a network failure and each GraphQL error with its code; Retry emits", async () => {
    const error = new CombinedError({
      networkError: new Error("Failed to fetch"),
      graphQLErrors: [{ message: "Too complex", extensions: { code: "QUERY_COMPLEXITY" } }],
    });
    const panel = mount(ErrorPanel, { props: { error, title: "Could not load", retryable: true } });
    expect(panel.attributes("role")).toBe("alert");
    expect(panel.text()).toContain("Could not load");
    expect(panel.text()).toContain("Could not reach the server (Failed to fetch)");
    expect(panel.text()).toContain("Too complex");
    expect(panel.text()).toContain("QUERY_COMPLEXITY");
    await panel.find("button").trigger("click");
    expect(panel.emitted("retry")).toHaveLength(1);
    expect(mount(ErrorPanel, { props: { error: "plain words" } }).text()).toContain("plain words");
  });

  test("StatusBadge gives every status a word and a glyph", () => {
    for (const status of ["running", "ok", "error", "timeout", "cancelled", "abandoned"] as const) {
      const badge = mount(StatusBadge, { props: { status } });
      expect(badge.text()).toContain(status);
      expect(badge.find('[aria-hidden="true"]').text()).not.toBe("");
    }
  });
});
