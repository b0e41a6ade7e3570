// POST /v1/traces with bodies that must be refused, over real HTTP: each gets the status the OTLP
// spec gives it (415, 400, 413) with a clear message, as a google.rpc.Status in the request's
// encoding where this endpoint answers, and writes nothing. Spans rejected one by one (an
// execute_tool span without gen_ai.tool.name, a bad id, bad usage) are counted and explained in
// partial_success while the valid spans of the same request are stored. Spans that are not tool
// calls are acknowledged and store nothing. Pending and real spans arriving in either order end
// with one finished call.
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTestApp, type TestApp } from "../../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { databaseFingerprint } from "../../helpers/fingerprint.js";
import { rawRequest } from "../../helpers/raw-http.js";
import { otelPipeline } from "./otel.js";

const MAX_BODY_BYTES = 256 * 1024;
const TOOL_INPUT_MAX_BYTES = 64 * 1024;
let db: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  t = await startTestApp(db, { env: { MAX_BODY_BYTES: String(MAX_BODY_BYTES), TOOL_INPUT_MAX_BYTES: String(TOOL_INPUT_MAX_BYTES) } });
});
afterAll(async () => {
  await t?.stop();
  await db?.destroy();
});

/** google.rpc.Status, defined apart from the server's code to read its protobuf answers. */
const Status = protobuf.Root.fromJSON({
  nested: { google: { nested: { rpc: { nested: { Status: { fields: { code: { type: "int32", id: 1 }, message: { type: "string", id: 2 } } } } } } } },
}).lookupType("google.rpc.Status");
const readStatus = (body: Buffer) => Status.toObject(Status.decode(body)) as { code?: number; message?: string };

const send = (body: string | Buffer, headers: Record<string, string>) => rawRequest(`${t.url}/v1/traces`, { method: "POST", headers, body });
/** The raw body as bytes: rawRequest decodes it as text. */
async function sendForBytes(body: Buffer, headers: Record<string, string>) {
  const response = await fetch(`${t.url}/v1/traces`, { method: "POST", headers, body: new Uint8Array(body) });
  return { status: response.status, contentType: response.headers.get("content-type"), body: Buffer.from(await response.arrayBuffer()) };
}

/** Asserts that what runs writes nothing at all. */
async function writesNothing<T>(run: () => Promise<T>): Promise<T> {
  const before = await databaseFingerprint(db.prisma);
  const result = await run();
  expect(await databaseFingerprint(db.prisma)).toEqual(before);
  return result;
}

const tool = (name: string, extra: Record<string, string> = {}) => ({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, ...extra });

/** Real SDK spans, ended, for the serializers. */
function spans(make: (start: ReturnType<typeof otelPipeline>["start"]) => void) {
  const otel = otelPipeline(new InMemorySpanExporter());
  make(otel.start);
  return otel.finished();
}

/** A hand-written OTLP/JSON span, for what the SDK cannot produce. */
const jsonSpan = (span: Record<string, unknown>) => ({ traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", name: "s", startTimeUnixNano: "1700000000000000000", endTimeUnixNano: "1700000000500000000", ...span });
const jsonRequest = (...list: Record<string, unknown>[]) => JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: list }] }] });
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

