// The dashboard's one GraphQL client: queries and mutations over HTTP (fetchExchange), subscriptions
// over one graphql-ws WebSocket on the same /graphql path, and the connection state the header
// shows and the live views resume from. The dashboard talks to the server through GraphQL only.
import { cacheExchange, Client, fetchExchange, subscriptionExchange } from "@urql/vue";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { type ConnectionInfo, createConnectionTracker } from "./connection";

export { type ConnectionInfo, ConnectionKey, type ConnectionState } from "./connection";

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
  dispose(): void;
}

export function createTracedeckClient(options: { url?: string; wsUrl?: string } = {}): TracedeckClient {
  const tracker = createConnectionTracker();
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
    dispose() {
      tracker.dispose();
      clearTimeout(pongTimer);
      void ws.dispose();
    },
  };
}
