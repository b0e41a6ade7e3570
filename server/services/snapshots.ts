import { createHash, randomUUID } from "node:crypto";
import stringify from "safe-stable-stringify";
import { z } from "zod";
import type { AgentSnapshotRevision } from "../db/generated/prisma/client.js";
import { ConflictError, NotFoundError } from "../errors.js";
import type { ServiceDeps } from "./deps.js";
import { type ChatWrite, type LockedChat, writeChats } from "./chat-writes.js";
import { scrubSecrets } from "./scrub.js";
import { jsonProblem } from "./json.js";
import { count, type JsonValue, jsonBytes, jsonValue, MAX_JSON_DEPTH, optional, parseInput, uuid } from "./validation.js";

export { REDACTED } from "./scrub.js";

/**
 * The turns the agent's history at `turn` is made of: back from it through each revision's
 * predecessor (the turn a restore continued from, else the turn saved before it). A restore keeps
 * exactly these current; every other revision, later or on an abandoned branch, is superseded.
 */
export function lineageOf(revisions: { turn: number; restoredFrom: number | null }[], turn: number): Set<number> {
  const byTurn = new Map(revisions.map((r) => [r.turn, r]));
  const turns = [...byTurn.keys()].sort((a, b) => a - b);
  const line = new Set<number>();
  let current = byTurn.get(turn);
  while (current && !line.has(current.turn)) {
    line.add(current.turn);
    const at = current.turn;
    const previous = current.restoredFrom ?? turns.filter((t) => t < at).at(-1);
    current = previous === undefined ? undefined : byTurn.get(previous) ?? byTurn.get(turns.filter((t) => t < previous).at(-1) ?? -1);
  }
  return line;
}

const stateHash = (state: unknown) => createHash("sha256").update(stringify(state) ?? "null").digest("hex");

/**
 * Whether a stored state is the one a replay gives (already scrubbed). The stored one is scrubbed
 * again, so a state saved before the secret words or shapes grew still matches its replay; one
 * nested deeper than any accepted input (saved before the depth limit) cannot match.
 */
function sameState(stored: unknown, given: JsonValue, values: boolean): boolean {
  const givenHash = stateHash(given);
  if (stateHash(stored) === givenHash) return true;
  return jsonProblem(stored, MAX_JSON_DEPTH, Number.POSITIVE_INFINITY) === undefined && stateHash(scrubSecrets(stored as JsonValue, { values })) === givenHash;
}

/** The last turn a snapshot may close: the chat's next turn, one more, must fit a 32-bit column. */
const LAST_TURN = 2_147_483_646;

export interface RestoreResult {
  revision: AgentSnapshotRevision;
  /** The turn the agent continues with. */
  nextTurn: number;
  /** The new session the restore started. */
  sessionId: string;
}

