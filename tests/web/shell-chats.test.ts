// The app shell and the chat list in happy-dom, against a real urql Client with a fake server end:
// landmarks and the connection indicator, rows with counts and times, keyboard navigation, search in
// the URL, cursor pages, coalesced live updates, a reconnect, and errors shown (never a blank page).
import urql from "@urql/vue";
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createMemoryHistory } from "vue-router";
import App from "../../web/src/App.vue";
import { ConnectionKey } from "../../web/src/connection";
import { createAppRouter } from "../../web/src/router";
import { fakeClient, fakeConnection, type FakeRequest, settle } from "./shell-fakes";

interface FakeChat {
  id: string;
  uuid: string;
  title: string;
  workspace: string | null;
  createdAt: string;
  lastActivityAt: string;
  traceCount: number;
  errorCount: number;
  runningCount: number;
  tokensUsed: number;
}

const uuidOf = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const makeChat = (n: number): FakeChat => ({
  id: btoa(`Chat:${uuidOf(n)}`),
  uuid: uuidOf(n),
  title: n % 7 === 0 ? `Fix the build #${n}` : `Chat number ${n}`,
  workspace: n % 2 ? `/work/app-${n}` : null,
  createdAt: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
  lastActivityAt: new Date(Date.now() - n * 60_000).toISOString(),
  traceCount: n,
  errorCount: n % 3 === 0 ? 2 : 0,
  runningCount: n % 5 === 0 ? 1 : 0,
  tokensUsed: n * 1234,
});

const node = (c: FakeChat) => ({
  __typename: "Chat",
  id: c.id,
  uuid: c.uuid,
  title: c.title,
  workspace: c.workspace,
  createdAt: c.createdAt,
  lastActivityAt: c.lastActivityAt,
  stats: { __typename: "ChatStats", traceCount: c.traceCount, errorCount: c.errorCount, runningCount: c.runningCount, tokens: { __typename: "TokenTotals", tokensUsed: c.tokensUsed } },
});

/** A tiny server: chats newest first, pages by index cursors, titleContains, nodes(ids). */
function fakeServer(count: number) {
  const chats = Array.from({ length: count }, (_, i) => makeChat(i + 1));
  const state = { chats, fail: false as false | string };
  const handle = (request: FakeRequest) => {
    if (state.fail) return { errors: [{ message: state.fail, extensions: { code: "DATABASE_UNAVAILABLE" } }], data: null };
    const ordered = [...state.chats].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (request.operationName === "ChatsPage") {
      const { first, after, filter } = request.variables as { first: number; after: string | null; filter: { titleContains: string } | null };
      const q = filter?.titleContains?.toLowerCase();
      const matching = q ? ordered.filter((c) => c.title.toLowerCase().includes(q)) : ordered;
      const start = after ? Number(after.slice(2)) + 1 : 0;
      const page = matching.slice(start, start + first);
      return {
        data: {
          chats: {
            __typename: "QueryChatsConnection",
            edges: page.map((c) => ({ __typename: "QueryChatsConnectionEdge", node: node(c) })),
            pageInfo: { __typename: "PageInfo", hasNextPage: start + first < matching.length, endCursor: page.length ? `c:${start + page.length - 1}` : null },
          },
        },
      };
    }
    if (request.operationName === "ChatsById") {
      const ids = request.variables.ids as string[];
      return { data: { nodes: ids.map((id) => state.chats.find((c) => c.id === id)).map((c) => (c ? node(c) : null)) } };
    }
    if (request.operationName === "ChatViewPlaceholder" || request.operationName === "EventsViewChat") {
      const c = state.chats.find((x) => x.uuid === request.variables.id);
      return { data: { chat: c ? { __typename: "Chat", id: c.id, uuid: c.uuid, title: c.title } : null } };
    }
    return { data: null };
  };
  return { state, handle };
}

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
});

async function mountApp(path: string, count = 60) {
  const server = fakeServer(count);
  const fake = fakeClient(server.handle);
  const connection = fakeConnection();
  const router = createAppRouter(createMemoryHistory());
  await router.push(path);
  await router.isReady();
  const host = document.createElement("div");
  document.body.appendChild(host);
  wrapper = mount(App, {
    attachTo: host,
    global: { plugins: [router, [urql, fake.client]], provide: { [ConnectionKey as symbol]: connection.info } },
  });
  // Loaded: rows, an empty state or an error.
  await waitFor(() => expect(wrapper!.findAll("tbody tr, .empty:not([role=status]), [role=alert]").length).toBeGreaterThan(0));
  return { server, fake, connection, router, wrapper: wrapper! };
}

