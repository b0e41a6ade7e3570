// POST /v1/traces fed by the real OpenTelemetry JS SDK and its OTLP exporters (JSON and protobuf,
// gzip), against a real server on a real database: execute_tool spans become tool traces that a
// graphql-ws subscriber sees start and finish; the usage of the chat span that asked for the calls
// (their parent, or their sibling just before them) lands once on their step, sent twice or not;
// a Logfire pending span shows the call running until its real span finishes it; a repeated
// delivery writes nothing at all.
import { randomUUID } from "node:crypto";
import { SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { post, startTestApp, subscribe, type TestApp, wsClients } from "../../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { databaseFingerprint } from "../../helpers/fingerprint.js";
import { idsOf, otelPipeline } from "./otel.js";

let db: TestDatabase;
let t: TestApp;
const clients = wsClients(() => t.wsUrl);
type Activity = { chatId: string; kind: string; trace: { toolCallId: string; status: string } | null };
let activity: ReturnType<typeof subscribe<{ chatsActivity: Activity }>>;

const gzip = "gzip" as NonNullable<ConstructorParameters<typeof ProtobufExporter>[0]>["compression"];

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db);
  activity = subscribe(clients.client(), `subscription { chatsActivity { chatId kind trace { toolCallId status } } }`);
  // Live once a chat made now arrives.
  for (let live = false; !live; ) {
    await post(t.graphqlUrl, `mutation { createChat(input: { title: "probe" }) { __typename } }`);
    live = await activity.until((items) => items.length > 0, 300).then(
      () => true,
      () => false,
    );
  }
});
afterAll(async () => {
  await clients.disposeAll();
  await t?.stop();
  await db?.destroy();
});

const url = () => `${t.url}/v1/traces`;
const chatIdOf = async (externalId: string) =>
  (await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId } } })).chatId;

/** Waits until the subscriber has seen this event of this call. */
const seen = (toolCallId: string, kind: string, status?: string) =>
  activity.until((items) => items.some((i) => i.data?.chatsActivity.kind === kind && i.data.chatsActivity.trace?.toolCallId === toolCallId && (!status || i.data.chatsActivity.trace.status === status)));

const TOKENS = "input output cacheRead cacheWrite reasoning";
type Row = Record<string, any>;
async function chatView(chatId: string): Promise<{ title: string; stats: Row; traces: Row[] }> {
  const response = await post(
    t.graphqlUrl,
    `query($id: ID!) { chat(id: $id) { title stats { traceCount errorCount tokens { ${TOKENS} } }
       traces(first: 50) { edges { node { toolName toolCallId status toolInput toolOutput error startedAt finishedAt latencyMs step { key tokens { ${TOKENS} } toolCallCount } } } } } }`,
    { id: chatId },
  );
  expect(response.errors).toBeUndefined();
  const chat = response.data!.chat;
  return { title: chat.title, stats: chat.stats, traces: chat.traces.edges.map((e: { node: Row }) => e.node) };
}

describe("the JSON exporter", () => {
  test("execute_tool spans become traces seen live; the parent chat span's usage lands once on their step, also when sent twice", async () => {
    const conversation = `conv-json-${randomUUID()}`;
    const otel = otelPipeline(new JsonExporter({ url: url() }));
    const agent = otel.start("invoke_agent coder", { "gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": conversation, "gen_ai.usage.input_tokens": 99_999 });
    const step = otel.start(
      "chat gpt-4.1",
      {
        "gen_ai.operation.name": "chat",
        "gen_ai.conversation.id": conversation,
        "gen_ai.usage.input_tokens": 1_500,
        "gen_ai.usage.cache_read.input_tokens": 1_000,
        "gen_ai.usage.cache_creation.input_tokens": 200,
        "gen_ai.usage.output_tokens": 120,
        "gen_ai.usage.reasoning.output_tokens": 40,
      },
      agent,
    );
    const read = otel.start(
      "execute_tool read_file",
      { "gen_ai.operation.name": "execute_tool", "gen_ai.conversation.id": conversation, "gen_ai.tool.name": "read_file", "gen_ai.tool.call.id": "call_read", "gen_ai.tool.call.arguments": '{"path":"src/a.ts"}' },
      step,
    );
    read.setAttribute("gen_ai.tool.call.result", "export const a = 1;");
    read.end();
    await otel.flush();
    await seen("call_read", "trace_finished", "ok");

    const run = otel.start(
      "execute_tool run_command",
      { "gen_ai.operation.name": "execute_tool", "gen_ai.conversation.id": conversation, "gen_ai.tool.name": "run_command", "gen_ai.tool.call.id": "call_run", "gen_ai.tool.call.arguments": '{"program":"npm","args":["test"]}' },
      step,
    );
    run.setStatus({ code: SpanStatusCode.ERROR, message: "exit code 1" });
    run.setAttribute("error.type", "ExitError");
    run.end();
    step.end();
    agent.end();
    await otel.flush();
    await seen("call_run", "trace_finished", "error");

    const chatId = await chatIdOf(conversation);
    const view = await chatView(chatId);
    expect(view.title).toBe(`otlp-test · ${conversation}`);
    expect(view.traces.map((x) => [x.toolName, x.toolCallId, x.status, x.toolInput, x.toolOutput, x.error])).toEqual([
      ["read_file", "call_read", "ok", { path: "src/a.ts" }, "export const a = 1;", null],
      ["run_command", "call_run", "error", { program: "npm", args: ["test"] }, null, "exit code 1"],
    ]);
    const spans = otel.finished();
    const readSpan = spans.find((s) => s.name === "execute_tool read_file")!;
    expect(view.traces[0]!.startedAt).toBe(new Date(readSpan.startTime[0] * 1000 + Math.floor(readSpan.startTime[1] / 1e6)).toISOString());
    // Input excludes cache reads and writes; output includes reasoning. The agent span's total is not a step.
    const usage = { input: 300, output: 120, cacheRead: 1_000, cacheWrite: 200, reasoning: 40 };
    const stepKey = `otlp:${idsOf(step).traceId}:${idsOf(step).spanId}`;
    for (const x of view.traces) expect(x.step).toEqual({ key: stepKey, tokens: usage, toolCallCount: 2 });
    expect(view.stats).toEqual({ traceCount: 2, errorCount: 1, tokens: usage });

    // The same spans delivered again: answered as a success, and nothing is written.
    const before = await databaseFingerprint(db.prisma);
    expect(await otel.resend(spans)).toMatchObject({ code: 0 });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    await otel.shutdown();
  });
});

