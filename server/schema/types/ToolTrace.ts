import { queryFromInfo } from "@pothos/plugin-prisma";
import { getPrisma } from "../../db/client.js";
import type { Prisma, ToolTrace } from "../../db/generated/prisma/client.js";
import { TraceStatus } from "../../db/generated/prisma/enums.js";
import { type TokenCounts, tokensUsed } from "../../services/tokens.js";
import { storableText } from "../../services/validation.js";
import { builder } from "../builder.js";
import { keysetConnection, seekBeyond } from "../keyset.js";

export const TraceStatusEnum = builder.enumType("TraceStatus", {
  description: "running until finished; ok or error by the finish; timeout or cancelled when the caller says so; abandoned by the sweep",
  values: Object.values(TraceStatus),
});

export const TokenCountsRef = builder.objectRef<TokenCounts>("TokenCounts").implement({
  description: "Input excludes cache reads and writes; output includes reasoning.",
  fields: (t) => ({
    input: t.exposeInt("input"),
    output: t.exposeInt("output"),
    cacheRead: t.exposeInt("cacheRead"),
    cacheWrite: t.exposeInt("cacheWrite"),
    reasoning: t.exposeInt("reasoning"),
  }),
});

const tokensOf = (trace: ToolTrace): TokenCounts => ({
  input: trace.inputTokens,
  output: trace.outputTokens,
  cacheRead: trace.cacheReadTokens,
  cacheWrite: trace.cacheWriteTokens,
  reasoning: trace.reasoningTokens,
});

