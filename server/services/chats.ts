import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Chat } from "../db/generated/prisma/client.js";
import { NotFoundError } from "../errors.js";
import { publishChatEvents } from "../events/pubsub.js";
import type { ServiceDeps } from "./deps.js";
import { type Tx, writeChats } from "./chat-writes.js";
import type { ChatEventMessage } from "../events/topics.js";
import { optional, parseInput, uuid, storableText } from "./validation.js";

const title = z.string().trim().min(1, "must not be empty").max(500, "must be at most 500 characters").transform(storableText);

const createChatInput = z.object({
  title: optional(title),
  workspace: optional(z.string().min(1).max(4096).transform(storableText)),
});
export type CreateChatInput = z.input<typeof createChatInput>;

const renameChatInput = z.object({ id: uuid, title });
export type RenameChatInput = z.input<typeof renameChatInput>;

/**
 * Inserts a chat and its first event (seq 1) in the caller's transaction; the caller publishes
 * createdEvent(chat) after the commit. Input already parsed (createChatInput).
 */
export async function insertChat(tx: Tx, data: { title?: string; workspace?: string }): Promise<Chat> {
  const id = randomUUID();
  const created = await tx.chat.create({
    data: { id, title: data.title ?? "Untitled chat", workspace: data.workspace ?? null, currentSessionId: randomUUID(), eventSeq: 1 },
  });
  await tx.chatEvent.create({ data: { chatId: id, seq: 1, kind: "chat_created", subjectId: id, createdAt: created.createdAt } });
  return created;
}

export const createdEvent = (chat: Chat): ChatEventMessage => ({ chatId: chat.id, seq: 1, kind: "chat_created", subjectId: chat.id, at: chat.createdAt.toISOString() });

/** A chat's input checked as create() checks it: for services that create chats of their own. */
export const parseCreateChatInput = (input: CreateChatInput) => parseInput(createChatInput, input);

export function createChatService(deps: ServiceDeps) {
  const { prisma } = deps;

  async function get(id: string): Promise<Chat> {
    const parsed = parseInput(z.object({ id: uuid }), { id });
    const chat = await prisma.chat.findUnique({ where: { id: parsed.id } });
    if (!chat) throw new NotFoundError("Chat", id);
    return chat;
  }

  return {
    get,

    async create(input: CreateChatInput = {}): Promise<Chat> {
      const data = parseInput(createChatInput, input);
      const chat = await prisma.$transaction((tx) => insertChat(tx, data));
      publishChatEvents(deps.bus, [createdEvent(chat)]);
      return chat;
    },

    async rename(input: RenameChatInput): Promise<Chat> {
      const data = parseInput(renameChatInput, input);
      return writeChats(deps, [data.id], async ({ tx, events }) => {
        const chat = await tx.chat.update({ where: { id: data.id }, data: { title: data.title } });
        events.add(data.id, "chat_updated", data.id);
        return chat;
      });
    },

    /**
     * Deletes the chat with its traces, steps, events and snapshots. The chat_deleted event is
     * published (with the next seq) but not stored: the log goes with the chat.
     */
    async delete(chatId: string): Promise<{ id: string; seq: number }> {
      const { id } = parseInput(z.object({ id: uuid }), { id: chatId });
      const deleted = await writeChats(deps, [id], async ({ tx, chats }) => {
        // The head points at a revision with ON DELETE RESTRICT: remove it before the cascade.
        await tx.agentSnapshot.deleteMany({ where: { chatId: id } });
        await tx.chat.delete({ where: { id } });
        return { id, seq: chats.get(id)!.eventSeq + 1 };
      });
      publishChatEvents(deps.bus, [{ chatId: id, seq: deleted.seq, kind: "chat_deleted", subjectId: id, at: new Date().toISOString() }]);
      return deleted;
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;
