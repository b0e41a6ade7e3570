import { GraphQLError } from "graphql";
import { getPrisma } from "../../db/client.js";
import type { AgentSnapshotRevision } from "../../db/generated/prisma/client.js";
import { builder } from "../builder.js";
import { encodeCursor } from "../cursors.js";
import { traceFilterSql } from "../trace-filter-sql.js";
import { type TokenTotals, TokenTotalsRef } from "./ChatStats.js";
import { SnapshotRevisionRef } from "./SnapshotRevision.js";
import { TraceFilter, tracesScope } from "./ToolTrace.js";

interface ChatTurn {
  turn: number;
  traceCount: number;
  errorCount: number;
  runningCount: number;
  startedAt: Date | null;
  endedAt: Date | null;
  firstIndex: number;
  tokens: TokenTotals;
  revision: AgentSnapshotRevision | null;
}

const ChatTurnRef = builder.objectRef<ChatTurn>("ChatTurn").implement({
  description: "One turn of a chat: its traces' totals (under the filter given to Chat.turns) and the snapshot saved at its end.",
  fields: (t) => ({
    turn: t.exposeInt("turn"),
    traceCount: t.exposeInt("traceCount"),
    errorCount: t.exposeInt("errorCount", { description: "Traces finished with status error or timeout" }),
    runningCount: t.exposeInt("runningCount"),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true, description: "The first trace's start" }),
    endedAt: t.expose("endedAt", { type: "DateTime", nullable: true, description: "The last start or finish among its traces" }),
    firstIndex: t.exposeInt("firstIndex", {
      description: "How many of the chat's traces (under the same filter) start before this turn's first one: its row in Chat.traces",
    }),
    tokens: t.field({ type: TokenTotalsRef, description: "Each model step of the turn counted once", resolve: (turn) => turn.tokens }),
    revision: t.field({ type: SnapshotRevisionRef, nullable: true, description: "The snapshot saved at the end of the turn", resolve: (turn) => turn.revision }),
  }),
});

const MAX_TURNS = 5000;
const MIN_CURSOR_PAGE = 20;

interface TurnRow extends Omit<ChatTurn, "tokens" | "revision"> {
  input: bigint;
  output: bigint;
  cacheRead: bigint;
  cacheWrite: bigint;
  reasoning: bigint;
}

