// (c) SIGTERM under load. Sixteen clients keep requests in flight over keep-alive connections
// (mutations, recordToolTraces batches and queries) and a graphql-ws subscription is open when the
// server gets SIGTERM. Expected: it stops accepting connections, answers the requests already sent
// (with `Connection: close` on keep-alive connections), closes WebSockets with 1001 and exits 0
// within SHUTDOWN_GRACE_SECONDS.
//
// "In flight" is exact: a request whose bytes were fully written (the client request's "finish")
// before the test sent the signal. To have some that are certainly still being served when the
// server starts stopping, the test holds the row lock of one chat from its own connection: writes
// to that chat wait on it (seen in pg_locks) until the test lets go, after the server logged that
// it is stopping. Requests attempted after the signal may be refused; they are counted apart.
import { Agent } from "node:http";
import { connect } from "node:net";
import { expect, onTestFailed, test } from "vitest";
import { spawnServer } from "../helpers/server-process.js";
import {
  CHAT_EVENTS,
  classify,
  closePg,
  runningClusterForFile,
  CREATE_CHAT,
  describe as describeExchange,
  type Exchange,
  FINISH_TRACE,
  graphql,
  Ledger,
  logDigest,
  missingWrites,
  openPg,
  READ_CHAT,
  RECORD_TRACES,
  readStored,
  recordItems,
  rootResult,
  sleep,
  START_TRACE,
  watch,
} from "./lib.js";

const CLIENTS = 16;
/** Requests held on the locked chat's row across the signal. */
const HELD = 4;
const BATCH_ITEMS = 150;
const GRACE_SECONDS = 10;
/** Process teardown after the grace period (closing the database pool, exiting). */
const EXIT_SLACK_MS = 2_000;
const LOAD_BEFORE_SIGNAL_MS = 2_000;
/** Each client's bound: requests before the signal, and attempts after it. */
const MAX_REQUESTS_PER_CLIENT = 200;
const MAX_ATTEMPTS_AFTER_SIGNAL = 5;

const clusterOf = runningClusterForFile();

