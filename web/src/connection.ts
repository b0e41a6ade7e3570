import { type InjectionKey, readonly, type Ref, ref } from "vue";

/**
 * The state of the dashboard's one WebSocket (graphql-ws) to /graphql:
 * - "connecting": the first attempt is under way (nothing was ever acknowledged);
 * - "connected": the socket is open and acknowledged; subscriptions are live;
 * - "reconnecting": it was connected, dropped, and is being retried (with backoff);
 * - "disconnected": closed and not currently trying: never connected yet and waiting to retry,
 *   refused for good (a fatal close code), or disposed.
 */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

export interface ConnectionInfo {
  /** The current state (reactive). */
  readonly state: Readonly<Ref<ConnectionState>>;
  /**
   * How many times the socket was acknowledged again after having been connected (reactive).
   * Every increment means subscriptions may have missed events while it was down: resume them
   * from their last cursor (useChatEventStream does) or refetch what a list shows.
   */
  readonly reconnects: Readonly<Ref<number>>;
  /** The close code and reason of the last drop, or null (reactive). */
  readonly lastClose: Readonly<Ref<{ code: number; reason: string } | null>>;
  /** When the socket was last acknowledged (epoch ms), or null (reactive). */
  readonly connectedAt: Readonly<Ref<number | null>>;
  /** Calls listener after each reconnect (not after the first connection); returns the unsubscribe. */
  onReconnect(listener: () => void): () => void;
}

/** Where components find the connection (provided by main.ts; tests provide their own). */
export const ConnectionKey: InjectionKey<ConnectionInfo> = Symbol("tracedeck.connection");

/** graphql-ws close codes after which it does not retry (see isFatalInternalCloseCode and the protocol). */
const FATAL_CLOSE_CODES = new Set([4004, 4005, 4400, 4401, 4406, 4409, 4429, 4500]);

/**
 * The connection state machine, fed from graphql-ws's `on` events (connecting, connected, closed)
 * by urql.ts; kept apart from the socket so it can be driven by tests.
 */
export function createConnectionTracker() {
  const state = ref<ConnectionState>("connecting");
  const reconnects = ref(0);
  const lastClose = ref<{ code: number; reason: string } | null>(null);
  const connectedAt = ref<number | null>(null);
  const listeners = new Set<() => void>();
  let everConnected = false;
  let disposed = false;

  const info: ConnectionInfo = {
    state: readonly(state),
    reconnects: readonly(reconnects),
    lastClose: readonly(lastClose),
    connectedAt: readonly(connectedAt),
    onReconnect(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  return {
    info,
    connecting() {
      if (disposed) return;
      state.value = everConnected ? "reconnecting" : "connecting";
    },
    connected() {
      if (disposed) return;
      const wasConnected = everConnected;
      everConnected = true;
      connectedAt.value = Date.now();
      state.value = "connected";
      if (wasConnected) {
        reconnects.value += 1;
        for (const listener of [...listeners]) listener();
      }
    },
    closed(event: unknown) {
      const code = typeof (event as { code?: unknown })?.code === "number" ? (event as { code: number }).code : 1006;
      const reason = String((event as { reason?: unknown })?.reason ?? "");
      lastClose.value = { code, reason };
      state.value = disposed || FATAL_CLOSE_CODES.has(code) || !everConnected ? "disconnected" : "reconnecting";
    },
    dispose() {
      disposed = true;
      state.value = "disconnected";
      listeners.clear();
    },
  };
}

/**
 * The dashboard's API key, when the server asks for one (auth on): kept for this tab only
 * (sessionStorage), sent as the Authorization header of every query (urql.ts) and in graphql-ws's
 * connection_init payload. The server says it wants a key by answering 401, or by closing the
 * WebSocket with 4403; then `needed` turns true and App.vue shows ApiKeyPrompt. With auth off the
 * server never refuses, and nothing here changes the dashboard.
 */
export const API_KEY_STORAGE_KEY = "tracedeck.apiKey";

type KeyStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export interface ApiKeyStore {
  /** The key to send, or null (reactive). */
  readonly key: Readonly<Ref<string | null>>;
  /** Whether the server refused and a key must be asked for (reactive). */
  readonly needed: Readonly<Ref<boolean>>;
  /** What the server said when it refused, for the prompt (reactive). */
  readonly reason: Readonly<Ref<string | null>>;
  /** The server refused with 401 or closed the socket with 4403. */
  refused(reason: string): void;
  /** Keeps a key for the session and stops asking. */
  save(key: string): void;
  /** Forgets the kept key. */
  forget(): void;
}

export function createApiKeyStore(storage: KeyStorage | undefined): ApiKeyStore {
  const read = () => {
    try {
      return storage?.getItem(API_KEY_STORAGE_KEY) || null;
    } catch {
      return null; // storage disabled (privacy settings): the key lives in memory only
    }
  };
  const write = (value: string | null) => {
    try {
      if (value === null) storage?.removeItem(API_KEY_STORAGE_KEY);
      else storage?.setItem(API_KEY_STORAGE_KEY, value);
    } catch {
      // as above
    }
  };
  const key = ref<string | null>(read());
  const needed = ref(false);
  const reason = ref<string | null>(null);
  return {
    key: readonly(key),
    needed: readonly(needed),
    reason: readonly(reason),
    refused(why) {
      reason.value = why;
      needed.value = true;
    },
    save(value) {
      key.value = value.trim();
      write(key.value);
      needed.value = false;
      reason.value = null;
    },
    forget() {
      key.value = null;
      write(null);
    },
  };
}

let sessionStore: ApiKeyStore | undefined;
/** The tab's one key store (main.ts's client and App.vue share it). */
export function sessionApiKeys(): ApiKeyStore {
  if (!sessionStore) {
    let storage: KeyStorage | undefined;
    try {
      storage = globalThis.sessionStorage;
    } catch {
      storage = undefined;
    }
    sessionStore = createApiKeyStore(storage);
  }
  return sessionStore;
}