export function createSnapshotService(deps: ServiceDeps) {
  const { prisma, limits } = deps;

  const saveInput = z.object({
    chatId: uuid,
    /** Defaults to the chat's open turn; an explicit turn may skip ahead but never go back. */
    // The next turn is one more, and must fit the column too.
    turn: optional(count.min(1, "must be at least 1").max(LAST_TURN, `must be at most ${LAST_TURN}`)),
    sessionId: optional(uuid),
    // Scrubbed here, before the replay comparison in save() sees it: secret keys always, secret-shaped values unless SCRUB_SECRETS=false.
    state: jsonValue("state", limits.snapshotStateMaxBytes)
      .refine((state) => state !== null && typeof state === "object" && !Array.isArray(state), "must be a JSON object")
      .transform((state) => scrubSecrets(state, { values: limits.scrubSecrets })),
  });

  /** Deletes the oldest revisions beyond the retention, never the current one. */
  async function prune(w: ChatWrite, chatId: string, currentId: string): Promise<void> {
    const doomed = await w.tx.agentSnapshotRevision.findMany({
      where: { chatId, id: { not: currentId } },
      orderBy: { turn: "desc" },
      skip: limits.snapshotRetention - 1,
      select: { id: true },
    });
    if (doomed.length === 0) return;
    await w.tx.agentSnapshotRevision.deleteMany({ where: { id: { in: doomed.map((r) => r.id) } } });
    for (const { id } of doomed) w.events.add(chatId, "snapshot_deleted", id);
  }

  /** A new revision of `turn` (the open turn by default), the head moved to it, the next turn past it. */
  async function insertRevision(w: ChatWrite, d: z.output<typeof saveInput>): Promise<AgentSnapshotRevision> {
    const chat = w.chats.get(d.chatId)!;
    const turn = d.turn ?? chat.nextTurn;
    // Only a default turn can pass the last: an explicit one was checked above.
    if (turn > LAST_TURN) throw new ConflictError(`the chat's turns are used up: its open turn ${turn} is past the last, ${LAST_TURN}`, "Chat", d.chatId);
    if (turn < chat.nextTurn) {
      const existing = await w.tx.agentSnapshotRevision.findUnique({ where: { chatId_turn: { chatId: d.chatId, turn } } });
      if (existing && sameState(existing.state, d.state, limits.scrubSecrets)) return existing;
      throw new ConflictError(`turn ${turn} is closed: the chat's next turn is ${chat.nextTurn}`, "Chat", d.chatId);
    }
    const revision = await w.tx.agentSnapshotRevision.create({
      data: {
        id: randomUUID(),
        chatId: d.chatId,
        turn,
        sessionId: d.sessionId ?? chat.currentSessionId,
        state: d.state as object,
        stateBytes: jsonBytes(d.state),
        restoredFrom: chat.continuedFromTurn,
      },
    });
    await w.tx.agentSnapshot.upsert({
      where: { chatId: d.chatId },
      create: { chatId: d.chatId, currentRevisionId: revision.id, turn },
      update: { currentRevisionId: revision.id, turn, updatedAt: new Date() },
    });
    await w.tx.chat.update({ where: { id: d.chatId }, data: { nextTurn: turn + 1, continuedFromTurn: null } });
    w.events.add(d.chatId, "snapshot_saved", revision.id);
    await prune(w, d.chatId, revision.id);
    return revision;
  }

  return {
    /**
     * Saves the state at a turn boundary: a new revision, the head upserted to point at it, and the
     * chat's next turn moved past it. Saving the same state for an already saved turn is a no-op.
     */
    async save(input: z.input<typeof saveInput>): Promise<AgentSnapshotRevision> {
      const d = parseInput(saveInput, input);
      return writeChats(deps, [d.chatId], (w) => insertRevision(w, d));
    },

    /**
     * Saves a state built inside the save's own transaction, from what the chat holds under its
     * lock (a writer whose turn is closed by what it reads, such as a hook's Stop). `build` returns
     * null to save nothing; the state it returns is checked and scrubbed like save()'s.
     */
    async saveBuilt(chatId: string, build: (w: ChatWrite, chat: LockedChat) => Promise<Record<string, unknown> | null>): Promise<AgentSnapshotRevision | null> {
      parseInput(z.object({ chatId: uuid }), { chatId });
      return writeChats(deps, [chatId], async (w) => {
        const state = await build(w, w.chats.get(chatId)!);
        if (state === null) return null;
        return insertRevision(w, parseInput(saveInput, { chatId, state }));
      });
    },

    /** The chat's current revision, or null when nothing was saved. */
    async loadCurrent(chatId: string): Promise<AgentSnapshotRevision | null> {
      parseInput(z.object({ chatId: uuid }), { chatId });
      const chat = await prisma.chat.findUnique({ where: { id: chatId }, select: { snapshot: { select: { currentRevision: true } } } });
      if (!chat) throw new NotFoundError("Chat", chatId);
      return chat.snapshot?.currentRevision ?? null;
    },

    /** Every kept revision of a chat, newest first. */
    async listRevisions(chatId: string): Promise<AgentSnapshotRevision[]> {
      parseInput(z.object({ chatId: uuid }), { chatId });
      const chat = await prisma.chat.findUnique({ where: { id: chatId }, select: { id: true } });
      if (!chat) throw new NotFoundError("Chat", chatId);
      return prisma.agentSnapshotRevision.findMany({ where: { chatId }, orderBy: { turn: "desc" } });
    },

    /**
     * Makes the revision of `turn` current and supersedes every revision after it (they stay
     * restorable). A new session starts; the next saved turn records that it continued from `turn`.
     */
    async restore(input: { chatId: string; turn: number }): Promise<RestoreResult> {
      const d = parseInput(z.object({ chatId: uuid, turn: count.min(1, "must be at least 1") }), input);
      return writeChats(deps, [d.chatId], async (w) => {
        const chat = w.chats.get(d.chatId)!;
        // The agent's running turn would save its own snapshot over the restored one.
        const running = await w.tx.agentTurn.findFirst({ where: { chatId: d.chatId, status: "running" }, select: { id: true, turnNumber: true } });
        if (running) throw new ConflictError(`turn ${running.turnNumber} of this chat is running; cancel it (cancelTurn) before restoring`, "AgentTurn", running.id);
        const target = await w.tx.agentSnapshotRevision.findUnique({ where: { chatId_turn: { chatId: d.chatId, turn: d.turn } } });
        if (!target) throw new NotFoundError("SnapshotRevision", `${d.chatId}/turn ${d.turn}`, `turn ${d.turn} of chat ${d.chatId} has no saved snapshot`);
        const now = new Date();
        const all = await w.tx.agentSnapshotRevision.findMany({
          where: { chatId: d.chatId },
          select: { id: true, turn: true, restoredFrom: true },
        });
        const line = lineageOf(all, d.turn);
        await w.tx.agentSnapshotRevision.updateMany({ where: { chatId: d.chatId, turn: { in: [...line] } }, data: { supersededAt: null } });
        await w.tx.agentSnapshotRevision.updateMany({
          where: { chatId: d.chatId, turn: { notIn: [...line] }, supersededAt: null },
          data: { supersededAt: now },
        });
        const revision = (await w.tx.agentSnapshotRevision.findUnique({ where: { id: target.id } }))!;
        await w.tx.agentSnapshot.update({ where: { chatId: d.chatId }, data: { currentRevisionId: target.id, turn: d.turn, updatedAt: now } });
        const sessionId = randomUUID();
        await w.tx.chat.update({ where: { id: d.chatId }, data: { currentSessionId: sessionId, continuedFromTurn: d.turn } });
        w.events.add(d.chatId, "snapshot_restored", target.id);
        return { revision, nextTurn: chat.nextTurn, sessionId };
      });
    },

    /** Deletes one revision. The current one cannot be deleted: restore another first. */
    async deleteRevision(revisionId: string): Promise<AgentSnapshotRevision> {
      parseInput(z.object({ revisionId: uuid }), { revisionId });
      const found = await prisma.agentSnapshotRevision.findUnique({ where: { id: revisionId }, select: { chatId: true } });
      if (!found) throw new NotFoundError("SnapshotRevision", revisionId);
      return writeChats(deps, [found.chatId], async (w) => {
        const revision = await w.tx.agentSnapshotRevision.findUnique({ where: { id: revisionId }, include: { head: true } });
        if (!revision) throw new NotFoundError("SnapshotRevision", revisionId);
        if (revision.head) throw new ConflictError(`revision ${revisionId} is the chat's current snapshot; restore another turn first`, "SnapshotRevision", revisionId);
        await w.tx.agentSnapshotRevision.delete({ where: { id: revisionId } });
        w.events.add(found.chatId, "snapshot_deleted", revisionId);
        const { head: _head, ...row } = revision;
        return row;
      });
    },
  };
}

export type SnapshotService = ReturnType<typeof createSnapshotService>;