const waitFor = (assertion: () => void, timeout = 2000) => vi.waitFor(assertion, { timeout, interval: 20 });
const rows = () => wrapper!.findAll("tbody tr");
const requestsOf = (fake: ReturnType<typeof fakeClient>, name: string) => fake.requests.filter((r) => r.operationName === name);

describe("the shell", () => {
  test("landmarks, nav with the current page, GraphiQL link and a connection indicator with text and aria-live", async () => {
    const { connection, wrapper } = await mountApp("/");
    expect(wrapper.find("header").exists()).toBe(true);
    expect(wrapper.find("main#main").exists()).toBe(true);
    const nav = wrapper.find('nav[aria-label="Main"]');
    expect(nav.text()).toContain("Chats");
    expect(nav.text()).toContain("Events");
    expect(nav.find('a[href="/graphql"]').text()).toContain("GraphiQL");
    expect(nav.find('[aria-current="page"]').text()).toBe("Chats");
    expect(wrapper.find("a.skip-link").attributes("href")).toBe("#main");

    const indicator = wrapper.find('[role="status"][aria-live="polite"].connection');
    expect(indicator.text()).toContain("Live");
    expect(indicator.find("svg").exists()).toBe(true);
    connection.state.value = "reconnecting";
    await flushPromises();
    expect(indicator.text()).toContain("Reconnecting");
    connection.state.value = "disconnected";
    await flushPromises();
    expect(indicator.text()).toContain("Offline");
    connection.state.value = "connecting";
    await flushPromises();
    expect(indicator.text()).toContain("Connecting");
  });

  test("every button has an accessible name", async () => {
    const { wrapper } = await mountApp("/");
    for (const button of wrapper.findAll("button")) {
      const name = (button.attributes("aria-label") ?? button.text()).trim();
      expect(name, button.html()).not.toBe("");
    }
  });
});

