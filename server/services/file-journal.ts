import type { AgentFileJournal } from "../db/generated/prisma/client.js";
import { ConflictError } from "../errors.js";
import type { ServiceDeps } from "./deps.js";
import { lineageOf } from "./snapshots.js";

export interface JournalEntry {
  chatId: string;
  turnNumber: number;
  /** The chat's workspace setting. */
  workspace: string;
  /** Relative to the workspace. */
  path: string;
  /** The content before the turn's first write; null when the file did not exist. */
  previous: Buffer | null;
  /** Set instead of `previous` for a file over the journal's limit: it is not read at all. */
  tooLargeBytes?: number;
  /** The file's permission bits. */
  mode?: number;
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
      const tooLarge = entry.tooLargeBytes !== undefined || (entry.previous !== null && entry.previous.byteLength > deps.limits.journalMaxFileBytes);
      await prisma.agentFileJournal.createMany({
        data: [
          {
            chatId: entry.chatId,
            turnNumber: entry.turnNumber,
            workspace: entry.workspace,
            path: entry.path,
            existed: entry.previous !== null || entry.tooLargeBytes !== undefined,
            content: entry.previous && !tooLarge ? new Uint8Array(entry.previous) : null,
            tooLarge,
            mode: entry.mode ?? null,
          },
        ],
        skipDuplicates: true,
      });
    },

    /**
     * What puts the workspace back as it was at the end of `turn`: for every file the agent wrote
     * in `workspace` in a later turn of the chat's current history, the record of the earliest such
     * turn (the content just before it changed). Pre-images only lead back along that history: a
     * turn on an abandoned branch (one a restore left) cannot be rewound to, and is a conflict.
     */
    async rewindPlan(chatId: string, turn: number, workspace: string): Promise<AgentFileJournal[]> {
      const [revisions, head] = await Promise.all([
        prisma.agentSnapshotRevision.findMany({ where: { chatId }, select: { turn: true, restoredFrom: true } }),
        prisma.agentSnapshot.findUnique({ where: { chatId }, select: { turn: true } }),
      ]);
      const line = head ? lineageOf(revisions, head.turn) : new Set<number>();
      if (!line.has(turn)) {
        throw new ConflictError(`turn ${turn} is not on the chat's current history, so its files cannot be rewound (restore it without rewindFiles)`, "Chat", chatId);
      }
      const saved = new Set(revisions.map((r) => r.turn));
      const later = await prisma.agentFileJournal.findMany({ where: { chatId, workspace, turnNumber: { gt: turn } }, orderBy: [{ path: "asc" }, { turnNumber: "asc" }] });
      const earliest = new Map<string, AgentFileJournal>();
      // A turn without a snapshot (cut short) still changed the files on the history it ran on.
      for (const entry of later) if ((line.has(entry.turnNumber) || !saved.has(entry.turnNumber)) && !earliest.has(entry.path)) earliest.set(entry.path, entry);
      return [...earliest.values()];
    },
  };
}

export type FileJournalService = ReturnType<typeof createFileJournalService>;
