// Secret-shaped values in traces and snapshots, through the services on a real database (PGlite
// in `unit`, the PostgreSQL server in `postgres`): what is stored, the count on the trace, replays,
// the hot one-statement path and the general path, and SCRUB_SECRETS=false.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { REDACTED } from "../../server/services/scrub.js";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { serviceAssertions, useServiceDatabase } from "../helpers/service-assertions.js";
import { base62, base64url } from "../fixtures/secrets/make.js";

const CAP = 300;
/** `raw`: SCRUB_SECRETS=false; `capped`: output capped at 300 bytes. Same database. */
const { db, h, harnesses: { raw, capped } } = useServiceDatabase({ harnesses: { raw: { scrubSecrets: false }, capped: { traceOutputCapBytes: CAP } } });
const { changesNothing, eventLog, storedTrace } = serviceAssertions(() => db, () => h);

const github = () => `ghp_${base62(36)}`;
const anthropic = () => `sk-ant-api03-${base64url(93)}AA`;
const dbPassword = () => `Pw9${base62(13)}`;

/** A tool input with two secrets: a token in a command, a password in a nested URL. */
function inputWithSecrets() {
  const token = github();
  const password = dbPassword();
  return {
    token,
    password,
    given: { command: `GH_TOKEN=${token} gh pr list`, env: [{ name: "DATABASE_URL", value: `postgres://app:${password}@db:5432/app` }], timeout: 30 },
    stored: { command: `GH_TOKEN=${REDACTED} gh pr list`, env: [{ name: "DATABASE_URL", value: `postgres://app:${REDACTED}@db:5432/app` }], timeout: 30 },
  };
}

const newChat = (title = "scrubbing") => h.services.chats.create({ title });

describe("start", () => {
  test("stores the input with each secret replaced and counts them; the stored row is the one returned and published", async () => {
    const chat = await newChat();
    const input = inputWithSecrets();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: input.given });
    expect(trace.toolInput).toEqual(input.stored);
    expect(trace.scrubbedCount).toBe(2);
    expect(await storedTrace(trace.id)).toEqual(trace);
    expect(JSON.stringify(await storedTrace(trace.id))).not.toContain(input.token);
    expect(await eventLog(chat.id)).toEqual([
      ["chat_created", chat.id],
      ["trace_started", trace.id],
    ]);
  });

  test("a start without a secret counts 0 and keeps its input as given", async () => {
    const chat = await newChat();
    const trace = await h.services.traces.start({ chatId: chat.id, toolName: "ls", toolInput: { path: "/home/user/project", all: true } });
    expect(trace).toMatchObject({ toolInput: { path: "/home/user/project", all: true }, scrubbedCount: 0 });
  });

  test("an identical retried start carrying a secret is a replay, not a conflict: nothing written", async () => {
    const chat = await newChat();
    const input = inputWithSecrets();
    const first = await h.services.traces.start({ chatId: chat.id, toolCallId: "call_secret", toolName: "bash", toolInput: input.given });
    const again = await changesNothing(() => h.services.traces.start({ chatId: chat.id, toolCallId: "call_secret", toolName: "bash", toolInput: input.given }));
    expect(again).toEqual(first);
  });
});