describe("the chat list", () => {
  test("rows show title, relative last activity (absolute in title), counts and tokens, newest first", async () => {
    await mountApp("/");
    await waitFor(() => expect(rows()).toHaveLength(50));
    const first = rows()[0]!;
    // chat 60 is the newest; 60 % 3 == 0 (2 errors), 60 % 5 == 0 (1 running)
    expect(first.text()).toContain("Chat number 60");
    const cells = first.findAll("td").map((td) => td.text());
    expect(cells[1]).toMatch(/hr\.|hour|min/);
    expect(first.find("time").attributes("title")).toMatch(/\d{4}-\d\d-\d\dT/);
    expect(cells[2]).toBe("60");
    expect(cells[3]).toContain("2");
    expect(cells[4]).toContain("1");
    expect(first.findAll("td")[5]!.attributes("title")).toBe(`${(60 * 1234).toLocaleString()} tokens`);
    expect(wrapper!.find("table").attributes("aria-labelledby")).toBe("chats-heading");
  });

  test("arrow keys move a roving focus; Enter opens the chat at /chats/:uuid", async () => {
    const { router } = await mountApp("/");
    await waitFor(() => expect(rows()).toHaveLength(50));
    expect(rows()[0]!.attributes("tabindex")).toBe("0");
    expect(rows()[1]!.attributes("tabindex")).toBe("-1");
    (rows()[0]!.element as HTMLElement).focus();
    await rows()[0]!.trigger("keydown", { key: "ArrowDown" });
    await flushPromises();
    expect(document.activeElement).toBe(rows()[1]!.element);
    expect(rows()[1]!.attributes("tabindex")).toBe("0");
    expect(rows()[0]!.attributes("tabindex")).toBe("-1");
    await rows()[1]!.trigger("keydown", { key: "End" });
    await flushPromises();
    expect(document.activeElement).toBe(rows()[49]!.element);
    await rows()[49]!.trigger("keydown", { key: "Home" });
    await flushPromises();
    await rows()[0]!.trigger("keydown", { key: "ArrowDown" });
    await flushPromises();
    await rows()[1]!.trigger("keydown", { key: "Enter" });
    await waitFor(() => expect(router.currentRoute.value.fullPath).toBe(`/chats/${uuidOf(59)}`));
  });

  test("search is debounced, kept in ?q= and sent as ChatFilter.titleContains", async () => {
    const { fake, router } = await mountApp("/");
    await waitFor(() => expect(rows()).toHaveLength(50));
    const input = wrapper!.find("input[type=search]");
    expect(wrapper!.find('label[for="chat-search"]').exists()).toBe(true);
    await input.setValue("b");
    await input.setValue("bu");
    await input.setValue("build");
    await waitFor(() => expect(router.currentRoute.value.query.q).toBe("build"));
    await waitFor(() => expect(rows()).toHaveLength(8)); // chats 7, 14, … 56
    const pages = requestsOf(fake, "ChatsPage");
    expect(pages.at(-1)!.variables.filter).toEqual({ titleContains: "build" });
    expect(pages.filter((p) => (p.variables.filter as { titleContains?: string } | null)?.titleContains === "b")).toHaveLength(0);
    expect(rows()[0]!.text()).toContain("Fix the build #56");
  });

  test("?q= in the URL is applied on load; no match says so", async () => {
    await mountApp("/?q=nothing-like-this");
    await waitFor(() => expect(wrapper!.text()).toContain("No chat title contains “nothing-like-this”"));
    expect((wrapper!.find("input[type=search]").element as HTMLInputElement).value).toBe("nothing-like-this");
  });

  test("Load more fetches the next page with the end cursor", async () => {
    const { fake } = await mountApp("/");
    await waitFor(() => expect(rows()).toHaveLength(50));
    await wrapper!.find(".more button").trigger("click");
    await waitFor(() => expect(rows()).toHaveLength(60));
    expect(requestsOf(fake, "ChatsPage").at(-1)!.variables.after).toBe("c:49");
    expect(wrapper!.find(".more button").exists()).toBe(false);
  });

  test("live: chatsActivity events are coalesced into one re-read of the affected chats; created and deleted chats come and go", async () => {
    const { fake, server } = await mountApp("/");
    await waitFor(() => expect(rows()).toHaveLength(50));
    const [activity] = fake.open("ChatsActivity");
    expect(activity).toBeDefined();
    const before = requestsOf(fake, "ChatsById").length;

    const chat58 = server.state.chats.find((c) => c.uuid === uuidOf(58))!;
    chat58.traceCount = 999;
    for (let seq = 1; seq <= 20; seq++) activity!.next({ data: { chatsActivity: { __typename: "ChatEvent", chatId: uuidOf(58), kind: "trace_started", seq } } });
    activity!.next({ data: { chatsActivity: { __typename: "ChatEvent", chatId: uuidOf(999_999), kind: "trace_started", seq: 1 } } }); // not loaded: ignored
    await waitFor(() => expect(rows()[2]!.findAll("td")[2]!.text()).toBe("999"));
    const byId = requestsOf(fake, "ChatsById").slice(before);
    expect(byId).toHaveLength(1);
    expect(byId[0]!.variables.ids).toEqual([chat58.id]);

    server.state.chats.push(makeChat(61));
    activity!.next({ data: { chatsActivity: { __typename: "ChatEvent", chatId: uuidOf(61), kind: "chat_created", seq: 1 } } });
    await waitFor(() => expect(rows()[0]!.text()).toContain("Chat number 61"));
    expect(rows()).toHaveLength(51);

    activity!.next({ data: { chatsActivity: { __typename: "ChatEvent", chatId: uuidOf(60), kind: "chat_deleted", seq: 9 } } });
    await waitFor(() => expect(rows().some((r) => r.text().includes("Chat number 60"))).toBe(false));
    expect(rows()).toHaveLength(50);
  });

  test("after a reconnect every loaded chat is re-read (events may have been missed)", async () => {
    const { fake, server, connection } = await mountApp("/");
    await waitFor(() => expect(rows()).toHaveLength(50));
    for (const c of server.state.chats) c.errorCount = 0;
    server.state.chats.find((c) => c.uuid === uuidOf(57))!.errorCount = 42;
    const before = requestsOf(fake, "ChatsById").length;
    connection.reconnect();
    await waitFor(() => expect(rows()[3]!.findAll("td")[3]!.text()).toContain("42"));
    const reads = requestsOf(fake, "ChatsById").slice(before);
    expect(reads.flatMap((r) => r.variables.ids as string[])).toHaveLength(50);
  });

  test("a failed query shows an error panel with the server's message and code, and Retry works", async () => {
    const server = fakeServer(3);
    server.state.fail = "The database is unavailable; retry shortly";
    const fake = fakeClient(server.handle);
    const router = createAppRouter(createMemoryHistory());
    await router.push("/");
    await router.isReady();
    wrapper = mount(App, { attachTo: document.body, global: { plugins: [router, [urql, fake.client]], provide: { [ConnectionKey as symbol]: fakeConnection().info } } });
    await waitFor(() => expect(wrapper!.find('[role="alert"]').exists()).toBe(true));
    const alert = wrapper.find('[role="alert"]');
    expect(alert.text()).toContain("Could not load the chats");
    expect(alert.text()).toContain("The database is unavailable; retry shortly");
    expect(alert.text()).toContain("DATABASE_UNAVAILABLE");
    server.state.fail = false;
    await alert.find("button").trigger("click");
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(wrapper.find('[role="alert"]').exists()).toBe(false);
    await settle();
  });
});