describe("refused requests", () => {
  test("a content type OTLP/HTTP has not: 415 with a Status naming the two it has", async () => {
    const response = await writesNothing(() => send(jsonRequest(), { "content-type": "application/xml" }));
    expect(response.status).toBe(415);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.json).toEqual({ code: 3, message: 'Content-Type "application/xml" is not OTLP/HTTP: send application/json or application/x-protobuf' });
  });

  test("a body a browser could send cross-site (text/plain) is refused by the shared guard first", async () => {
    const response = await writesNothing(() => send(jsonRequest(), { "content-type": "text/plain" }));
    expect(response.status).toBe(415);
    expect(response.json.errors[0].extensions.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  test("broken JSON: 400 with a JSON Status", async () => {
    const response = await writesNothing(() => send('{"resourceSpans": [', { "content-type": "application/json" }));
    expect(response.status).toBe(400);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.json.code).toBe(3);
    expect(response.json.message).toMatch(/^The body is not JSON: /);
  });

  test("JSON that is not an ExportTraceServiceRequest: 400 naming the field", async () => {
    for (const [body, message] of [
      ["[]", "The body must be an ExportTraceServiceRequest object"],
      ['{"resourceSpans": 5}', "resourceSpans must be a list"],
      ['{"resourceSpans": [{"scopeSpans": [{"spans": {}}]}]}', "resourceSpans[0].scopeSpans[0].spans must be a list"],
    ] as const) {
      const response = await writesNothing(() => send(body, { "content-type": "application/json" }));
      expect(response.status, body).toBe(400);
      expect(response.json, body).toEqual({ code: 3, message });
    }
  });

  test("broken protobuf (a request cut short): 400 with a protobuf Status", async () => {
    const whole = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans((start) => start("execute_tool ls", tool("ls")).end()))!);
    const response = await writesNothing(() => sendForBytes(whole.subarray(0, whole.length - 9), { "content-type": "application/x-protobuf" }));
    expect(response.status).toBe(400);
    expect(response.contentType).toBe("application/x-protobuf");
    const status = readStatus(response.body);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^The body is not a protobuf ExportTraceServiceRequest: index out of range/);
  });

  test("a body over MAX_BODY_BYTES: 413 before anything is parsed", async () => {
    const big = jsonRequest(jsonSpan({ attributes: [str("padding", "x".repeat(MAX_BODY_BYTES))] }));
    const response = await writesNothing(() => send(big, { "content-type": "application/json" }));
    expect(response.status).toBe(413);
    expect(response.json.errors[0].message).toBe(`The request body is ${Buffer.byteLength(big)} bytes; the limit is ${MAX_BODY_BYTES}`);
  });

  test("a gzip bomb (small on the wire, 20 MB inflated): 413 once decompressed", async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"resourceSpans":[],"padding":"'), Buffer.alloc(20 * 1024 * 1024, 0x61), Buffer.from('"}')]));
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES / 4);
    const response = await writesNothing(() => send(bomb, { "content-type": "application/json", "content-encoding": "gzip" }));
    expect(response.status).toBe(413);
    expect(response.json.errors[0].message).toBe(`The request body once decompressed passes the limit of ${MAX_BODY_BYTES} bytes`);
  });
});

