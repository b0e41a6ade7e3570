// (a) PostgreSQL goes away under load and comes back. A real server process on the test's own
// cluster; clients write over real HTTP while the cluster is stopped (pg_ctl stop -m fast) and
// started again a few seconds later. While it is down, what nothing could serve is answered 503
// DATABASE_UNAVAILABLE (never a masked "Unexpected error.", never a 200 with errors) and /healthz is
// 503; once it is back the same process serves again within seconds; every acknowledged write is
// stored; and an open chatEvents subscription stays open through the outage and then delivers every
// event, without a gap, as the chat_events table has it.
import { expect, onTestFailed, test } from "vitest";
import { spawnServer } from "../helpers/server-process.js";
import {
  CHAT_EVENTS,
  CREATE_CHAT,
  classify,
  closePg,
  runningClusterForFile,
  describe as describeExchange,
  type Exchange,
  FINISH_TRACE,
  graphql,
  httpRequest,
  Ledger,
  logDigest,
  missingWrites,
  openPg,
  type Outcome,
  READ_CHAT,
  readStored,
  rootResult,
  sequenceDiff,
  sleep,
  START_TRACE,
  watch,
} from "./lib.js";

const CLIENTS = 4;
/** Bounds: each client stops after this many trace starts, or when the test says so. */
const MAX_STARTS_PER_CLIENT = 400;
const LOAD_BEFORE_MS = 2_000;
const OUTAGE_MS = 4_000;
const LOAD_AFTER_MS = 3_000;
/** "Within a few seconds after PostgreSQL returns, requests succeed again." */
const RECOVERY_MS = 10_000;
/** A request nothing can serve must still be answered, not left hanging. */
const REQUEST_TIMEOUT_MS = 20_000;

const clusterOf = runningClusterForFile();

type Phase = "before" | "outage" | "recovering" | "after";

interface Logged {
  started: Phase;
  ended: Phase;
  exchange: Exchange;
  outcome: Outcome;
}