test("SIGTERM under load: requests in flight are answered, keep-alive connections are closed, WebSockets get 1001, exit 0 within the grace period", async () => {
  const server = spawnServer({ DATABASE_URL: clusterOf().url(), SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) });
  onTestFailed(() => console.log(`[sigterm] ${logDigest(server.lines())}\nlast output:\n${server.output().slice(-3000)}`));
  const url = await server.listening;
  const graphqlUrl = `${url}/graphql`;
  const port = Number(new URL(url).port);
  const ledger = new Ledger();
  const exchanges: Exchange[] = [];

  // Chats: one per client, and the one whose row the test will lock.
  const agents = Array.from({ length: CLIENTS + HELD }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const setupAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const newChat = async (title: string) => {
    const created = await graphql(graphqlUrl, "createChat", CREATE_CHAT, { title }, { agent: setupAgent });
    expect(classify(created), describeExchange(created)).toBe("ack");
    ledger.ackChat(created);
    return rootResult(created) as { id: string; uuid: string; eventCursor: string };
  };
  const chats: { id: string; uuid: string; eventCursor: string }[] = [];
  for (let i = 0; i < CLIENTS; i++) chats.push(await newChat(`sigterm ${i}`));
  const locked = await newChat("sigterm: held");
  setupAgent.destroy();

  // An open subscription, to see how the server closes WebSockets.
  const subscription = watch(`${url.replace(/^http/, "ws")}/graphql`, CHAT_EVENTS, { id: locked.id, after: locked.eventCursor });
  await subscription.until((items) => items.some((m) => m.__typename === "ChatStreamOpening"), 20_000);

  let signalAt: number | undefined;
  let stopLoad = false;
  onTestFailed(() => {
    stopLoad = true; // the load ends with the test
  });
  const send = async (agent: Agent, op: string, query: string, variables: Record<string, unknown>) => {
    const exchange = await graphql(graphqlUrl, op, query, variables, { agent, timeoutMs: 60_000 });
    exchanges.push(exchange);
    ledger.ackChat(exchange);
    ledger.ackTraces(exchange);
    return exchange;
  };

  // The load: each client on its own keep-alive connection, one request at a time, until the signal
  // and a few attempts after it (stopping early once its connections are refused).
  async function client(i: number) {
    const agent = agents[i]!;
    const chat = chats[i]!;
    let attemptsAfterSignal = 0;
    let open: string | undefined; // a started trace of this client's, not finished yet
    for (let n = 1; n <= MAX_REQUESTS_PER_CLIENT && !stopLoad; n++) {
      if (signalAt !== undefined && ++attemptsAfterSignal > MAX_ATTEMPTS_AFTER_SIGNAL) break;
      let exchange: Exchange;
      const kind = (n + i) % 4;
      if (kind === 0) {
        exchange = await send(agent, `recordToolTraces x${BATCH_ITEMS}`, RECORD_TRACES, { items: recordItems(chat.id, `c${i}-b${n}`, BATCH_ITEMS) });
      } else if (open) {
        const toolCallId = open;
        exchange = await send(agent, "finishToolTrace", FINISH_TRACE, { chatId: chat.id, toolCallId, output: "done" });
        if (classify(exchange) === "ack") open = undefined;
      } else if (kind === 1) {
        const toolCallId = `c${i}-t${n}`;
        exchange = await send(agent, "startToolTrace", START_TRACE, { chatId: chat.id, toolCallId, input: { n } });
        if (classify(exchange) === "ack") open = toolCallId;
      } else {
        exchange = await send(agent, "chat query", READ_CHAT, { id: chat.id });
      }
      if (exchange.error?.code === "ECONNREFUSED") break;
    }
  }
  const warm = await Promise.all(agents.map((agent) => graphql(graphqlUrl, "warm-up query", READ_CHAT, { id: locked.id }, { agent })));
  for (const exchange of warm) expect(classify(exchange), describeExchange(exchange)).toBe("ack");
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  await sleep(LOAD_BEFORE_SIGNAL_MS);

  // Hold the locked chat's row, and send writes to it that will wait for it.
  const db = await openPg(clusterOf().url());
  const blocker = await openPg(clusterOf().url());
  await blocker.query("BEGIN");
  await blocker.query("SELECT id FROM chats WHERE id = $1 FOR UPDATE", [locked.uuid]);
  const blockerPid = (await blocker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  const held = Array.from({ length: HELD }, (_, k) =>
    send(agents[CLIENTS + k]!, "startToolTrace (held)", START_TRACE, { chatId: locked.id, toolCallId: `held-${k}`, input: { k } }),
  );
  const waitersDeadline = Date.now() + 30_000;
  let waiting = 0;
  while (Date.now() < waitersDeadline) {
    // Waiting on the row (directly on the blocker, or queued behind another held write).
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1 AND cardinality(pg_blocking_pids(pid)) > 0`,
      [blockerPid],
    );
    waiting = rows[0]!.n;
    if (waiting >= HELD) break;
    await sleep(50);
  }
  expect(waiting, "the held writes are waiting on the locked row").toBe(HELD);

  // The signal.
  signalAt = Date.now();
  server.signal("SIGTERM");

  // It says it is stopping; from then on it takes no new connection.
  const stoppingLine = await server.waitForLine((l) => l.msg === "server.stopping", 10_000);
  let newConnection: "refused" | "accepted" | "other" = "other";
  const probeDeadline = Date.now() + 2_000;
  while (Date.now() < probeDeadline) {
    newConnection = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve("accepted");
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED" ? "refused" : "other"));
    });
    if (newConnection === "refused") break;
    await sleep(100);
  }

  // Let the held writes go, well after the server started stopping.
  await sleep(300);
  await blocker.query("ROLLBACK");
  await closePg(blocker);

  const exit = await Promise.race([server.exited, sleep(GRACE_SECONDS * 1000 + 30_000).then(() => undefined)]);
  stopLoad = true;
  const heldExchanges = await Promise.all(held);
  await Promise.all(clients);
  const exitMs = exit ? exit.at - signalAt : undefined;

  // What the clients saw. In flight: fully written before the signal.
  const sentBefore = exchanges.filter((e) => e.writtenAt !== undefined && e.writtenAt < signalAt!);
  const inFlightAtSignal = sentBefore.filter((e) => e.endedAt === undefined || e.endedAt > signalAt!);
  const notProper = sentBefore.filter((e) => classify(e) !== "ack");
  const after = exchanges.filter((e) => !sentBefore.includes(e));
  const tally = (list: Exchange[]) => {
    const counts = new Map<string, number>();
    for (const e of list) {
      const key = e.error ? (e.error.code ?? e.error.message) : `HTTP ${e.status}${classify(e) === "ack" ? "" : " (not a success)"}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts].map(([k, v]) => `${k}: ${v}`).join(", ");
  };
  const latency = (prefix: string) => {
    const ms = sentBefore.filter((e) => e.op.startsWith(prefix) && e.endedAt! <= signalAt!).map((e) => e.endedAt! - e.startedAt).sort((a, b) => a - b);
    return ms.length ? `${prefix} p50 ${ms[Math.floor(ms.length / 2)]} ms max ${ms.at(-1)} ms` : `${prefix} -`;
  };
  console.log(
    `[sigterm] before the signal: ${["recordToolTraces", "startToolTrace", "finishToolTrace", "chat query"].map(latency).join("; ")}; ` +
      `requests ${exchanges.length}; in flight at the signal ${inFlightAtSignal.length} (${tally(inFlightAtSignal)}); ` +
      `attempted after it ${after.length} (${tally(after)}); new connection after "server.stopping": ${newConnection}; ` +
      `stopping logged ${stoppingLine.receivedAt - signalAt} ms after the signal; exit ${exit ? `${exit.code ?? exit.signal} after ${exitMs} ms` : "none"}; ` +
      `WebSocket close ${subscription.closeCode}`,
  );

  expect(inFlightAtSignal.length, "requests in flight at the signal (harness)").toBeGreaterThanOrEqual(HELD);
  expect(inFlightAtSignal.filter((e) => !e.reusedSocket).map((e) => describeExchange(e, signalAt)), "in flight on a keep-alive connection already used (harness)").toEqual([]);

  // Every request sent before the signal got a complete, successful answer: none reset or cut.
  expect
    .soft(
      notProper.map((e) => describeExchange(e, signalAt)).slice(0, 12),
      `${notProper.length} of the ${sentBefore.length} requests sent before the signal (${inFlightAtSignal.length} of them still in flight at it) did not get a proper response`,
    )
    .toEqual([]);
  // The held ones were answered after the server began stopping, on keep-alive connections: with Connection: close.
  for (const e of heldExchanges) {
    expect.soft(classify(e), describeExchange(e, signalAt)).toBe("ack");
    expect.soft(e.headers?.connection, `Connection header of a keep-alive response sent while stopping: ${describeExchange(e, signalAt)}`).toBe("close");
  }
  // No keep-alive response after the stop began may invite another request on the connection...
  const stoppingAt = stoppingLine.receivedAt;
  const keptOpen = exchanges.filter((e) => e.endedAt !== undefined && e.endedAt > stoppingAt + 1_000 && e.headers?.connection !== "close");
  expect.soft(keptOpen.map((e) => describeExchange(e, signalAt)), "responses without Connection: close more than 1 s after the server logged server.stopping").toEqual([]);

  // It took no new connection once stopping.
  expect.soft(newConnection, 'a new TCP connection after "server.stopping"').toBe("refused");
  // WebSockets are closed with 1001 (going away).
  expect.soft(subscription.closeCode, `WebSocket close code (errors: ${JSON.stringify(subscription.errors)})`).toBe(1001);

  // It exits 0 within the grace period.
  expect(exit, `still running ${GRACE_SECONDS} s + 30 s after SIGTERM`).toBeDefined();
  expect.soft(exit!.code, `exit code after SIGTERM (signal ${exit!.signal})`).toBe(0);
  expect.soft(exitMs!, `exited within SHUTDOWN_GRACE_SECONDS=${GRACE_SECONDS} (+${EXIT_SLACK_MS} ms)`).toBeLessThanOrEqual(GRACE_SECONDS * 1000 + EXIT_SLACK_MS);
  expect.soft(server.output()).toMatch(/"msg":"server\.stopped"/);

  // And what it acknowledged is stored.
  try {
    const stored = await readStored(ledger, async (sql, params) => (await db.query(sql, params)).rows);
    expect.soft(missingWrites(ledger, stored)).toEqual([]);
  } finally {
    await closePg(db);
    await subscription.dispose();
    for (const agent of agents) agent.destroy();
  }
});