describe("partial success", () => {
  test("JSON: an execute_tool span without gen_ai.tool.name and a span with a bad id are rejected with their reasons; the valid span is stored", async () => {
    const conversation = `conv-${randomUUID()}`;
    const conv = str("gen_ai.conversation.id", conversation);
    const body = jsonRequest(
      jsonSpan({ spanId: "0000000000000001", attributes: [conv, str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "grep"), str("gen_ai.tool.call.id", "call_ok")] }),
      jsonSpan({ spanId: "0000000000000002", attributes: [conv, str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.call.id", "call_nameless")] }),
      jsonSpan({ spanId: "not-hex!", attributes: [conv, str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "grep")] }),
      jsonSpan({ spanId: "0000000000000003", attributes: [conv, str("gen_ai.operation.name", "chat"), { key: "gen_ai.usage.input_tokens", value: { intValue: "-5" } }] }),
      jsonSpan({ spanId: "0000000000000004", attributes: [conv, str("gen_ai.operation.name", "invoke_agent")] }),
    );
    const response = await send(body, { "content-type": "application/json" });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.json.partialSuccess.rejectedSpans).toBe("3");
    const message: string = response.json.partialSuccess.errorMessage;
    expect(message).toContain("3 of 5 spans rejected");
    expect(message).toContain("span 0000000000000002 of trace 5b8efff798038103d269b633813fc60c: an execute_tool span needs gen_ai.tool.name");
    expect(message).toContain('span (no id) of trace 5b8efff798038103d269b633813fc60c: spanId "not-hex!" is not 8 bytes in hex');
    expect(message).toContain("span 0000000000000003 of trace 5b8efff798038103d269b633813fc60c: gen_ai.usage.input_tokens must be a whole number of tokens, not -5");

    const session = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId: conversation } } });
    const traces = await db.prisma.toolTrace.findMany({ where: { chatId: session.chatId } });
    expect(traces.map((x) => [x.toolName, x.toolCallId, x.status, x.startedAt.toISOString(), x.latencyMs])).toEqual([["grep", "call_ok", "ok", "2023-11-14T22:13:20.000Z", 500]]);

    // The same request again: the same answer, and nothing written.
    const again = await writesNothing(() => send(body, { "content-type": "application/json" }));
    expect(again.json).toEqual(response.json);
  });

  test("protobuf: the same through the SDK's own serializer, answered with a protobuf ExportTraceServiceResponse", async () => {
    const conversation = `conv-${randomUUID()}`;
    const finished = spans((start) => {
      start("execute_tool ok", tool("edit_file", { "gen_ai.conversation.id": conversation, "gen_ai.tool.call.id": "call_edit" })).end();
      start("execute_tool nameless", { "gen_ai.operation.name": "execute_tool", "gen_ai.conversation.id": conversation }).end();
    });
    const response = await sendForBytes(Buffer.from(ProtobufTraceSerializer.serializeRequest(finished)!), { "content-type": "application/x-protobuf" });
    expect(response.status).toBe(200);
    expect(response.contentType).toBe("application/x-protobuf");
    const answer = ProtobufTraceSerializer.deserializeResponse(response.body);
    expect(Number(answer.partialSuccess?.rejectedSpans)).toBe(1);
    expect(answer.partialSuccess?.errorMessage).toMatch(/^1 of 2 spans rejected: span [0-9a-f]{16} of trace [0-9a-f]{32}: an execute_tool span needs gen_ai.tool.name$/);
    const session = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId: conversation } } });
    expect((await db.prisma.toolTrace.findMany({ where: { chatId: session.chatId } })).map((x) => x.toolCallId)).toEqual(["call_edit"]);
  });

  test("a tool input over TOOL_INPUT_MAX_BYTES is rejected with the service's message", async () => {
    const body = jsonRequest(jsonSpan({ attributes: [str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "write_file"), str("gen_ai.tool.call.arguments", JSON.stringify({ text: "y".repeat(100_000) }))] }));
    const response = await writesNothing(() => send(body, { "content-type": "application/json" }));
    expect(response.status).toBe(200);
    expect(response.json.partialSuccess.rejectedSpans).toBe("1");
    expect(response.json.partialSuccess.errorMessage).toMatch(new RegExp(`toolInput is \\d+ bytes of JSON; the limit is ${TOOL_INPUT_MAX_BYTES}$`));
  });
});

