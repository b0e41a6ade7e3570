// (b) PostgreSQL is down when the server starts. Start-up retries with backoff for
// DATABASE_STARTUP_TIMEOUT_SECONDS, logging a clear line that names the host and port and never the
// password: (i) when the database comes up within that window the server starts and serves; (ii)
// when it never does, the server exits non-zero with a clear message (no stack trace) once the
// window is over.
import { afterAll, beforeAll, expect, onTestFailed, test } from "vitest";
import { createPgCluster, destroyAllPgClusters, type PgCluster } from "../helpers/pg-cluster.js";
import { killAllSpawnedServers, type ServerLogLine, spawnServer } from "../helpers/server-process.js";
import { classify, CREATE_CHAT, describe as describeExchange, graphql, httpRequest, logDigest, sleep } from "./lib.js";

const PASSWORD = "s3cretpw";
/** Boot allowance on a loaded two-core machine (tsx, Prisma) on top of the configured window. */
const BOOT_SLACK_MS = 10_000;

let cluster: PgCluster;

beforeAll(async () => {
  // initdb only: the cluster stays stopped until a test starts it.
  cluster = await createPgCluster();
});

afterAll(async () => {
  await killAllSpawnedServers();
  await destroyAllPgClusters();
});

/** A log line (before any "listening" line) that names the database's host and port. */
const namesHostAndPort = (port: number) => (line: ServerLogLine) =>
  line.raw.includes("127.0.0.1") && new RegExp(`(?::|"port":\\s*"?)${port}(?!\\d)`).test(line.raw) && !/Tracedeck listening/.test(line.raw);

/** Lines of a V8 stack trace ("    at fn (file:line:col)"), anywhere in the output, raw or JSON-escaped. */
const STACK_FRAME = /(?:^|\\n|\n)\s*at (?:[^\n]*?\()?(?:file:\/\/|\/|node:)[^\n]*?:\d+:\d+\)?/;

test("(i) PostgreSQL comes up within the start-up window: the server waits for it, then starts and serves", async () => {
  expect(cluster.running()).toBe(false);
  const server = spawnServer({ DATABASE_URL: cluster.url({ password: PASSWORD }), DATABASE_STARTUP_TIMEOUT_SECONDS: "30" });
  onTestFailed(() => console.log(`[startup-outage (i)] output:\n${server.output().slice(-5000)}`));

  // It says what it is waiting for, naming the host and port...
  const waiting = await server.waitForLine(namesHostAndPort(cluster.port), 30_000);
  expect(server.hasExited(), "the server gave up at once instead of retrying").toBe(false);
  // ...keeps retrying a little while longer (backoff), and is still up.
  await sleep(2_000);
  expect(server.hasExited(), `the server exited while retrying:\n${server.output()}`).toBe(false);
  expect(server.output()).not.toMatch(/Tracedeck listening/);

  await cluster.start();
  const startedAt = Date.now();
  const url = await server.listening;
  console.log(`[startup-outage (i)] first waiting line ${waiting.receivedAt - server.spawnedAt} ms after spawn; listening ${Date.now() - startedAt} ms after PostgreSQL started`);

  const health = await httpRequest(`${url}/healthz`, { op: "GET /healthz" });
  expect(health.status, describeExchange(health)).toBe(200);
  const created = await graphql(`${url}/graphql`, "createChat", CREATE_CHAT, { title: "after a late database" });
  expect(classify(created), describeExchange(created)).toBe("ack");

  await server.stop();
  expect(server.output()).not.toContain(PASSWORD);
  await cluster.stop();
});

test("(ii) PostgreSQL never comes: the server exits non-zero after the start-up window, with a clear message and no stack trace", async () => {
  expect(cluster.running()).toBe(false);
  const windowSeconds = 5;
  const server = spawnServer({ DATABASE_URL: cluster.url({ password: PASSWORD }), DATABASE_STARTUP_TIMEOUT_SECONDS: String(windowSeconds) });
  onTestFailed(() => console.log(`[startup-outage (ii)] ${logDigest(server.lines())}\noutput:\n${server.output().slice(-5000)}`));

  const exit = await Promise.race([
    server.exited,
    sleep(windowSeconds * 1000 + BOOT_SLACK_MS + 20_000).then(() => undefined),
  ]);
  const output = server.output();
  expect(exit, `the server was still running ${windowSeconds} s + ${BOOT_SLACK_MS + 20_000} ms after it was started:\n${output.slice(-3000)}`).toBeDefined();
  const ranMs = exit!.at - server.spawnedAt;
  console.log(`[startup-outage (ii)] exited ${exit!.code ?? exit!.signal} after ${ranMs} ms`);

  expect.soft(exit!.code, output.slice(-3000)).not.toBe(0);
  expect.soft(exit!.code, "exited by itself, with a code").not.toBeNull();
  expect.soft(output).not.toMatch(/Tracedeck listening/);
  // It kept trying for the whole window, and gave up once it was over.
  expect.soft(ranMs, "ran at least the start-up window").toBeGreaterThanOrEqual(windowSeconds * 1000 - 250);
  expect.soft(ranMs, "gave up within the start-up window (plus the boot allowance)").toBeLessThanOrEqual(windowSeconds * 1000 + BOOT_SLACK_MS);

  // Log lines named the host and port it was waiting for: it tried more than once, with backoff
  // rather than in a tight loop.
  const waitingLines = server.lines().filter(namesHostAndPort(cluster.port));
  expect.soft(waitingLines.length, `log lines naming 127.0.0.1 and port ${cluster.port} (one try is no retry):\n${output.slice(-3000)}`).toBeGreaterThanOrEqual(2);
  expect.soft(waitingLines.length, `log lines naming 127.0.0.1 and port ${cluster.port} within ${windowSeconds} s: a retry loop without backoff?`).toBeLessThanOrEqual(50);
  // The final message: the usual "could not start" line, naming host and port, without a stack trace.
  const finalMessage = /Tracedeck could not start: [^\n]*/.exec(output)?.[0];
  expect.soft(finalMessage, `the "Tracedeck could not start: ..." message:\n${output.slice(-3000)}`).toBeDefined();
  expect.soft(finalMessage ?? "").toContain("127.0.0.1");
  expect.soft(finalMessage ?? "").toMatch(new RegExp(`\\b${cluster.port}\\b`));
  expect.soft(STACK_FRAME.exec(output)?.[0], "a stack trace in the output").toBeUndefined();

  // Never the password, anywhere.
  expect.soft(output).not.toContain(PASSWORD);
});
