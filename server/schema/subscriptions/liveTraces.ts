import type { ToolTrace } from "../../db/generated/prisma/client.js";
import type { ChatEventKind } from "../../db/generated/prisma/enums.js";
import { getPrisma } from "../../db/client.js";
import { chatEventStream, type StreamEvent, type StreamOpening } from "../../events/chat-stream.js";
import { builder } from "../builder.js";
import type { GraphQLContext } from "../context.js";
import { liveRows, type LiveModel } from "../live-rows.js";
import { SnapshotRevisionRef } from "../types/SnapshotRevision.js";
import { ToolTraceRef } from "../types/ToolTrace.js";
import { subscribedChat } from "./chatEvents.js";

/** Live-only: one kind of a chat's events from now on, with the same continuity check as chatEvents. */
async function liveKinds(chatId: string | number, ctx: GraphQLContext, kinds: ChatEventKind[]) {
  const chat = await subscribedChat(chatId);
  return chatEventStream(getPrisma(), ctx.router, { chatId: chat.id, opening: false, kinds, idleCheckMs: ctx.limits.streamIdleCheckMs });
}

/** The event's subject, read once per event for every subscriber of this process (see live-rows.ts). */
const subjectOf = <M extends LiveModel>(model: M, item: StreamOpening | StreamEvent) => {
  const { event } = item as StreamEvent;
  return liveRows().load(model, event.subjectId, event.chatId, event.seq);
};

/**
 * The trace as it stood after its start: the frame is resolved later than the event, when the trace
 * may already be finished (recordToolTraces commits both events at once), so the columns only a
 * finish sets are shown as a start leaves them.
 */
function asStarted(trace: ToolTrace | null): ToolTrace | null {
  // A copy: the row is shared with every other subscriber of the event.
  if (!trace) return null;
  return {
    ...trace,
    status: "running",
    finishedAt: null,
    latencyMs: null,
    toolOutput: null,
    outputBytes: null,
    outputHash: null,
    error: null,
    outcome: null,
    finishHash: null,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

builder.subscriptionFields((t) => ({
  toolTraceStarted: t.field({
    type: ToolTraceRef,
    nullable: true,
    description: "Each trace of the chat as it starts (the trace row after its start); null if it was deleted meanwhile.",
    args: { chatId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => liveKinds(args.chatId, ctx, ["trace_started"]),
    resolve: async (item) => asStarted(await subjectOf("trace", item)),
  }),
  toolTraceFinished: t.field({
    type: ToolTraceRef,
    nullable: true,
    description: "Each trace of the chat as it finishes, abandoned ones included.",
    args: { chatId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => liveKinds(args.chatId, ctx, ["trace_finished"]),
    resolve: (item) => subjectOf("trace", item),
  }),
  snapshotSaved: t.field({
    type: SnapshotRevisionRef,
    nullable: true,
    description: "Each snapshot revision saved in the chat.",
    args: { chatId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => liveKinds(args.chatId, ctx, ["snapshot_saved"]),
    resolve: (item) => subjectOf("revision", item),
  }),
}));
