import type { ChatEventKind } from "../db/generated/prisma/enums.js";

/**
 * Every event Tracedeck publishes, by topic, and its payload. Payloads stay small (ids, seq, kind):
 * they cross Redis as JSON, and subscribers read the rows from the database.
 */
export interface ChatEventMessage {
  chatId: string;
  /** The chat's event counter at this event: the resume cursor. */
  seq: number;
  kind: ChatEventKind;
  /** The id of what changed: a trace, a snapshot revision or the chat. */
  subjectId: string;
}

export const CHAT_EVENTS = "chat-events" as const;

/**
 * One topic for every chat: with Redis, each process subscribes to its channel once at boot and
 * routes by chat inside the process (a per-chat channel could not be subscribed ahead of time).
 */
export type Topics = {
  [CHAT_EVENTS]: [ChatEventMessage];
};
