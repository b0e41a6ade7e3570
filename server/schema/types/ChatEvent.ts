import { ChatEventKind } from "../../db/generated/prisma/enums.js";
import type { StreamOpening } from "../../events/chat-stream.js";
import type { ChatEventMessage } from "../../events/topics.js";
import { builder } from "../builder.js";
import { eventCursor } from "../event-cursor.js";
import { liveRows } from "../live-rows.js";
import { ChatRef } from "./Chat.js";
import { SnapshotRevisionRef } from "./SnapshotRevision.js";
import { ToolTraceRef } from "./ToolTrace.js";
import { AgentMessageRef, AgentTurnRef } from "./AgentTurn.js";

export const ChatEventKindEnum = builder.enumType("ChatEventKind", { values: Object.values(ChatEventKind) });

const TRACE_KINDS = new Set<string>(["trace_started", "trace_finished"]);
const SNAPSHOT_KINDS = new Set<string>(["snapshot_saved", "snapshot_restored", "snapshot_deleted"]);
const TURN_KINDS = new Set<string>(["turn_started", "turn_finished"]);
const MESSAGE_KINDS = new Set<string>(["assistant_message", "agent_error"]);

/**
 * A committed change of a chat, with the current row it concerns. Clients upsert rows by id. The rows
 * are read once per event for every subscriber of this process (live-rows.ts): each frame shows the
 * row as it stood after its event, or later.
 */
export const ChatEventRef = builder.objectRef<ChatEventMessage>("ChatEvent").implement({
  fields: (t) => ({
    cursor: t.string({ description: "Resume after this event with chatEvents(after: cursor)", resolve: (e, _a, ctx) => eventCursor(ctx, e.chatId, e.seq) }),
    seq: t.exposeInt("seq", { description: "The chat's event number: contiguous from 1" }),
    kind: t.field({ type: ChatEventKindEnum, resolve: (e) => e.kind }),
    at: t.field({ type: "DateTime", resolve: (e) => new Date(e.at) }),
    chatId: t.exposeString("chatId"),
    subjectId: t.exposeString("subjectId", { description: "The UUID of the trace, revision, agent turn, agent message or chat that changed; for traces_pruned, of the prune (see `prune`)" }),
    trace: t.field({
      type: ToolTraceRef,
      nullable: true,
      description: "The trace as it stands now (trace_started, trace_finished)",
      resolve: (e) => (TRACE_KINDS.has(e.kind) ? liveRows().load("trace", e.subjectId, e.chatId, e.seq) : null),
    }),
    revision: t.field({
      type: SnapshotRevisionRef,
      nullable: true,
      description: "The revision as it stands now; null once deleted",
      resolve: (e) => (SNAPSHOT_KINDS.has(e.kind) ? liveRows().load("revision", e.subjectId, e.chatId, e.seq) : null),
    }),
    turn: t.field({
      type: AgentTurnRef,
      nullable: true,
      description: "The agent's turn as it stands now (turn_started, turn_finished)",
      resolve: (e) => (TURN_KINDS.has(e.kind) ? liveRows().load("turn", e.subjectId, e.chatId, e.seq) : null),
    }),
    message: t.field({
      type: AgentMessageRef,
      nullable: true,
      description: "What the agent said, or the error (assistant_message, agent_error)",
      resolve: (e) => (MESSAGE_KINDS.has(e.kind) ? liveRows().load("message", e.subjectId, e.chatId, e.seq) : null),
    }),
    chat: t.field({
      type: ChatRef,
      nullable: true,
      description: "The chat as it stands now; null once deleted",
      resolve: (e) => liveRows().load("chat", e.chatId, e.chatId, e.seq),
    }),
  }),
});

export const ChatStreamOpeningRef = builder.objectRef<StreamOpening>("ChatStreamOpening").implement({
  description: "The first message of chatEvents: the current snapshot and the cursor it was read at.",
  fields: (t) => ({
    cursor: t.string({ resolve: (o, _a, ctx) => eventCursor(ctx, o.chatId, o.seq) }),
    seq: t.exposeInt("seq"),
    // Shared by the openings read at the same seq: a read after it sees the chat as of the opening or later.
    chat: t.field({ type: ChatRef, nullable: true, resolve: (o) => liveRows().load("chat", o.chatId, o.chatId, o.seq) }),
    snapshot: t.field({
      type: SnapshotRevisionRef,
      nullable: true,
      resolve: (o) => (o.snapshotRevisionId ? liveRows().load("revision", o.snapshotRevisionId, o.chatId, o.seq) : null),
    }),
  }),
});

export const ChatStreamMessageRef = builder.unionType("ChatStreamMessage", {
  types: [ChatStreamOpeningRef, ChatEventRef],
  resolveType: (value) => ("type" in value && value.type === "opening" ? ChatStreamOpeningRef : ChatEventRef),
});
