// The dashboard's one GraphQL client: queries and mutations over HTTP (fetchExchange), subscriptions
// over one graphql-ws WebSocket on the same /graphql path, and the connection state the header
// shows and the live views resume from. The dashboard talks to the server through GraphQL only.
import { cacheExchange, Client, fetchExchange, subscriptionExchange } from "@urql/vue";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { type ApiKeyStore, type ConnectionInfo, createConnectionTracker, sessionApiKeys } from "./connection";

export { type ConnectionInfo, ConnectionKey, type ConnectionState } from "./connection";

/** graphql-ws's close code for a refused key (connection_init, or a key revoked or expired since). */
export const CLOSE_FORBIDDEN = 4403;

/** The Authorization header for the kept key; none without one (auth off needs none). */
export function authorizationHeaders(keys: ApiKeyStore): Record<string, string> {
  const key = keys.key.value;
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** graphql-ws's connection_init payload for the kept key (read at every connect and reconnect). */
export function connectionParamsOf(keys: ApiKeyStore): Record<string, string> {
  return authorizationHeaders(keys);
}

/** fetch that tells the key store when the server answers 401: the dashboard then asks for a key. */
export function keyAwareFetch(keys: ApiKeyStore, fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args)): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    if (response.status === 401) {
      let message = "This server requires an API key.";
      try {
        const body = (await response.clone().json()) as { errors?: { message?: string }[] };
        message = body.errors?.[0]?.message ?? message;
      } catch {
        // not JSON: the generic message
      }
      keys.refused(message);
    }
    return response;
  };
}

/** ws(s)://host/graphql for the page's own origin (the Vite dev server proxies it to the server). */
export function graphqlWsUrl(loc: Pick<Location, "protocol" | "host"> = window.location, path = "/graphql"): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}${path}`;
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 15 s. */
export function retryDelayMs(retries: number, random: () => number = Math.random): number {
  return Math.min(500 * 2 ** retries, 15_000) + Math.floor(random() * 500);
}

/** How often the client pings, and how long it waits for the pong before it drops the socket. */
const KEEP_ALIVE_MS = 10_000;
const PONG_TIMEOUT_MS = 5_000;

export interface TracedeckClient {
  client: Client;
  ws: WsClient;
  connection: ConnectionInfo;
  /** The API key sent with every request (when the server asks for one). */
  keys: ApiKeyStore;
  dispose(): void;
}

export function createTracedeckClient(options: { url?: string; wsUrl?: string; keys?: ApiKeyStore } = {}): TracedeckClient {
  const tracker = createConnectionTracker();
  const keys = options.keys ?? sessionApiKeys();
  let socket: WebSocket | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  const ws = createWsClient({
    url: options.wsUrl ?? graphqlWsUrl(),
    // Connect at once, so the header shows the real state before any subscription starts.
    lazy: false,
    retryAttempts: Infinity,
    // Any drop is worth retrying (a server restart, a proxy timeout, a laptop waking up); graphql-ws
    // still stops on the protocol's fatal close codes.
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, retryDelayMs(retries))),
    keepAlive: KEEP_ALIVE_MS,
    connectionParams: () => connectionParamsOf(keys),
    on: {
      connecting: () => tracker.connecting(),
      connected: (s) => {
        socket = s as WebSocket;
        tracker.connected();
      },
      closed: (event) => {
        socket = undefined;
        clearTimeout(pongTimer);
        tracker.closed(event);
        const { code, reason } = (event ?? {}) as { code?: number; reason?: string };
        if (code === CLOSE_FORBIDDEN) keys.refused(reason || "The server refused the API key.");
      },
      // A ping the server does not answer means a dead connection the browser has not noticed
      // (sleep, a NAT that forgot it): close it so the client reconnects and resumes.
      ping: (received) => {
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (socket?.readyState === WebSocket.OPEN) socket.close(4408, "Ping timeout");
        }, PONG_TIMEOUT_MS);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
    },
  });

  const client = new Client({
    url: options.url ?? "/graphql",
    // Read at every request, so a key saved later is used at once.
    fetchOptions: () => ({ headers: authorizationHeaders(keys) }),
    fetch: keyAwareFetch(keys),
    // The document cache: a query's result is kept until a mutation returns a type it contains.
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  return {
    client,
    ws,
    connection: tracker.info,
    keys,
    dispose() {
      tracker.dispose();
      clearTimeout(pongTimer);
      void ws.dispose();
    },
  };
}