describe("finish", () => {
  test("output and error are stored scrubbed; the finish's count adds to the start's (one-statement path)", async () => {
    const chat = await newChat();
    const input = inputWithSecrets();
    const started = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: input.given });
    const key = anthropic();
    const finished = await h.services.traces.finish({
      traceId: started.id,
      output: `exported ANTHROPIC_API_KEY=${key}\ndone\n`,
      error: `auth failed for postgres://app:${input.password}@db:5432/app`,
    });
    expect(finished.toolOutput).toBe(`exported ANTHROPIC_API_KEY=${REDACTED}\ndone\n`);
    expect(finished.error).toBe(`auth failed for postgres://app:${REDACTED}@db:5432/app`);
    expect(finished.outputBytes).toBe(Buffer.byteLength(finished.toolOutput!));
    expect(finished.scrubbedCount).toBe(4);
    expect(await storedTrace(started.id)).toEqual(finished);
  });

  test("by chat and tool call id too, and through the general path (a traceId checked against its chat)", async () => {
    const chat = await newChat();
    const a = await h.services.traces.start({ chatId: chat.id, toolCallId: "a", toolName: "bash", toolInput: { command: `echo ${github()}` } });
    const b = await h.services.traces.start({ chatId: chat.id, toolCallId: "b", toolName: "bash", toolInput: { command: "env" } });
    const byCallId = await h.services.traces.finish({ chatId: chat.id, toolCallId: "a", output: `token ${github()} and ${github()}` });
    expect(byCallId).toMatchObject({ toolOutput: `token ${REDACTED} and ${REDACTED}`, scrubbedCount: 3 });
    // traceId with chatId beside it is checked against the stored trace first: the general path.
    const general = await h.services.traces.finish({ traceId: b.id, chatId: chat.id, output: `GITHUB_TOKEN=${github()}` });
    expect(general).toMatchObject({ toolOutput: `GITHUB_TOKEN=${REDACTED}`, scrubbedCount: 1 });
    expect(await storedTrace(a.id)).toEqual(byCallId);
    expect(await storedTrace(b.id)).toEqual(general);
  });

  test("an identical retried finish carrying a secret is a replay: the count is not added twice", async () => {
    const chat = await newChat();
    const started = await h.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: {} });
    const finish = { traceId: started.id, output: `NPM_TOKEN=npm_${base62(36)}`, error: `bad ${github()}` };
    const first = await h.services.traces.finish(finish);
    expect(first.scrubbedCount).toBe(2);
    expect(await changesNothing(() => h.services.traces.finish(finish))).toEqual(first);
    expect((await storedTrace(started.id)).scrubbedCount).toBe(2);
  });

  test("the output is scrubbed before it is capped: a cut never keeps part of a secret", async () => {
    const chat = await capped.services.chats.create({ title: "cap" });
    const started = await capped.services.traces.start({ chatId: chat.id, toolName: "cat", toolInput: {} });
    const token = github();
    // Unscrubbed, the cap would fall inside the token and keep its first characters.
    const output = `${"x".repeat(234)} ${token} ${"y".repeat(399)}`;
    const finished = await capped.services.traces.finish({ traceId: started.id, output });
    expect(finished.toolOutput).toContain(REDACTED);
    expect(finished.toolOutput).not.toContain("ghp_");
    expect(finished.outputBytes).toBe(235 + REDACTED.length + 400);
    expect(finished.scrubbedCount).toBe(1);
  });
});

describe("record", () => {
  test("input, output and error are scrubbed and counted together (one-statement path)", async () => {
    const chat = await newChat();
    const input = inputWithSecrets();
    const trace = await h.services.traces.record({
      chatId: chat.id,
      toolName: "bash",
      toolInput: input.given,
      output: `key: ${anthropic()}`,
      error: `token ${github()} revoked`,
    });
    expect(trace).toMatchObject({ toolInput: input.stored, toolOutput: `key: ${REDACTED}`, error: `token ${REDACTED} revoked`, scrubbedCount: 4 });
    expect(await storedTrace(trace.id)).toEqual(trace);
  });

  test("a batch through the general path (a retried tool call in it) counts each trace's own secrets", async () => {
    const chat = await newChat();
    const input = inputWithSecrets();
    // Started earlier: the batch's item for it is a finish of that start (and sends the batch down the general path).
    const started = await h.services.traces.start({ chatId: chat.id, toolCallId: "started", toolName: "bash", toolInput: input.given });
    const [finished, recorded] = await h.services.traces.recordBatch([
      { chatId: chat.id, toolCallId: "started", toolName: "bash", toolInput: input.given, output: `echo ${github()}` },
      { chatId: chat.id, toolCallId: "new", toolName: "read", toolInput: { path: ".env" }, output: `A=${github()}\nB=${anthropic()}\nC=sk_live_${base62(24)}` },
    ]);
    expect(finished).toMatchObject({ id: started.id, toolOutput: `echo ${REDACTED}`, scrubbedCount: 3 });
    expect(recorded).toMatchObject({ toolOutput: `A=${REDACTED}\nB=${REDACTED}\nC=${REDACTED}`, scrubbedCount: 3 });
    expect(await storedTrace(finished!.id)).toEqual(finished);
    expect(await storedTrace(recorded!.id)).toEqual(recorded);
  });

  test("an identical retried record carrying secrets is a replay", async () => {
    const chat = await newChat();
    const item = { chatId: chat.id, toolCallId: "rec", toolName: "bash", toolInput: inputWithSecrets().given, output: `x ${github()}` };
    const first = await h.services.traces.record(item);
    expect(first.scrubbedCount).toBe(3);
    expect(await changesNothing(() => h.services.traces.record(item))).toEqual(first);
  });
});