test("a PostgreSQL outage under load: 503 DATABASE_UNAVAILABLE while down, served again once back, no acknowledged write lost, subscriptions stay open without a gap", async () => {
  const server = spawnServer({ DATABASE_URL: clusterOf().url(), STREAM_IDLE_CHECK_SECONDS: "2" });
  onTestFailed(() => console.log(`[db-outage] ${logDigest(server.lines())}`));
  const url = await server.listening;
  const graphqlUrl = `${url}/graphql`;
  const wsUrl = `${url.replace(/^http/, "ws")}/graphql`;
  const t0 = Date.now();

  let phase: Phase = "before";
  let stopping = false;
  const exchanges: Logged[] = [];
  const ledger = new Ledger();
  onTestFailed(() => {
    stopping = true; // the load ends with the test
  });
  const call = async (op: string, query: string, variables: Record<string, unknown>) => {
    const started = phase;
    const exchange = await graphql(graphqlUrl, op, query, variables, { timeoutMs: REQUEST_TIMEOUT_MS });
    exchanges.push({ started, ended: phase, exchange, outcome: classify(exchange) });
    return exchange;
  };

  // The chats: one watched by a subscription (client 0 writes to it), one for each other client.
  // (The clients create more as they go, to have createChat under load too.)
  const chats: { uuid: string; id: string; eventCursor: string }[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const created = await call("createChat", CREATE_CHAT, { title: `outage ${i}` });
    expect(classify(created), describeExchange(created, t0)).toBe("ack");
    ledger.ackChat(created);
    chats.push(rootResult(created) as { uuid: string; id: string; eventCursor: string });
  }
  const watched = chats[0]!;
  const subscription = watch(wsUrl, CHAT_EVENTS, { id: watched.id, after: watched.eventCursor });
  await subscription.until((items) => items.some((m) => m.__typename === "ChatStreamOpening"), 20_000);

  const ackedAfterRecovery = { watched: 0 };
  async function client(i: number) {
    const chat = chats[i]!;
    for (let n = 1; !stopping && n <= MAX_STARTS_PER_CLIENT; n++) {
      if (n % 10 === 0) ledger.ackChat(await call("createChat", CREATE_CHAT, { title: `outage ${i}.${n}` }));
      const toolCallId = `client${i}-call${n}`;
      const start = await call("startToolTrace", START_TRACE, { chatId: chat.id, toolCallId, input: { n } });
      if (classify(start) !== "ack") {
        await sleep(100);
        continue;
      }
      ledger.ackTraces(start);
      if (i === 0 && phase === "after") ackedAfterRecovery.watched++;
      // The finish is retried until acknowledged: an identical replay changes nothing.
      for (let attempt = 0; attempt < 200; attempt++) {
        const finish = await call("finishToolTrace", FINISH_TRACE, { chatId: chat.id, toolCallId, output: `done ${n}` });
        if (classify(finish) === "ack") {
          ledger.ackTraces(finish);
          break;
        }
        if (stopping) break;
        await sleep(100);
      }
    }
  }
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));

  await sleep(LOAD_BEFORE_MS);

  // PostgreSQL goes away.
  phase = "outage";
  const stoppedAt = Date.now();
  await clusterOf().stop("fast");
  const downAt = Date.now();
  expect(clusterOf().running()).toBe(false);

  // While it is down: /healthz, a mutation and a query, each answered 503 DATABASE_UNAVAILABLE.
  await sleep(500);
  const healthDown = await httpRequest(`${url}/healthz`, { op: "GET /healthz (down)" }, { timeoutMs: REQUEST_TIMEOUT_MS });
  const mutationDown = await graphql(graphqlUrl, "createChat (down)", CREATE_CHAT, { title: "during the outage" }, { timeoutMs: REQUEST_TIMEOUT_MS });
  const queryDown = await graphql(graphqlUrl, "chat (down)", READ_CHAT, { id: watched.id }, { timeoutMs: REQUEST_TIMEOUT_MS });
  const stillDown = clusterOf().running() === false;
  await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));

  // PostgreSQL comes back: the same server process serves again within seconds.
  phase = "recovering";
  await clusterOf().start();
  const upAt = Date.now();
  let recoveredAt: number | undefined;
  let lastProbe: Exchange | undefined;
  while (Date.now() - upAt < RECOVERY_MS) {
    lastProbe = await graphql(graphqlUrl, "chat (recovery probe)", READ_CHAT, { id: watched.id }, { timeoutMs: REQUEST_TIMEOUT_MS });
    if (classify(lastProbe) === "ack") {
      recoveredAt = Date.now();
      break;
    }
    await sleep(200);
  }
  phase = "after";
  await sleep(LOAD_AFTER_MS);
  stopping = true;
  await Promise.all(clients);
  const healthAfter = await httpRequest(`${url}/healthz`, { op: "GET /healthz (after)" }, { timeoutMs: REQUEST_TIMEOUT_MS });

  const count = (filter: (l: Logged) => boolean) => exchanges.filter(filter).length;
  console.log(
    `[db-outage] stop took ${downAt - stoppedAt} ms, down ${upAt - downAt} ms, recovered ${recoveredAt ? recoveredAt - upAt : "never"} ms after start; ` +
      `requests ${exchanges.length}: ack ${count((l) => l.outcome === "ack")}, unavailable ${count((l) => l.outcome === "unavailable")}, other ${count((l) => l.outcome === "other")}; ` +
      `acknowledged chats ${ledger.chats.size}, traces ${ledger.traces.size}`,
  );

  // The harness did what it meant to: PostgreSQL really was down for the probes, and there was load.
  expect(stillDown).toBe(true);
  const firstWrong = exchanges.filter((l) => l.outcome !== "ack").slice(0, 5).map((l) => describeExchange(l.exchange, t0));
  expect(count((l) => l.started === "before" && l.outcome === "ack"), `load before the outage; first failures:\n${firstWrong.join("\n")}`).toBeGreaterThan(10);

  // No restart: the process that served before the outage serves after it.
  expect.soft(server.hasExited(), `the server exited during the outage:\n${server.output().slice(-4000)}`).toBe(false);

  expect.soft(healthDown.status, `GET /healthz while PostgreSQL is down: ${describeExchange(healthDown, t0)}`).toBe(503);
  for (const probe of [mutationDown, queryDown]) {
    expect.soft(probe.error, describeExchange(probe, t0)).toBeUndefined();
    expect.soft(probe.status, `${probe.op} while PostgreSQL is down should be HTTP 503: ${describeExchange(probe, t0)}`).toBe(503);
    expect.soft(
      probe.body?.errors?.map((e) => e.extensions?.code),
      `${probe.op} while PostgreSQL is down should be a DATABASE_UNAVAILABLE error: ${describeExchange(probe, t0)}`,
    ).toEqual(["DATABASE_UNAVAILABLE"]);
    expect.soft(probe.text ?? "").not.toContain("Unexpected error.");
  }

  expect.soft(recoveredAt, `not served again within ${RECOVERY_MS} ms of PostgreSQL's return; last: ${lastProbe && describeExchange(lastProbe, t0)}\n${server.output().slice(-3000)}`).toBeDefined();
  expect.soft(healthAfter.status, describeExchange(healthAfter, t0)).toBe(200);

  // Every answer was a success or a proper 503; only requests that met the outage may be the latter.
  const wrong = exchanges.filter((l) => {
    if (l.outcome === "other") return true;
    const clear = (l.started === "before" && l.ended === "before") || l.started === "after";
    return clear && l.outcome !== "ack";
  });
  expect
    .soft(
      wrong.map((l) => `${l.started}->${l.ended}: ${describeExchange(l.exchange, t0)}`).slice(0, 15),
      `${wrong.length} answers were neither a success nor 503 DATABASE_UNAVAILABLE (or were not a success while PostgreSQL was up)`,
    )
    .toEqual([]);

  // Every acknowledged write is stored.
  const db = await openPg(clusterOf().url());
  try {
    const stored = await readStored(ledger, async (sql, params) => (await db.query(sql, params)).rows);
    expect.soft(missingWrites(ledger, stored)).toEqual([]);

    // The subscription stayed open, and delivered every event of the watched chat after its cursor,
    // in order, without a gap or a repeat, as chat_events has them (including those after recovery).
    const { rows: events } = await db.query<{ seq: number; kind: string; subject_id: string }>(
      `SELECT seq, kind::text AS kind, subject_id::text AS subject_id FROM chat_events WHERE chat_id = $1 ORDER BY seq`,
      [watched.uuid],
    );
    const lastSeq = events.at(-1)!.seq;
    expect.soft(ackedAfterRecovery.watched, "the watched chat got writes after recovery").toBeGreaterThan(0);
    const delivered = subscription.until((items) => items.some((m) => m.__typename === "ChatEvent" && m.seq >= lastSeq), 25_000).then(
      () => undefined,
      (error: Error) => error.message,
    );
    expect.soft(await delivered, "the subscription delivered up to the chat's last event").toBeUndefined();
    expect.soft(subscription.errors, "the subscription got no error").toEqual([]);
    expect.soft(subscription.completed, "the subscription was not completed").toBe(false);
    expect.soft(subscription.closeCode, "the subscription's socket stayed open").toBeUndefined();
    const got = subscription.received.filter((m) => m.__typename === "ChatEvent").map((m) => ({ seq: m.seq, kind: m.kind, subjectId: m.subjectId }));
    const want = events.filter((e) => e.seq > 1).map((e) => ({ seq: e.seq, kind: e.kind, subjectId: e.subject_id }));
    expect
      .soft(sequenceDiff(got.map((e) => e.seq), want.map((e) => e.seq)), `delivered ${got.length} events; chat_events has seq 2..${lastSeq}`)
      .toEqual({ missing: "", unexpected: "", repeated: "", inOrder: true });
    const mismatched = got.filter((e) => {
      const row = want.find((w) => w.seq === e.seq);
      return row && (row.kind !== e.kind || row.subjectId !== e.subjectId);
    });
    expect.soft(mismatched, "delivered events whose kind or subject differs from chat_events").toEqual([]);
    const openings = subscription.received.map((m, i) => (m.__typename === "ChatStreamOpening" ? i : -1)).filter((i) => i >= 0);
    expect.soft(openings, "one ChatStreamOpening, first").toEqual([0]);
    const cursors = subscription.received.map((m) => m.cursor as string);
    expect.soft(new Set(cursors).size, "every message has its own cursor").toBe(cursors.length);
  } finally {
    await closePg(db);
    await subscription.dispose();
  }

  await server.stop();
});
