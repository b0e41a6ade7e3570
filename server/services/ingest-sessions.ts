import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { IngestSession } from "../db/generated/prisma/client.js";
import { NotFoundError } from "../errors.js";
import { publishChatEvents } from "../events/pubsub.js";
import type { ServiceDeps } from "./deps.js";
import { writeChats } from "./chat-writes.js";
import { createdEvent, insertChat, parseCreateChatInput } from "./chats.js";
import { parseInput, storableText, uuid } from "./validation.js";

const isUniqueViolation = (error: unknown) => (error as { code?: string })?.code === "P2002";

const sessionKey = z.object({
  source: z.string().min(1).max(64),
  externalId: z.string().trim().min(1, "must not be empty").max(512, "must be at most 512 characters").transform(storableText),
});

/** Titles from prompts are one line, and short. */
export function titleFrom(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/**
 * External agents' sessions (Claude Code's session_id) and the chats they report into: one chat
 * per session, created on first sight; the open turn's prompt; how far each transcript was read.
 */
export function createIngestSessionService(deps: ServiceDeps) {
  const { prisma } = deps;

  return {
    /**
     * The session's chat, created with it the first time. Two deliveries racing to create it make
     * one chat: the loser's transaction (chat included) rolls back on the unique key, and it reads
     * the winner's.
     */
    async open(input: { source: string; externalId: string; title: string; workspace?: string; cwd?: string }): Promise<{ session: IngestSession; created: boolean }> {
      const key = parseInput(sessionKey, input);
      const found = await prisma.ingestSession.findUnique({ where: { source_externalId: key } });
      if (found) return { session: found, created: false };
      const chatInput = parseCreateChatInput({ title: titleFrom(input.title) || "Untitled session", workspace: input.workspace });
      try {
        const { session, chat } = await prisma.$transaction(async (tx) => {
          const chat = await insertChat(tx, chatInput);
          const session = await tx.ingestSession.create({
            data: { id: randomUUID(), ...key, chatId: chat.id, cwd: input.cwd ? storableText(input.cwd) : null },
          });
          return { session, chat };
        });
        publishChatEvents(deps.bus, [createdEvent(chat)]);
        return { session, created: true };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const winner = await prisma.ingestSession.findUnique({ where: { source_externalId: key } });
        if (!winner) throw error;
        return { session: winner, created: false };
      }
    },

    /** The external agent a chat records ("claude-code"), or null. */
    async sourceOf(chatId: string): Promise<string | null> {
      return (await prisma.ingestSession.findUnique({ where: { chatId }, select: { source: true } }))?.source ?? null;
    },

    /** Records the prompt that opens a turn; the first prompt also names a chat still named after its folder. */
    async openTurn(sessionId: string, prompt: string): Promise<void> {
      const session = await prisma.ingestSession.findUnique({ where: { id: sessionId } });
      if (!session) throw new NotFoundError("IngestSession", sessionId);
      const text = storableText(prompt).slice(0, 100_000);
      const title = titleFrom(text);
      await writeChats(deps, [session.chatId], async (w) => {
        await w.tx.ingestSession.update({ where: { id: sessionId }, data: { openPrompt: text, titledByPrompt: session.titledByPrompt || title !== "", updatedAt: new Date() } });
        if (!session.titledByPrompt && title !== "") {
          await w.tx.chat.update({ where: { id: session.chatId }, data: { title } });
          w.events.add(session.chatId, "chat_updated", session.chatId);
        }
      });
    },

    /** Takes the open turn's prompt (null when the turn's prompt was not seen). */
    async closeTurn(sessionId: string): Promise<string | null> {
      const session = await prisma.ingestSession.findUnique({ where: { id: sessionId }, select: { openPrompt: true } });
      if (!session) throw new NotFoundError("IngestSession", sessionId);
      await prisma.ingestSession.update({ where: { id: sessionId }, data: { openPrompt: null, updatedAt: new Date() } });
      return session.openPrompt;
    },

    /** Where the next read of a transcript starts (bytes); 0 for a file never read. */
    async transcriptOffset(chatId: string, path: string): Promise<number> {
      parseInput(z.object({ chatId: uuid }), { chatId });
      const row = await prisma.ingestTranscript.findUnique({ where: { chatId_path: { chatId, path } } });
      return row ? Number(row.offset) : 0;
    },

    async setTranscriptOffset(chatId: string, path: string, offset: number): Promise<void> {
      await prisma.ingestTranscript.upsert({
        where: { chatId_path: { chatId, path } },
        create: { chatId, path, offset: BigInt(offset) },
        update: { offset: BigInt(offset), updatedAt: new Date() },
      });
    },

    /** Makes a transcript one of the chat's (a subagent's, from SubagentStop), to be read from its start. */
    async registerTranscript(chatId: string, path: string): Promise<void> {
      await prisma.ingestTranscript.upsert({ where: { chatId_path: { chatId, path } }, create: { chatId, path }, update: {} });
    },

    /** The transcripts of a chat read so far (the session's, its subagents'). */
    async transcriptsOf(chatId: string): Promise<string[]> {
      const rows = await prisma.ingestTranscript.findMany({ where: { chatId }, select: { path: true }, orderBy: { path: "asc" } });
      return rows.map((r) => r.path);
    },
  };
}

export type IngestSessionService = ReturnType<typeof createIngestSessionService>;