describe("snapshots and the file journal", () => {
  test("secret-shaped values in a snapshot's state are replaced; saving the same state again is a replay", async () => {
    const chat = await newChat();
    const key = anthropic();
    const state = { messages: [{ role: "user", content: `use ${key} for the API` }, { role: "assistant", content: "ok" }] };
    const revision = await h.services.snapshots.save({ chatId: chat.id, state });
    expect(revision.state).toEqual({ messages: [{ role: "user", content: `use ${REDACTED} for the API` }, { role: "assistant", content: "ok" }] });
    expect(JSON.stringify(await db.prisma.agentSnapshotRevision.findUniqueOrThrow({ where: { id: revision.id } }))).not.toContain(key);
    expect(await changesNothing(() => h.services.snapshots.save({ chatId: chat.id, turn: revision.turn, state }))).toEqual(revision);
  });

  test("the file journal is stored raw: a rewind must put the file back as it was", async () => {
    const chat = await newChat();
    const content = Buffer.from(`OPENAI_API_KEY=sk-proj-${base62(120)}\nGH_TOKEN=${github()}\n`);
    await h.services.fileJournal.record({ chatId: chat.id, turnNumber: 1, workspace: "w", path: ".env", previous: content });
    const row = await db.prisma.agentFileJournal.findFirstOrThrow({ where: { chatId: chat.id } });
    expect(Buffer.from(row.content!).equals(content)).toBe(true);
  });
});

describe("SCRUB_SECRETS=false", () => {
  test("trace values are stored as given and counted 0", async () => {
    const chat = await raw.services.chats.create({ title: "raw" });
    const input = inputWithSecrets();
    const output = `key: ${anthropic()}`;
    const started = await raw.services.traces.start({ chatId: chat.id, toolName: "bash", toolInput: input.given });
    expect(started).toMatchObject({ toolInput: input.given, scrubbedCount: 0 });
    const finished = await raw.services.traces.finish({ traceId: started.id, output, error: input.token });
    expect(finished).toMatchObject({ toolOutput: output, error: input.token, scrubbedCount: 0 });
    const recorded = await raw.services.traces.record({ chatId: chat.id, toolName: "bash", toolInput: input.given, output });
    expect(recorded).toMatchObject({ toolInput: input.given, toolOutput: output, scrubbedCount: 0 });
    expect(await storedTrace(recorded.id)).toEqual(recorded);
  });

  test("snapshots keep secret-shaped values but still redact what is under secret keys", async () => {
    const chat = await raw.services.chats.create({ title: "raw snapshot" });
    const key = anthropic();
    const revision = await raw.services.snapshots.save({ chatId: chat.id, state: { note: `use ${key}`, env: { ANTHROPIC_API_KEY: key } } });
    expect(revision.state).toEqual({ note: `use ${key}`, env: { ANTHROPIC_API_KEY: REDACTED } });
  });
});

describe("through the GraphQL API, with the configuration", () => {
  let on: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    on = await startTestApp(db, { listen: false });
    off = await startTestApp(db, { listen: false, env: { SCRUB_SECRETS: "false" } });
  });
  afterAll(async () => {
    await on?.stop();
    await off?.stop();
  });

  const START = `mutation($input: StartToolTraceInput!) { startToolTrace(input: $input) { __typename ... on ToolTrace { toolInput scrubbedCount } } }`;

  test("ToolTrace.scrubbedCount is on the trace; SCRUB_SECRETS=false reaches the services", async () => {
    const chat = await newChat();
    const input = inputWithSecrets();
    const scrubbed = await execute(on.app, START, { input: { chatId: chat.id, toolName: "bash", toolInput: input.given } });
    expect(scrubbed.errors).toBeUndefined();
    expect(scrubbed.data!.startToolTrace).toEqual({ __typename: "ToolTrace", toolInput: input.stored, scrubbedCount: 2 });
    const kept = await execute(off.app, START, { input: { chatId: chat.id, toolName: "bash", toolInput: input.given } });
    expect(kept.data!.startToolTrace).toEqual({ __typename: "ToolTrace", toolInput: input.given, scrubbedCount: 0 });
  });
});
