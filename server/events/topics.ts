import type { ChatEventKind } from "../db/generated/prisma/enums.js";

/**
 * Every message Tracedeck publishes, by topic, and its payload. Payloads stay small (ids, seq,
 * kind): they cross Redis as JSON, and subscribers read the rows from the database.
 */
export interface ChatEventMessage {
  chatId: string;
  /** The chat's event counter at this event: the resume cursor. */
  seq: number;
  kind: ChatEventKind;
  /** The id of what changed: a trace, a snapshot revision, the chat, or (traces_pruned) a trace_prunes row. */
  subjectId: string;
  /** Commit time, ISO 8601. */
  at: string;
}

/** Sent by a process to itself at boot to confirm its subscription to the channel is live. */
export interface ProbeMessage {
  probe: string;
}

export type ChatBusMessage = ChatEventMessage | ProbeMessage;

export const CHAT_EVENTS = "chat-events" as const;

/**
 * One topic for every chat: with Redis, each process subscribes to its channel once at boot and
 * routes by chat inside the process (a per-chat channel could not be subscribed ahead of time).
 */
export type Topics = {
  [CHAT_EVENTS]: [ChatBusMessage];
};

export function isProbe(message: ChatBusMessage): message is ProbeMessage {
  return "probe" in message;
}
