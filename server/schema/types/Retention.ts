// Trace retention in the API: what the pruner did (Query.retention), and what one of its batches
// removed from a chat (ChatEvent.prune, on traces_pruned events).
import type { TracePrune } from "../../db/generated/prisma/client.js";
import { getPrisma } from "../../db/client.js";
import type { RetentionReport, RetentionTotals } from "../../services/retention.js";
import { builder } from "../builder.js";
import { ChatEventRef } from "./ChatEvent.js";

type RetentionRunFigures = NonNullable<RetentionReport["lastRun"]>;

const RetentionRunRef = builder.objectRef<RetentionRunFigures>("RetentionRun").implement({
  description: "One run of the pruner over every chat with something due.",
  fields: (t) => ({
    cutoff: t.expose("cutoff", { type: "DateTime", description: "Traces started and events committed before this were due" }),
    traces: t.exposeInt("traces"),
    steps: t.exposeInt("steps", { description: "Model steps whose traces were all gone" }),
    events: t.exposeInt("events"),
    chats: t.exposeInt("chats", { description: "Chats idle for longer than the limit, deleted whole" }),
    batches: t.exposeInt("batches", { description: "Short transactions that removed something" }),
    durationMs: t.exposeInt("durationMs"),
  }),
});

const RetentionTotalsRef = builder.objectRef<RetentionTotals>("RetentionTotals").implement({
  description: "Everything the pruner removed, every run of every process added up.",
  fields: (t) => ({
    traces: t.expose("traces", { type: "BigInt" }),
    steps: t.expose("steps", { type: "BigInt" }),
    events: t.expose("events", { type: "BigInt" }),
    chats: t.expose("chats", { type: "BigInt" }),
    runs: t.exposeInt("runs"),
  }),
});

const RetentionRef = builder.objectRef<RetentionReport>("Retention").implement({
  description: "Trace retention (TRACE_RETENTION_DAYS): traces and events older than `days` are deleted in small batches.",
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled", { description: "False (the default): nothing is ever deleted" }),
    days: t.exposeFloat("days", { nullable: true }),
    intervalSeconds: t.exposeFloat("intervalSeconds", { description: "How often the pruner runs" }),
    batchSize: t.exposeInt("batchSize", { description: "Rows per transaction" }),
    lastRunAt: t.expose("lastRunAt", { type: "DateTime", nullable: true, description: "When the latest run ended, in any process" }),
    lastRun: t.field({ type: RetentionRunRef, nullable: true, resolve: (r) => r.lastRun }),
    totals: t.field({ type: RetentionTotalsRef, resolve: (r) => r.totals }),
  }),
});

builder.queryField("retention", (t) =>
  t.field({
    type: RetentionRef,
    description: "What trace retention removed: the latest run and the totals.",
    resolve: (_root, _args, ctx) => ctx.services.retention.report(),
  }),
);

const TracePruneRef = builder.objectRef<TracePrune>("TracePrune").implement({
  description: "What one retention batch removed from the chat: drop traces started before `cutoff` (running ones are kept).",
  fields: (t) => ({
    cutoff: t.expose("cutoff", { type: "DateTime" }),
    traces: t.exposeInt("traces"),
    steps: t.exposeInt("steps"),
    events: t.exposeInt("events"),
    prunedThroughSeq: t.exposeInt("prunedThroughSeq", { description: "The chat's events up to this seq are gone: older cursors are CURSOR_EXPIRED" }),
  }),
});

builder.objectField(ChatEventRef, "prune", (t) =>
  t.field({
    type: TracePruneRef,
    nullable: true,
    description: "What retention removed (traces_pruned); null once that record aged out too",
    resolve: (e) => (e.kind === "traces_pruned" ? getPrisma().tracePrune.findUnique({ where: { id: e.subjectId } }) : null),
  }),
);