describe("accepted requests", () => {
  test("gzip JSON from the SDK's serializer is read; a second delivery of it writes nothing", async () => {
    const conversation = `conv-${randomUUID()}`;
    const body = gzipSync(JsonTraceSerializer.serializeRequest(spans((start) => start("execute_tool", tool("glob", { "gen_ai.conversation.id": conversation, "gen_ai.tool.call.id": "call_glob" })).end()))!);
    const first = await send(body, { "content-type": "application/json", "content-encoding": "gzip" });
    expect(first).toMatchObject({ status: 200, json: {} });
    const session = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId: conversation } } });
    expect(await db.prisma.toolTrace.count({ where: { chatId: session.chatId, toolCallId: "call_glob" } })).toBe(1);
    const second = await writesNothing(() => send(body, { "content-type": "application/json", "content-encoding": "gzip" }));
    expect(second).toMatchObject({ status: 200, json: {} });
  });

  test("spans that are not tool calls (agents, a chat without tools, plain spans) and an empty request are acknowledged and store nothing", async () => {
    const finished = spans((start) => {
      start("invoke_agent", { "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 10 }).end();
      start("create_agent", { "gen_ai.operation.name": "create_agent" }).end();
      start("chat", { "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2 }).end();
      start("GET /", { "http.request.method": "GET" }).end();
    });
    for (const [body, type] of [
      [Buffer.from(JsonTraceSerializer.serializeRequest(finished)!), "application/json"],
      [Buffer.from(ProtobufTraceSerializer.serializeRequest(finished)!), "application/x-protobuf"],
      [Buffer.from("{}"), "application/json"],
      [Buffer.alloc(0), "application/x-protobuf"],
    ] as const) {
      const response = await writesNothing(() => sendForBytes(body, { "content-type": type }));
      expect(response.status, type).toBe(200);
      expect(response.contentType).toBe(type);
      if (type === "application/json") expect(JSON.parse(response.body.toString())).toEqual({});
      else expect(response.body.length).toBe(0); // an ExportTraceServiceResponse with nothing set
    }
  });

  test("a real span before its pending span: recorded whole; the late pending span changes nothing", async () => {
    const conversation = `conv-${randomUUID()}`;
    const common = [str("gen_ai.conversation.id", conversation), str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "sleep"), str("gen_ai.tool.call.id", "call_sleep")];
    const real = jsonSpan({ spanId: "00000000000000a1", attributes: [...common, str("logfire.span_type", "span"), str("gen_ai.tool.call.arguments", '{"s":1}')] });
    const pending = jsonSpan({ spanId: "00000000000000b1", parentSpanId: "00000000000000a1", endTimeUnixNano: real.startTimeUnixNano, attributes: [...common, str("logfire.span_type", "pending_span")] });
    expect((await send(jsonRequest(real), { "content-type": "application/json" })).json).toEqual({});
    const late = await writesNothing(() => send(jsonRequest(pending), { "content-type": "application/json" }));
    expect(late).toMatchObject({ status: 200, json: {} });
    const session = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId: conversation } } });
    const traces = await db.prisma.toolTrace.findMany({ where: { chatId: session.chatId } });
    expect(traces.map((x) => [x.toolCallId, x.status, x.toolInput, x.latencyMs])).toEqual([["call_sleep", "ok", { s: 1 }, 500]]);
  });

  test("a pending span without the arguments its real span carries: the real span still finishes the call", async () => {
    const conversation = `conv-${randomUUID()}`;
    const common = [str("gen_ai.conversation.id", conversation), str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "sleep")];
    const pending = jsonSpan({ spanId: "00000000000000b2", parentSpanId: "00000000000000a2", endTimeUnixNano: "1700000000000000000", attributes: [...common, str("logfire.span_type", "pending_span")] });
    const real = jsonSpan({ spanId: "00000000000000a2", attributes: [...common, str("gen_ai.tool.call.arguments", '{"s":2}'), str("gen_ai.tool.call.result", "slept")] });
    expect((await send(jsonRequest(pending), { "content-type": "application/json" })).json).toEqual({});
    expect((await send(jsonRequest(real), { "content-type": "application/json" })).json).toEqual({});
    // Both in one request (an exporter that keeps pending spans): the pending one is redundant.
    const both = await writesNothing(() => send(jsonRequest(pending, real), { "content-type": "application/json" }));
    expect(both.json).toEqual({});
    const session = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId: conversation } } });
    const traces = await db.prisma.toolTrace.findMany({ where: { chatId: session.chatId } });
    // The call's input is the one it started with.
    expect(traces.map((x) => [x.toolCallId, x.status, x.toolInput, x.toolOutput, x.latencyMs])).toEqual([[`span:5b8efff798038103d269b633813fc60c:00000000000000a2`, "ok", {}, "slept", 500]]);
  });

  test("the same span twice in one request: one call", async () => {
    const conversation = `conv-${randomUUID()}`;
    const twice = jsonSpan({ spanId: "00000000000000a3", attributes: [str("gen_ai.conversation.id", conversation), str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "pwd")] });
    const response = await send(jsonRequest(twice, twice), { "content-type": "application/json" });
    expect(response).toMatchObject({ status: 200, json: {} });
    const session = await db.prisma.ingestSession.findUniqueOrThrow({ where: { source_externalId: { source: "otlp", externalId: conversation } } });
    expect(await db.prisma.toolTrace.count({ where: { chatId: session.chatId } })).toBe(1);
  });
});
