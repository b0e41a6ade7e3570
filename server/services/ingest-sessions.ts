import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { AgentSnapshotRevision, IngestSession } from "../db/generated/prisma/client.js";
import { NotFoundError } from "../errors.js";
import { publishChatEvents } from "../events/pubsub.js";
import type { ServiceDeps } from "./deps.js";
import { writeChats } from "./chat-writes.js";
import { createdEvent, insertChat, parseCreateChatInput } from "./chats.js";
import type { SnapshotService } from "./snapshots.js";
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
export function createIngestSessionService(deps: ServiceDeps, snapshots: SnapshotService) {
  const { prisma } = deps;
  /**
   * Sessions seen by this process, by source and external id: every hook names its session, and the
   * lookup would be one more statement on each. A deleted chat takes its session with it: forget().
   */
  const known = new Map<string, IngestSession>();
  const KNOWN_MAX = 10_000;
  const remember = (session: IngestSession) => {
    if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value!);
    known.set(`${session.source}\0${session.externalId}`, session);
    return session;
  };

  return {
    /**
     * The session's chat, created with it the first time. Two deliveries racing to create it make
     * one chat: the loser's transaction (chat included) rolls back on the unique key, and it reads
     * the winner's.
     */
    async open(input: { source: string; externalId: string; title: string; workspace?: string; cwd?: string }): Promise<{ session: IngestSession; created: boolean }> {
      const key = parseInput(sessionKey, input);
      const cached = known.get(`${key.source}\0${key.externalId}`);
      if (cached) return { session: cached, created: false };
      const found = await prisma.ingestSession.findUnique({ where: { source_externalId: key } });
      if (found) return { session: remember(found), created: false };
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
        return { session: remember(session), created: true };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const winner = await prisma.ingestSession.findUnique({ where: { source_externalId: key } });
        if (!winner) throw error;
        return { session: remember(winner), created: false };
      }
    },

    /** The external agent a chat records ("claude-code"), or null. */
    async sourceOf(chatId: string): Promise<string | null> {
      return (await prisma.ingestSession.findUnique({ where: { chatId }, select: { source: true } }))?.source ?? null;
    },

    /** Forgets a session this process knew (its chat was deleted). */
    forget(source: string, externalId: string): void {
      const key = parseInput(sessionKey, { source, externalId });
      known.delete(`${key.source}\0${key.externalId}`);
    },

    /** Records the prompt that opens a turn; the first prompt also names a chat still named after its folder. */
    async openTurn(session: IngestSession, prompt: string, promptId?: string): Promise<void> {
      if (promptId && promptId === session.lastPromptId) return; // a repeated delivery
      const text = storableText(prompt).slice(0, 100_000);
      const title = titleFrom(text);
      const data = { openPrompt: text, lastPromptId: promptId ? storableText(promptId).slice(0, 512) : null, updatedAt: new Date() };
      if (session.titledByPrompt || title === "") {
        const updated = await prisma.ingestSession.updateMany({ where: { id: session.id }, data });
        if (updated.count === 0) throw new NotFoundError("Chat", session.chatId); // deleted: the hook starts over
      } else {
        await writeChats(deps, [session.chatId], async (w) => {
          // The first prompt names the chat, unless another delivery (or process) got there first.
          const first = await w.tx.ingestSession.updateMany({ where: { id: session.id, titledByPrompt: false }, data: { ...data, titledByPrompt: true } });
          if (first.count === 0) return void (await w.tx.ingestSession.updateMany({ where: { id: session.id }, data }));
          await w.tx.chat.update({ where: { id: session.chatId }, data: { title } });
          w.events.add(session.chatId, "chat_updated", session.chatId);
        });
      }
      remember({ ...session, ...data, titledByPrompt: session.titledByPrompt || title !== "" });
    },

    /**
     * Closes the session's open turn with a snapshot, in one transaction: the prompt is taken, the
     * state built from it, the turn's calls and the conversation so far (build), and saved. Nothing
     * is saved when the turn has no prompt, no call and no answer (a repeated Stop).
     */
    async closeTurn(
      session: IngestSession,
      build: (turn: { prompt: string | null; calls: number; messages: unknown[] }) => Record<string, unknown> | null,
    ): Promise<AgentSnapshotRevision | null> {
      const saved = await snapshots.saveBuilt(session.chatId, async (w, chat) => {
        const [taken] = await w.tx.$queryRaw<{ prompt: string | null }[]>`
          UPDATE ingest_sessions s SET open_prompt = NULL, updated_at = now()
            FROM (SELECT id, open_prompt FROM ingest_sessions WHERE id = ${session.id}::uuid FOR UPDATE) old
           WHERE s.id = old.id
       RETURNING old.open_prompt AS prompt`;
        const [turn] = await w.tx.$queryRaw<{ calls: bigint; messages: unknown }[]>`
          SELECT (SELECT count(*) FROM tool_traces t WHERE t.chat_id = ${session.chatId}::uuid AND t.turn_number = ${chat.nextTurn}) AS calls,
                 (SELECT r.state -> 'messages' FROM agent_snapshots h JOIN agent_snapshot_revisions r ON r.id = h.current_revision_id
                   WHERE h.chat_id = ${session.chatId}::uuid) AS messages`;
        const messages = Array.isArray(turn?.messages) ? (turn!.messages as unknown[]) : [];
        return build({ prompt: taken?.prompt ?? null, calls: Number(turn?.calls ?? 0), messages });
      });
      remember({ ...session, openPrompt: null });
      return saved;
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
