import type { ChatEventKind } from "../../db/generated/prisma/enums.js";
import { getPrisma } from "../../db/client.js";
import { chatEventStream, type StreamEvent, type StreamOpening } from "../../events/chat-stream.js";
import { builder } from "../builder.js";
import type { GraphQLContext } from "../context.js";
import { SnapshotRevisionRef } from "../types/SnapshotRevision.js";
import { ToolTraceRef } from "../types/ToolTrace.js";
import { subscribedChat } from "./chatEvents.js";

/** Live-only: one kind of a chat's events from now on, with the same continuity check as chatEvents. */
async function liveKinds(chatId: string | number, ctx: GraphQLContext, kinds: ChatEventKind[]) {
  const chat = await subscribedChat(chatId);
  return chatEventStream(getPrisma(), ctx.router, { chatId: chat.id, opening: false, kinds });
}

const subjectOf = (item: StreamOpening | StreamEvent) => (item as StreamEvent).event.subjectId;

builder.subscriptionFields((t) => ({
  toolTraceStarted: t.field({
    type: ToolTraceRef,
    nullable: true,
    description: "Each trace of the chat as it starts (the trace row after its start); null if it was deleted meanwhile.",
    args: { chatId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => liveKinds(args.chatId, ctx, ["trace_started"]),
    resolve: (item) => getPrisma().toolTrace.findUnique({ where: { id: subjectOf(item) } }),
  }),
  toolTraceFinished: t.field({
    type: ToolTraceRef,
    nullable: true,
    description: "Each trace of the chat as it finishes, abandoned ones included.",
    args: { chatId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => liveKinds(args.chatId, ctx, ["trace_finished"]),
    resolve: (item) => getPrisma().toolTrace.findUnique({ where: { id: subjectOf(item) } }),
  }),
  snapshotSaved: t.field({
    type: SnapshotRevisionRef,
    nullable: true,
    description: "Each snapshot revision saved in the chat.",
    args: { chatId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => liveKinds(args.chatId, ctx, ["snapshot_saved"]),
    resolve: (item) => getPrisma().agentSnapshotRevision.findUnique({ where: { id: subjectOf(item) } }),
  }),
}));