export const ToolTraceRef = builder.prismaNode("ToolTrace", {
  id: { field: "id" },
  nullable: true,
  description: "One tool call of an agent: what it was asked, what it answered, how long it took and what it cost.",
  fields: (t) => ({
    uuid: t.exposeString("id"),
    chat: t.relation("chat"),
    sessionId: t.exposeString("sessionId"),
    agentId: t.exposeString("agentId", { nullable: true, description: "The subagent that made the call (Claude Code's agent_id); null for the main agent" }),
    agentType: t.exposeString("agentType", { nullable: true, description: "The subagent's type, e.g. Explore" }),
    messageId: t.exposeString("messageId", { nullable: true, description: "The assistant message that issued the call" }),
    toolCallId: t.exposeString("toolCallId", { nullable: true, description: "The provider's call id, unique per chat" }),
    turnNumber: t.exposeInt("turnNumber"),
    toolName: t.exposeString("toolName"),
    toolInput: t.expose("toolInput", { type: "JSON" }),
    toolOutput: t.exposeString("toolOutput", { nullable: true, description: "Truncated with a visible marker above the output cap" }),
    outputBytes: t.exposeInt("outputBytes", { nullable: true, description: "UTF-8 size of the output before truncation" }),
    outputTruncated: t.boolean({
      resolve: (trace) => trace.outputBytes !== null && trace.toolOutput !== null && Buffer.byteLength(trace.toolOutput) < trace.outputBytes,
    }),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    latencyMs: t.exposeInt("latencyMs", { nullable: true }),
    durationMs: t.int({
      description: "latencyMs once finished; while running, the time since it started (saturated at 2^31 - 1, as latencyMs is)",
      // An Int: a trace started more than 24.8 days ago (a client may give any startedAt) would
      // otherwise fail the whole response, even the mutation that just stored it.
      resolve: (trace) => trace.latencyMs ?? Math.min(2_147_483_647, Math.max(0, Date.now() - trace.startedAt.getTime())),
    }),
    status: t.expose("status", { type: TraceStatusEnum }),
    error: t.exposeString("error", { nullable: true }),
    outcome: t.exposeString("outcome", { nullable: true }),
    tokens: t.field({ type: TokenCountsRef, resolve: tokensOf }),
    // BigInt: each count may be up to 2^31 - 1, so their sum may not fit an Int.
    tokensUsed: t.field({ type: "BigInt", description: "input + cacheRead + cacheWrite + output", resolve: (trace) => tokensUsed(tokensOf(trace)) }),
    cacheTokens: t.field({ type: "BigInt", description: "cacheRead + cacheWrite", resolve: (trace) => trace.cacheReadTokens + trace.cacheWriteTokens }),
    reasoningTokens: t.exposeInt("reasoningTokens"),
    scrubbedCount: t.exposeInt("scrubbedCount", {
      description: "Secrets (API keys, tokens, private keys, URL passwords) replaced by [redacted] in the input, output and error before they were stored; 0 with SCRUB_SECRETS=false",
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

export const TraceFilter = builder.inputType("TraceFilter", {
  fields: (t) => ({
    toolNames: t.stringList({ required: false }),
    statuses: t.field({ type: [TraceStatusEnum], required: false }),
    turnFrom: t.int({ required: false, description: "Lowest turn, inclusive" }),
    turnTo: t.int({ required: false, description: "Highest turn, inclusive" }),
    minLatencyMs: t.int({ required: false }),
    startedFrom: t.field({ type: "DateTime", required: false, description: "Inclusive" }),
    startedBefore: t.field({ type: "DateTime", required: false, description: "Exclusive" }),
  }),
});

export type TraceFilterInput = typeof TraceFilter.$inferInput;
type Filter = TraceFilterInput;

/** Tool names as stored (NUL and lone surrogates replaced), so a filter matches what was written. */
export const toolNamesOf = (filter: Filter | null | undefined) => (filter?.toolNames?.length ? filter.toolNames.map(storableText) : null);

export function whereOf(chatId: string, filter: Filter | null | undefined): Prisma.ToolTraceWhereInput {
  const where: Prisma.ToolTraceWhereInput = { chatId };
  if (!filter) return where;
  const toolNames = toolNamesOf(filter);
  if (toolNames) where.toolName = { in: toolNames };
  if (filter.statuses?.length) where.status = { in: filter.statuses };
  if (filter.turnFrom != null || filter.turnTo != null) where.turnNumber = { gte: filter.turnFrom ?? undefined, lte: filter.turnTo ?? undefined };
  if (filter.minLatencyMs != null) where.latencyMs = { gte: filter.minLatencyMs };
  if (filter.startedFrom || filter.startedBefore) where.startedAt = { gte: filter.startedFrom ?? undefined, lt: filter.startedBefore ?? undefined };
  return where;
}

/** The canonical form of a filter, for the cursor's scope: equal filters give equal scopes. */
export function filterKey(filter: Filter | null | undefined) {
  return {
    toolNames: toolNamesOf(filter)?.sort() ?? null,
    statuses: filter?.statuses?.length ? [...filter.statuses].sort() : null,
    turnFrom: filter?.turnFrom ?? null,
    turnTo: filter?.turnTo ?? null,
    minLatencyMs: filter?.minLatencyMs ?? null,
    startedFrom: filter?.startedFrom?.toISOString() ?? null,
    startedBefore: filter?.startedBefore?.toISOString() ?? null,
  };
}

/** The scope of Chat.traces cursors: Chat.tracePageCursors issues cursors of the same list. */
export const tracesScope = (chatId: string, filter: Filter | null | undefined) => ({
  list: "traces",
  parentId: chatId,
  filter: filterKey(filter),
  order: "startedAt asc, id asc",
});

builder.prismaObjectField("Chat", "traces", (t) =>
  t.connection(
    {
      type: ToolTraceRef,
      description: "The chat's traces in start order, by (startedAt, id); pages both ways.",
      args: { filter: t.arg({ type: TraceFilter, required: false }) },
      resolve: async (chat, args, ctx, info) => {
        const base = whereOf(chat.id, args.filter);
        // What the page's nodes select (their chat, say), loaded with the page: without it each
        // t.relation falls back to reading the page's traces again by id.
        const query = queryFromInfo({ context: ctx, info, path: ["edges", "node"] });
        const connection = await keysetConnection<ToolTrace, Prisma.ToolTraceWhereInput>(ctx, args, {
          scope: tracesScope(chat.id, args.filter),
          positionOf: (trace) => [trace.startedAt.getTime(), trace.id],
          // A seek on the (chat_id, started_at, id) index.
          beyond: (position, direction) => seekBeyond("startedAt", position, direction === "after") as Prisma.ToolTraceWhereInput,
          fetch: ({ where, reversed, take }) =>
            getPrisma().toolTrace.findMany({
              ...query,
              where: { AND: [base, ...where] },
              orderBy: reversed ? [{ startedAt: "desc" }, { id: "desc" }] : [{ startedAt: "asc" }, { id: "asc" }],
              take,
            }),
        });
        // Unfiltered, the count is the chat's counter, kept on write: no scan of a large chat.
        const unfiltered = Object.keys(base).length === 1;
        return { ...connection, where: base, counted: unfiltered ? chat.traceCount : undefined };
      },
    },
    {
      name: "ChatTracesConnection",
      fields: (c) => ({
        totalCount: c.int({
          description: "Traces matching the filter, on every page",
          // A count query; the connection's page size multiplies it, which prices it like a page.
          complexity: 1,
          resolve: (connection) => {
            const { where, counted } = connection as unknown as { where: Prisma.ToolTraceWhereInput; counted?: number };
            return counted ?? getPrisma().toolTrace.count({ where });
          },
        }),
      }),
    },
  ),
);
