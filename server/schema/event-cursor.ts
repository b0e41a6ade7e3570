import { GraphQLError } from "graphql";
import type { GraphQLContext } from "./context.js";
import { type CursorScope, decodeCursor, encodeCursor } from "./cursors.js";

const scopeOf = (chatId: string): CursorScope => ({ list: "chatEvents", parentId: chatId, order: "seq" });

/** The cursor of a chat's event `seq`: what Chat.eventCursor gives and chatEvents(after:) takes. */
export function eventCursor(ctx: GraphQLContext, chatId: string, seq: number): string {
  return encodeCursor(ctx.limits.cursorSecret, scopeOf(chatId), [seq]);
}

/** The seq of a chatEvents cursor; decodeCursor checks it is one (a whole number, order "seq"). */
export function eventSeqOf(ctx: GraphQLContext, chatId: string, cursor: string): number {
  const [seq] = decodeCursor(ctx.limits.cursorSecret, scopeOf(chatId), cursor);
  return seq as number;
}

/**
 * A resume cursor older than the oldest event the chat keeps (retention removed the events after
 * it): resuming would skip them, so the client is told to reopen without `after` instead.
 */
export class CursorExpiredError extends GraphQLError {
  constructor(prunedThroughSeq: number) {
    super(
      `The cursor is older than the oldest event this chat keeps: retention removed its events up to seq ${prunedThroughSeq}. ` +
        "Subscribe again without `after` to start from the current snapshot.",
      { extensions: { code: "CURSOR_EXPIRED", prunedThroughSeq } },
    );
  }
}
