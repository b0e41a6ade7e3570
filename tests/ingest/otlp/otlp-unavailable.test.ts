// POST /v1/traces while the database is unreachable: a retryable 503 with Retry-After and a
// google.rpc.Status in the request's encoding, so OTLP exporters send the spans again later. The app
// runs on a real PostgreSQL client pointed at a port nobody listens on (as tests/unit/outage-answers).
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import protobuf from "protobufjs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type App, buildApp } from "../../../server/app.js";
import { loadConfig } from "../../../server/config.js";
import { type Database, openDatabase, setPrisma } from "../../../server/db/client.js";
import { silentLogger } from "../../../server/logger.js";
import { otelPipeline } from "./otel.js";

let db: Database;
let app: App;
let url: string;

beforeAll(async () => {
  db = await openDatabase({ databaseUrl: "postgresql://postgres:s3cretpw@127.0.0.1:1/tracedeck", dataDir: "" });
  setPrisma(db.prisma);
  app = buildApp({ config: loadConfig({ PORT: "0" }), db, log: silentLogger });
  url = await app.start(0);
});
afterAll(async () => {
  await app?.stop();
  await db?.close();
});

const Status = protobuf.Root.fromJSON({
  nested: { google: { nested: { rpc: { nested: { Status: { fields: { code: { type: "int32", id: 1 }, message: { type: "string", id: 2 } } } } } } } },
}).lookupType("google.rpc.Status");

function spans() {
  const otel = otelPipeline(new InMemorySpanExporter());
  otel.start("execute_tool ls", { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "ls" }).end();
  return otel.finished();
}

test("JSON: 503, Retry-After, a JSON Status without the connection string", async () => {
  const response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: new Uint8Array(JsonTraceSerializer.serializeRequest(spans())!) });
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("1");
  expect(response.headers.get("content-type")).toBe("application/json");
  const text = await response.text();
  expect(JSON.parse(text)).toEqual({ code: 14, message: "The database is unavailable; retry shortly" });
  expect(text).not.toMatch(/s3cretpw|127\.0\.0\.1:1/);
});

test("protobuf: 503, Retry-After, a protobuf Status", async () => {
  const response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body: new Uint8Array(ProtobufTraceSerializer.serializeRequest(spans())!) });
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("1");
  expect(response.headers.get("content-type")).toBe("application/x-protobuf");
  expect(Status.toObject(Status.decode(new Uint8Array(await response.arrayBuffer())))).toEqual({ code: 14, message: "The database is unavailable; retry shortly" });
});
