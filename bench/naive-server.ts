// The naive baseline of issue 10: graphql-yoga + Pothos + one statement per mutation (an INSERT per
// startToolTrace, an UPDATE per finishToolTrace) on its own table, no lock, no events, no checks.
// It answers the same mutation shapes the load generator sends Tracedeck (typed union results).
//   PORT=… DATABASE_URL=postgresql://… node --import tsx bench/naive-server.ts   # pg pool
//   PORT=… NAIVE_DATA_DIR=/tmp/x node --import tsx bench/naive-server.ts          # its own PGlite
import { createServer } from "node:http";
import SchemaBuilder from "@pothos/core";
import { PGlite } from "@electric-sql/pglite";
import { createYoga } from "graphql-yoga";
import pg from "pg";

type Query = <T>(sql: string, params: unknown[]) => Promise<T[]>;

async function openDb(): Promise<{ query: Query; close(): Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (url) {
    // Tracedeck's write pool has 4 connections and Prisma's pool pg's default 10: give the naive one 10.
    const pool = new pg.Pool({ connectionString: url, max: Number(process.env.NAIVE_POOL ?? 10) });
    return { query: async (sql, params) => (await pool.query(sql, params)).rows, close: () => pool.end() };
  }
  const db = await PGlite.create(process.env.NAIVE_DATA_DIR ?? "memory://");
  return { query: async <T>(sql: string, params: unknown[]) => (await db.query<T>(sql, params)).rows, close: () => db.close() };
}

const db = await openDb();
await db.query(
  `CREATE TABLE IF NOT EXISTS naive_traces (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(), chat_id text NOT NULL, tool_name text NOT NULL, tool_input jsonb,
     tool_output text, status text NOT NULL DEFAULT 'running', started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)`,
  [],
);

interface TraceRow { id: string; chat_id: string; tool_name: string; status: string; started_at: Date; finished_at: Date | null }
interface Failure { kind: "ValidationError" | "NotFoundError"; message: string }

// The project's Prisma plugin widens every builder's option type (a required `prisma`) in the
// typings; this builder loads no plugin, so its empty options are cast past that.
const builder = new SchemaBuilder<{ Scalars: { JSON: { Input: unknown; Output: unknown } } }>({} as never);
builder.scalarType("JSON", { serialize: (v) => v, parseValue: (v) => v });
builder.queryType({ fields: (t) => ({ ok: t.boolean({ resolve: () => true }) }) });

const ToolTrace = builder.objectRef<TraceRow>("ToolTrace").implement({
  fields: (t) => ({
    id: t.exposeID("id"),
    chatId: t.exposeString("chat_id"),
    toolName: t.exposeString("tool_name"),
    status: t.exposeString("status"),
    startedAt: t.string({ resolve: (r) => r.started_at.toISOString() }),
    finishedAt: t.string({ nullable: true, resolve: (r) => r.finished_at?.toISOString() ?? null }),
  }),
});
const ErrorIface = builder.interfaceRef<Failure>("Error").implement({ fields: (t) => ({ message: t.exposeString("message") }) });
const ValidationError = builder.objectRef<Failure>("ValidationError").implement({ interfaces: [ErrorIface], isTypeOf: (v) => (v as Failure).kind === "ValidationError" });
const NotFoundError = builder.objectRef<Failure>("NotFoundError").implement({ interfaces: [ErrorIface], isTypeOf: (v) => (v as Failure).kind === "NotFoundError" });
const resolveType = (v: TraceRow | Failure) => ("kind" in v ? v.kind : "ToolTrace");
const StartResult = builder.unionType("StartToolTraceResult", { types: [ToolTrace, ValidationError, NotFoundError], resolveType });
const FinishResult = builder.unionType("FinishToolTraceResult", { types: [ToolTrace, ValidationError, NotFoundError], resolveType });

const StartInput = builder.inputType("StartToolTraceInput", {
  fields: (t) => ({ chatId: t.id({ required: true }), toolName: t.string({ required: true }), toolInput: t.field({ type: "JSON" }), messageId: t.string() }),
});
const FinishInput = builder.inputType("FinishToolTraceInput", {
  fields: (t) => ({ traceId: t.id(), output: t.string(), error: t.string() }),
});

const columns = "id, chat_id, tool_name, status, started_at, finished_at";
builder.mutationType({
  fields: (t) => ({
    startToolTrace: t.field({
      type: StartResult,
      args: { input: t.arg({ type: StartInput, required: true }) },
      resolve: async (_root, { input }) => {
        const rows = await db.query<TraceRow>(
          `INSERT INTO naive_traces (chat_id, tool_name, tool_input) VALUES ($1, $2, $3) RETURNING ${columns}`,
          [String(input.chatId), input.toolName, JSON.stringify(input.toolInput ?? {})],
        );
        return rows[0]!;
      },
    }),
    finishToolTrace: t.field({
      type: FinishResult,
      args: { input: t.arg({ type: FinishInput, required: true }) },
      resolve: async (_root, { input }) => {
        if (!input.traceId) return { kind: "ValidationError", message: "traceId is required" } satisfies Failure;
        const rows = await db.query<TraceRow>(
          `UPDATE naive_traces SET tool_output = $2, status = CASE WHEN $3::text IS NULL THEN 'ok' ELSE 'error' END, finished_at = now()
            WHERE id = $1 RETURNING ${columns}`,
          [String(input.traceId), input.output ?? null, input.error ?? null],
        );
        return rows[0] ?? ({ kind: "NotFoundError", message: "no such trace" } satisfies Failure);
      },
    }),
  }),
});

const yoga = createYoga({ schema: builder.toSchema(), graphiql: false, logging: false });
const server = createServer((req, res) => {
  if (req.url === "/healthz") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  void yoga(req, res);
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
const stop = () => {
  server.close(() => void db.close().finally(() => process.exit(0)));
  server.closeAllConnections(); // the load generator's keep-alive sockets would hold close() open
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
