// The dashboard's API key (happy-dom): the prompt (labelled, says why, checks the input, keeps the
// key for the tab), the key store (sessionStorage), and the client: the key goes out as the
// Authorization header and in connection_init, a 401 makes the dashboard ask, no key sends nothing.
import { flushPromises, mount } from "@vue/test-utils";
import { gql } from "@urql/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import ApiKeyPrompt from "../../web/src/components/ApiKeyPrompt.vue";
import { API_KEY_STORAGE_KEY, createApiKeyStore } from "../../web/src/connection";
import { connectionParamsOf, createTracedeckClient, keyAwareFetch } from "../../web/src/urql";

const KEY = `td_${"a".repeat(43)}`;

function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

/** Enough of a browser WebSocket for graphql-ws: opens at once, records what is sent, closes when told. */
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static opened: FakeSocket[] = [];
  readyState = 0;
  readonly protocol = "graphql-transport-ws";
  readonly sent: string[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onmessage: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }
  send(data: string) {
    this.sent.push(data);
  }
  close(code = 1000, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: true });
  }
}

afterEach(() => {
  FakeSocket.opened = [];
  vi.unstubAllGlobals();
  document.body.innerHTML = "";
});

describe("ApiKeyPrompt", () => {
  it("is a labelled form that says why the server asked, focuses the field, and keeps the key for the tab", async () => {
    const storage = memoryStorage();
    const store = createApiKeyStore(storage);
    store.refused("An API key is required: send it as the header `Authorization: Bearer td_…`");
    const w = mount(ApiKeyPrompt, { props: { store }, attachTo: document.body });
    await flushPromises();
    const input = w.get("input");
    expect(w.get("label").attributes("for")).toBe(input.attributes("id"));
    expect(input.attributes("type")).toBe("password");
    expect(input.attributes("autocomplete")).toBe("off");
    expect(document.activeElement).toBe(input.element);
    expect(w.get("section").attributes("aria-labelledby")).toBe(w.get("h1").attributes("id"));
    expect(w.text()).toContain("An API key is required");

    await input.setValue(`  ${KEY}  `);
    await w.get("form").trigger("submit");
    expect(w.emitted("saved")).toHaveLength(1);
    expect(store.key.value).toBe(KEY);
    expect(storage.data.get(API_KEY_STORAGE_KEY)).toBe(KEY);
    expect(store.needed.value).toBe(false);
    expect(store.reason.value).toBeNull();
  });

  it("refuses an empty value or one that is not a Tracedeck key, saying so, and keeps nothing", async () => {
    const storage = memoryStorage();
    const store = createApiKeyStore(storage);
    store.refused("The API key is not known to this server");
    const w = mount(ApiKeyPrompt, { props: { store }, attachTo: document.body });
    await w.get("form").trigger("submit");
    expect(w.get("[role=alert]").text()).toBe("Enter the API key.");
    expect(w.get("input").attributes("aria-invalid")).toBe("true");
    expect(w.get("input").attributes("aria-describedby")).toBe(w.get("[role=alert]").attributes("id"));
    await w.get("input").setValue("password123");
    await w.get("form").trigger("submit");
    expect(w.get("[role=alert]").text()).toContain("starts with td_");
    expect(w.emitted("saved")).toBeUndefined();
    expect(storage.data.size).toBe(0);
    expect(store.needed.value).toBe(true);
  });
});

describe("the key store", () => {
  it("reads the tab's kept key, forgets it, and lives in memory when storage throws", () => {
    const storage = memoryStorage({ [API_KEY_STORAGE_KEY]: KEY });
    const store = createApiKeyStore(storage);
    expect(store.key.value).toBe(KEY);
    store.forget();
    expect(store.key.value).toBeNull();
    expect(storage.data.has(API_KEY_STORAGE_KEY)).toBe(false);
    const broken = createApiKeyStore({
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => {},
    });
    broken.save(KEY);
    expect(broken.key.value).toBe(KEY);
  });
});

describe("the client", () => {
  it("sends the kept key in connection_init; a 4403 close makes the dashboard ask, with the server's reason", async () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    const keys = createApiKeyStore(memoryStorage({ [API_KEY_STORAGE_KEY]: KEY }));
    const { dispose } = createTracedeckClient({ url: "http://tracedeck.test/graphql", wsUrl: "ws://tracedeck.test/graphql", keys });
    try {
      await vi.waitFor(() => expect(FakeSocket.opened[0]?.sent.length).toBe(1));
      expect(JSON.parse(FakeSocket.opened[0]!.sent[0]!)).toEqual({ type: "connection_init", payload: { authorization: `Bearer ${KEY}` } });
      expect(keys.needed.value).toBe(false);
      FakeSocket.opened[0]!.close(4403, 'The API key td_aaaaaaaa… ("dashboard") was revoked at 2026-12-01T00:00:00.000Z');
      expect(keys.needed.value).toBe(true);
      expect(keys.reason.value).toContain("was revoked");
    } finally {
      dispose();
    }
  });

  it("sends the kept key as the Authorization header, and none without a key", async () => {
    vi.stubGlobal("WebSocket", FakeSocket);
    const seen: (string | null)[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_input: unknown, init?: RequestInit) => {
        seen.push(new Headers(init?.headers).get("authorization"));
        return new Response(JSON.stringify({ data: { __typename: "Query" } }), { status: 200, headers: { "content-type": "application/json" } });
      }),
    );
    const keys = createApiKeyStore(memoryStorage());
    const { client, dispose } = createTracedeckClient({ url: "http://tracedeck.test/graphql", wsUrl: "ws://tracedeck.test/graphql", keys });
    try {
      await client.query(gql`{ __typename }`, {}, { requestPolicy: "network-only" }).toPromise();
      keys.save(KEY);
      await client.query(gql`{ __typename }`, {}, { requestPolicy: "network-only" }).toPromise();
      expect(seen).toEqual([null, `Bearer ${KEY}`]);
      expect(connectionParamsOf(keys)).toEqual({ authorization: `Bearer ${KEY}` });
    } finally {
      dispose();
    }
  });

  it("a 401 makes the dashboard ask, with the server's message; a 200 or a 403 does not", async () => {
    const keys = createApiKeyStore(memoryStorage());
    const answer = (status: number, message: string) => async () => new Response(JSON.stringify({ errors: [{ message }] }), { status, headers: { "content-type": "application/json" } });
    await keyAwareFetch(keys, answer(200, "fine"))("http://tracedeck.test/graphql");
    await keyAwareFetch(keys, answer(403, "lacks the admin scope"))("http://tracedeck.test/graphql");
    expect(keys.needed.value).toBe(false);
    const response = await keyAwareFetch(keys, answer(401, "The API key td_abcdefgh… (\"ci\") was revoked at 2026-12-01T00:00:00.000Z"))("http://tracedeck.test/graphql");
    // The response still reaches urql, body unread.
    expect((await response.json()).errors[0].message).toContain("was revoked");
    expect(keys.needed.value).toBe(true);
    expect(keys.reason.value).toContain("was revoked");
    expect(connectionParamsOf(createApiKeyStore(memoryStorage()))).toEqual({});
  });
});
