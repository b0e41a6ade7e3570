// Child process: N real graphql-ws subscribers, each on its own WebSocket, on one chat's
// toolTraceStarted. It records when each frame arrived on the clock shared with the driver
// (performance.timeOrigin + performance.now()) and hands the times over IPC when asked.
//   node --import tsx bench/subscribers.ts <ws-url> <chatId> <N>   (spawned by bench/live.ts)
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { sharedNow } from "./stats.js";

const [url, chatId, countArg] = process.argv.slice(2);
if (!url || !chatId || !countArg || !process.send) throw new Error("usage: subscribers.ts <ws-url> <chatId> <N>, spawned with an IPC channel");
const send = (message: unknown) => process.send!(message);
const count = Number(countArg);
const query = `subscription Live($chatId: ID!) { toolTraceStarted(chatId: $chatId) { id toolName status startedAt } }`;

/** Arrival times per toolName; `seen[i]` counts the frames of subscriber i. */
const arrivals = new Map<string, number[]>();
const seen = new Array<number>(count).fill(0);
let errors = 0;
let firstError: string | undefined;
let connected = 0;
const clients: ReturnType<typeof createClient>[] = [];
// A socket error arrives as an ErrorEvent or a CloseEvent, whose useful parts are not enumerable.
const describe = (error: unknown) => {
  const e = error as { message?: string; code?: number; reason?: string; error?: { message?: string } };
  return e.error?.message ?? e.message ?? (e.code ? `closed ${e.code} ${e.reason ?? ""}` : String(error)).slice(0, 200);
};

// Connect in groups: a thousand handshakes at once would measure the server's accept queue, not delivery.
for (let i = 0; i < count; i += 50) {
  const group: Promise<void>[] = [];
  for (let k = i; k < Math.min(count, i + 50); k++) {
    group.push(
      new Promise<void>((resolve) => {
        const client = createClient({
          url,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: false,
          // Counted and reported once, not printed per socket (graphql-ws would console.error each).
          onNonLazyError: () => {},
          on: { connected: () => (connected++, resolve()) },
        });
        clients.push(client);
        client.subscribe<{ toolTraceStarted: { toolName: string } | null }>(
          { query, variables: { chatId } },
          {
            next: (message) => {
              const at = sharedNow();
              const name = message.data?.toolTraceStarted?.toolName;
              if (!name) return;
              seen[k]!++;
              let list = arrivals.get(name);
              if (!list) arrivals.set(name, (list = []));
              list.push(at);
            },
            error: (error) => {
              errors++;
              firstError ??= describe(error);
              resolve();
            },
            complete: () => {},
          },
        );
      }),
    );
  }
  await Promise.all(group);
}
send({ type: "connected", connected, errors, firstError });

process.on("message", (message: { type: string; names?: string[] }) => {
  if (message.type === "stats") send({ type: "stats", connected, errors, firstError, subscribersWithFrames: seen.filter((n) => n > 0).length });
  if (message.type === "collect") {
    const picked: Record<string, number[]> = {};
    for (const name of message.names ?? []) picked[name] = arrivals.get(name) ?? [];
    send({ type: "arrivals", arrivals: picked });
  }
  if (message.type === "close") {
    void Promise.all(clients.map((client) => client.dispose())).finally(() => process.exit(0));
  }
});
