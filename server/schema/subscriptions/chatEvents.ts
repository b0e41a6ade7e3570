import { GraphQLError } from "graphql";
import { getPrisma } from "../../db/client.js";
import { chatEventStream } from "../../events/chat-stream.js";
import { builder } from "../builder.js";
import type { GraphQLContext } from "../context.js";
import { eventSeqOf } from "../event-cursor.js";
import { parseId } from "../ids.js";
import { ChatStreamMessageRef } from "../types/ChatEvent.js";
import { CursorError } from "../cursors.js";

/** The chat a subscription names; a missing chat or a bad id is refused before the stream opens. */
export async function subscribedChat(id: string | number): Promise<{ id: string; eventSeq: number }> {
  let chatId: string;
  try {
    chatId = parseId(String(id), "Chat", ["chatId"]);
  } catch {
    throw new GraphQLError("chatId must be a Chat's global id or UUID", { extensions: { code: "BAD_USER_INPUT" } });
  }
  const chat = await getPrisma().chat.findUnique({ where: { id: chatId }, select: { id: true, eventSeq: true } });
  if (!chat) throw new GraphQLError(`Chat ${chatId} was not found`, { extensions: { code: "NOT_FOUND" } });
  return chat;
}

function afterSeq(ctx: GraphQLContext, chat: { id: string; eventSeq: number }, after: string | null | undefined): number | undefined {
  if (!after) return undefined;
  const seq = eventSeqOf(ctx, chat.id, after);
  if (seq > chat.eventSeq) throw new CursorError("The cursor is ahead of the chat's latest event");
  return seq;
}

builder.subscriptionField("chatEvents", (t) =>
  t.field({
    type: ChatStreamMessageRef,
    description:
      "The resume stream: first a ChatStreamOpening with the current snapshot and its cursor, then every event after `after` (or after the opening), then live events; no gap and no duplicate. Ends after chat_deleted.",
    args: {
      chatId: t.arg.id({ required: true }),
      after: t.arg.string({ required: false, description: "A cursor from Chat.eventCursor or a previous event" }),
    },
    subscribe: async (_root, args, ctx) => {
      const chat = await subscribedChat(args.chatId);
      const after = afterSeq(ctx, chat, args.after);
      return chatEventStream(getPrisma(), ctx.router, { chatId: chat.id, after, opening: true, idleCheckMs: ctx.limits.streamIdleCheckMs });
    },
    resolve: (item) => (item.type === "opening" ? item : item.event),
  }),
);
