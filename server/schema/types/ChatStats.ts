import { getPrisma } from "../../db/client.js";
import { builder } from "../builder.js";

export interface TokenTotals {
  input: bigint;
  output: bigint;
  cacheRead: bigint;
  cacheWrite: bigint;
  reasoning: bigint;
}

interface ToolLatency {
  toolName: string;
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
}

interface ChatStats {
  chatId: string;
  /** The chat row's counters, kept on write by the triggers on tool_traces. */
  traceCount: number;
  errorCount: number;
  runningCount: number;
}

export const TokenTotalsRef = builder.objectRef<TokenTotals>("TokenTotals").implement({
  description: "Token totals of a chat, each model step counted once however many tools it called.",
  fields: (t) => ({
    input: t.expose("input", { type: "BigInt" }),
    output: t.expose("output", { type: "BigInt" }),
    cacheRead: t.expose("cacheRead", { type: "BigInt" }),
    cacheWrite: t.expose("cacheWrite", { type: "BigInt" }),
    reasoning: t.expose("reasoning", { type: "BigInt" }),
    tokensUsed: t.field({ type: "BigInt", resolve: (x) => x.input + x.cacheRead + x.cacheWrite + x.output }),
  }),
});

const ToolLatencyRef = builder.objectRef<ToolLatency>("ToolLatency").implement({
  description: "Latency of one tool's finished calls in the chat (abandoned ones, which never reported, left out).",
  fields: (t) => ({
    toolName: t.exposeString("toolName"),
    count: t.exposeInt("count"),
    p50Ms: t.exposeFloat("p50Ms", { nullable: true }),
    p95Ms: t.exposeFloat("p95Ms", { nullable: true }),
    maxMs: t.exposeInt("maxMs", { nullable: true }),
  }),
});

/** Each of these runs an aggregate over the chat's rows: priced like a page of 20. */
const AGGREGATE = 20;

const ChatStatsRef = builder.objectRef<ChatStats>("ChatStats").implement({
  fields: (t) => ({
    traceCount: t.exposeInt("traceCount"),
    errorCount: t.exposeInt("errorCount", { description: "Traces finished with status error or timeout" }),
    runningCount: t.exposeInt("runningCount"),
    tokens: t.field({
      type: TokenTotalsRef,
      complexity: AGGREGATE,
      // One grouped sum for all the chats of a page (loaders/chat-tokens.ts).
      resolve: ({ chatId }, _args, ctx) => ctx.loaders.chatTokens.load(chatId),
    }),
    latencyByTool: t.field({
      type: [ToolLatencyRef],
      complexity: { field: AGGREGATE, multiplier: 1 },
      resolve: ({ chatId }) =>
        getPrisma().$queryRaw<ToolLatency[]>`
          SELECT tool_name AS "toolName", count(*)::int AS "count",
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::float8 AS "p50Ms",
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::float8 AS "p95Ms",
                 max(latency_ms)::int AS "maxMs"
            FROM tool_traces
           WHERE chat_id = ${chatId}::uuid AND latency_ms IS NOT NULL AND status <> 'abandoned'
           GROUP BY tool_name ORDER BY tool_name`,
    }),
  }),
});

builder.prismaObjectField("Chat", "stats", (t) =>
  t.field({
    type: ChatStatsRef,
    select: { traceCount: true, errorCount: true, runningCount: true },
    resolve: (chat) => ({ chatId: chat.id, traceCount: chat.traceCount, errorCount: chat.errorCount, runningCount: chat.runningCount }),
  }),
);
