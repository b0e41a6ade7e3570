import { GraphQLError } from "graphql";
import { getPrisma } from "../../db/client.js";
import { chatEventStream, type StreamEvent, type StreamOpening } from "../../events/chat-stream.js";
import { builder } from "../builder.js";
import type { GraphQLContext } from "../context.js";
import { CursorExpiredError, eventSeqOf } from "../event-cursor.js";
import { parseId } from "../ids.js";
import { ChatStreamMessageRef } from "../types/ChatEvent.js";
import { CursorError } from "../cursors.js";

/** The chat a subscription names; a missing chat or a bad id is refused before the stream opens. */
export async function subscribedChat(id: string | number): Promise<{ id: string; eventSeq: number; prunedThroughSeq: number }> {
  let chatId: string;
  try {
    chatId = parseId(String(id), "Chat", ["chatId"]);
  } catch {
    throw new GraphQLError("chatId must be a Chat's global id or UUID", { extensions: { code: "BAD_USER_INPUT" } });
  }
  const chat = await getPrisma().chat.findUnique({ where: { id: chatId }, select: { id: true, eventSeq: true, prunedThroughSeq: true } });
  if (!chat) throw new GraphQLError(`Chat ${chatId} was not found`, { extensions: { code: "NOT_FOUND" } });
  return chat;
}

function afterSeq(ctx: GraphQLContext, chat: { id: string; eventSeq: number; prunedThroughSeq: number }, after: string | null | undefined): number | undefined {
  if (!after) return undefined;
  const seq = eventSeqOf(ctx, chat.id, after);
  if (seq > chat.eventSeq) throw new CursorError("The cursor is ahead of the chat's latest event");
  // Resuming after `seq` needs seq + 1 onwards: retention removed events up to prunedThroughSeq.
  if (seq < chat.prunedThroughSeq) throw new CursorExpiredError(chat.prunedThroughSeq);
  return seq;
}

type StreamItem = StreamOpening | StreamEvent;

/**
 * The stream, ended with CURSOR_EXPIRED if it would skip a seq. chatEventStream sends every seq in
 * order, so a jump means retention removed events between the check above and the replay: the
 * client is told, never left with a silent gap.
 */
export function expiryChecked(stream: AsyncGenerator<StreamItem>, after: number | undefined): AsyncIterableIterator<StreamItem> {
  let last = after;
  const iterator: AsyncIterableIterator<StreamItem> = {
    async next() {
      const item = await stream.next();
      if (item.done) return item;
      if (item.value.type === "opening") last ??= item.value.seq;
      else if (item.value.event.kind !== "chat_deleted") {
        const { seq } = item.value.event;
        if (last !== undefined && seq > last + 1) {
          await stream.return(undefined);
          throw new CursorExpiredError(seq - 1);
        }
        last = seq;
      }
      return item;
    },
    // Straight to the stream: its return() ends a pending next() too (a wrapping generator's would wait).
    return: (value?: unknown) => stream.return(value),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

builder.subscriptionField("chatEvents", (t) =>
  t.field({
    type: ChatStreamMessageRef,
    description:
      "The resume stream: first a ChatStreamOpening with the current snapshot and its cursor, then every event after `after` (or after the opening), then live events; no gap and no duplicate. Ends after chat_deleted.",
    args: {
      chatId: t.arg.id({ required: true }),
      after: t.arg.string({ required: false, description: "A cursor from Chat.eventCursor or a previous event; one older than the chat's oldest kept event (retention) is CURSOR_EXPIRED: subscribe again without it" }),
    },
    subscribe: async (_root, args, ctx) => {
      const chat = await subscribedChat(args.chatId);
      const after = afterSeq(ctx, chat, args.after);
      return expiryChecked(chatEventStream(getPrisma(), ctx.router, { chatId: chat.id, after, opening: true, idleCheckMs: ctx.limits.streamIdleCheckMs }), after);
    },
    resolve: (item) => (item.type === "opening" ? item : item.event),
  }),
);