describe("the protobuf exporter, gzip, in a batch", () => {
  test("without a conversation id a trace is a chat; the chat span just before the call, its sibling, gives the usage, and a later one does not", async () => {
    const otel = otelPipeline(new ProtobufExporter({ url: url(), compression: gzip }), { batch: true });
    const agent = otel.start("invoke_agent", { "gen_ai.operation.name": "invoke_agent" });
    const early = otel.start("chat", { "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 9 }, agent);
    early.end();
    await new Promise((r) => setTimeout(r, 5));
    const asking = otel.start("chat", { "gen_ai.operation.name": "chat", "gen_ai.usage.prompt_tokens": 50, "gen_ai.usage.completion_tokens": 10 }, agent);
    asking.end();
    await new Promise((r) => setTimeout(r, 5));
    const tool = otel.start("execute_tool list_files", { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "list_files" }, agent);
    tool.end();
    await new Promise((r) => setTimeout(r, 5));
    const answer = otel.start("chat", { "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 70, "gen_ai.usage.output_tokens": 5 }, agent);
    answer.end();
    agent.end();
    await otel.flush(); // one request with all five spans

    const { traceId, spanId } = idsOf(tool);
    const toolCallId = `span:${traceId}:${spanId}`;
    await seen(toolCallId, "trace_finished", "ok");
    const chatId = await chatIdOf(`trace:${traceId}`);
    const view = await chatView(chatId);
    expect(view.traces.map((x) => [x.toolName, x.toolCallId, x.status, x.toolInput])).toEqual([["list_files", toolCallId, "ok", {}]]);
    expect(view.traces[0]!.step).toEqual({ key: `otlp:${traceId}:${idsOf(asking).spanId}`, tokens: { input: 50, output: 10, cacheRead: 0, cacheWrite: 0, reasoning: 0 }, toolCallCount: 1 });
    expect(view.stats.tokens).toEqual({ input: 50, output: 10, cacheRead: 0, cacheWrite: 0, reasoning: 0 });

    const before = await databaseFingerprint(db.prisma);
    expect(await otel.resend(otel.finished())).toMatchObject({ code: 0 });
    expect(await databaseFingerprint(db.prisma)).toEqual(before);
    await otel.shutdown();
  });
});

describe("Logfire pending spans", () => {
  test("a pending span shows the call running on a subscriber; its real span finishes it, one trace", async () => {
    const session = `session-${randomUUID()}`;
    const otel = otelPipeline(new JsonExporter({ url: url() }), { pending: true, resource: { "session.id": session } });
    const tool = otel.start("execute_tool web_fetch", {
      "logfire.span_type": "span",
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "web_fetch",
      "gen_ai.tool.call.id": "call_fetch",
      "gen_ai.tool.call.arguments": '{"url":"https://example.com"}',
    });
    await otel.flush(); // only the pending span has been exported
    await seen("call_fetch", "trace_started", "running");
    const chatId = await chatIdOf(session);
    const running = await chatView(chatId);
    expect(running.traces.map((x) => [x.toolCallId, x.status, x.finishedAt, x.toolInput])).toEqual([["call_fetch", "running", null, { url: "https://example.com" }]]);

    await new Promise((r) => setTimeout(r, 20));
    tool.setAttribute("gen_ai.tool.call.result", "<html>…</html>");
    tool.end();
    await otel.flush();
    await seen("call_fetch", "trace_finished", "ok");
    const finished = await chatView(chatId);
    expect(finished.traces.map((x) => [x.toolCallId, x.status, x.toolOutput])).toEqual([["call_fetch", "ok", "<html>…</html>"]]);
    expect(finished.traces[0]!.latencyMs).toBeGreaterThanOrEqual(20);
    expect(finished.stats.traceCount).toBe(1);
    await otel.shutdown();
  });
});
