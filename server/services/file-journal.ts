import type { AgentFileJournal } from "../db/generated/prisma/client.js";
import type { ServiceDeps } from "./deps.js";

export interface JournalEntry {
  chatId: string;
  turnNumber: number;
  /** Relative to the workspace. */
  path: string;
  /** The content before the turn's first write; null when the file did not exist. */
  previous: Buffer | null;
}

/**
 * The file journal behind a restore's file rewind: each file's content before the agent's first
 * write to it in a turn. Stored raw and never scrubbed (a scrubber's marker written back into a
 * file would corrupt it); never shown through the API. Not a chat event: viewers see the traces.
 */
export function createFileJournalService(deps: ServiceDeps) {
  const { prisma } = deps;
  return {
    /** Keeps the first record of a file per turn: later writes in the same turn change nothing. */
    async record(entry: JournalEntry): Promise<void> {
      const tooLarge = entry.previous !== null && entry.previous.byteLength > deps.limits.journalMaxFileBytes;
      await prisma.agentFileJournal.createMany({
        data: [
          {
            chatId: entry.chatId,
            turnNumber: entry.turnNumber,
            path: entry.path,
            existed: entry.previous !== null,
            content: entry.previous && !tooLarge ? new Uint8Array(entry.previous) : null,
            tooLarge,
          },
        ],
        skipDuplicates: true,
      });
    },

    /**
     * What puts the workspace back as it was at the end of `turn`: for every file the agent wrote in
     * a later turn, the record of the earliest such turn (the content just before it changed).
     */
    async rewindPlan(chatId: string, turn: number): Promise<AgentFileJournal[]> {
      const later = await prisma.agentFileJournal.findMany({ where: { chatId, turnNumber: { gt: turn } }, orderBy: [{ path: "asc" }, { turnNumber: "asc" }] });
      const earliest = new Map<string, AgentFileJournal>();
      for (const entry of later) if (!earliest.has(entry.path)) earliest.set(entry.path, entry);
      return [...earliest.values()];
    },
  };
}

export type FileJournalService = ReturnType<typeof createFileJournalService>;