builder.prismaObjectFields("Chat", (t) => ({
  turns: t.field({
    type: [ChatTurnRef],
    description: `The chat's turns in order, with per-turn totals, from turn \`after\` on; at most \`first\` (default and limit ${MAX_TURNS}). A turn appears when it has traces under the filter or a saved revision.`,
    args: {
      filter: t.arg({ type: TraceFilter, required: false }),
      after: t.arg.int({ required: false, description: "Only turns above this one" }),
      first: t.arg.int({ required: false }),
    },
    // Aggregates over the chat's traces and steps: priced like an aggregate, then per turn returned.
    complexity: (args) => ({ field: 20, multiplier: Math.min(Math.max(args.first ?? MAX_TURNS, 0), MAX_TURNS) / 50 }),
    resolve: async (chat, args) => {
      const first = args.first ?? MAX_TURNS;
      if (first < 0 || first > MAX_TURNS) throw new GraphQLError(`first must be from 0 to ${MAX_TURNS}`, { extensions: { code: "PAGE_SIZE_INVALID" } });
      const after = args.after ?? 0;
      const where = traceFilterSql(chat.id, args.filter);
      const rows = await getPrisma().$queryRaw<TurnRow[]>`
        WITH t AS (
          SELECT turn_number, status::text AS status, started_at, finished_at,
                 coalesce(message_id, 'trace:' || id::text) AS step_key,
                 row_number() OVER (ORDER BY started_at, id) - 1 AS idx
            FROM tool_traces WHERE ${where}
        ), per_turn AS (
          SELECT turn_number AS turn, count(*)::int AS "traceCount",
                 (count(*) FILTER (WHERE status IN ('error', 'timeout')))::int AS "errorCount",
                 (count(*) FILTER (WHERE status = 'running'))::int AS "runningCount",
                 min(started_at) AS "startedAt", max(greatest(started_at, finished_at)) AS "endedAt",
                 min(idx)::int AS "firstIndex"
            FROM t GROUP BY turn_number
        ), tokens AS (
          SELECT s.turn_number AS turn,
                 sum(m.input_tokens)::bigint AS input, sum(m.output_tokens)::bigint AS output,
                 sum(m.cache_read_tokens)::bigint AS "cacheRead", sum(m.cache_write_tokens)::bigint AS "cacheWrite",
                 sum(m.reasoning_tokens)::bigint AS reasoning
            FROM (SELECT DISTINCT turn_number, step_key FROM t) s
            JOIN model_steps m ON m.chat_id = ${chat.id}::uuid AND m.step_key = s.step_key
           GROUP BY s.turn_number
        ), turns AS (
          SELECT turn FROM per_turn
           UNION
          SELECT turn FROM agent_snapshot_revisions WHERE chat_id = ${chat.id}::uuid
        )
        SELECT turns.turn,
               coalesce(p."traceCount", 0) AS "traceCount", coalesce(p."errorCount", 0) AS "errorCount",
               coalesce(p."runningCount", 0) AS "runningCount", p."startedAt", p."endedAt",
               coalesce(p."firstIndex", (SELECT count(*)::int FROM t WHERE t.turn_number < turns.turn)) AS "firstIndex",
               coalesce(k.input, 0) AS input, coalesce(k.output, 0) AS output, coalesce(k."cacheRead", 0) AS "cacheRead",
               coalesce(k."cacheWrite", 0) AS "cacheWrite", coalesce(k.reasoning, 0) AS reasoning
          FROM turns LEFT JOIN per_turn p ON p.turn = turns.turn LEFT JOIN tokens k ON k.turn = turns.turn
         WHERE turns.turn > ${after}
         ORDER BY turns.turn
         LIMIT ${first}`;
      const revisions = await getPrisma().agentSnapshotRevision.findMany({ where: { chatId: chat.id, turn: { in: rows.map((r) => r.turn) } } });
      const byTurn = new Map(revisions.map((r) => [r.turn, r]));
      return rows.map(({ input, output, cacheRead, cacheWrite, reasoning, ...row }) => ({
        ...row,
        tokens: { input, output, cacheRead, cacheWrite, reasoning },
        revision: byTurn.get(row.turn) ?? null,
      }));
    },
  }),

  tracePageCursors: t.field({
    type: ["String"],
    description:
      "Random access into Chat.traces (same filter): element k is the cursor after which the page starting at row (k + 1) × pageSize begins, so traces(first: pageSize, after: cursors[k]) is page k + 1 (page 0 needs no cursor). One indexed scan of the chat's traces.",
    args: {
      pageSize: t.arg.int({ required: true, description: `From ${MIN_CURSOR_PAGE} to the largest page` }),
      filter: t.arg({ type: TraceFilter, required: false }),
    },
    // One scan of the chat's traces; the smallest page bounds the answer to a cursor per 20 traces.
    complexity: 20,
    resolve: async (chat, args, ctx) => {
      if (args.pageSize < MIN_CURSOR_PAGE || args.pageSize > ctx.limits.maxPageSize) {
        throw new GraphQLError(`pageSize must be from ${MIN_CURSOR_PAGE} to ${ctx.limits.maxPageSize}`, { extensions: { code: "PAGE_SIZE_INVALID" } });
      }
      // Every pageSize-th row but the last row: a page after it would be empty.
      const rows = await getPrisma().$queryRaw<{ startedAt: Date; id: string }[]>`
        SELECT "startedAt", id FROM (
          SELECT started_at AS "startedAt", id::text AS id, row_number() OVER (ORDER BY started_at, id) AS n, count(*) OVER () AS total
            FROM tool_traces WHERE ${traceFilterSql(chat.id, args.filter)}
        ) numbered
         WHERE n % ${args.pageSize} = 0 AND n < total
         ORDER BY n`;
      const scope = tracesScope(chat.id, args.filter);
      return rows.map((row) => encodeCursor(ctx.limits.cursorSecret, scope, [row.startedAt.getTime(), row.id]));
    },
  }),
}));
