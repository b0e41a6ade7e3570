import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { AgentMessage, AgentTurn } from "../db/generated/prisma/client.js";
import type { AgentMessageKind, AgentTurnStatus } from "../db/generated/prisma/enums.js";
import { ConflictError, NotFoundError } from "../errors.js";
import type { ServiceDeps } from "./deps.js";
import { type ChatWrite, writeChats } from "./chat-writes.js";
import type { TokenCounts } from "./tokens.js";
import { count, optional, parseInput, storableText, uuid } from "./validation.js";

/** Assistant text and errors are capped like trace output: a model can talk at length. */
const MESSAGE_MAX_CHARS = 200_000;
const clip = (text: string) => (text.length > MESSAGE_MAX_CHARS ? `${text.slice(0, MESSAGE_MAX_CHARS)}\n… [cut at ${MESSAGE_MAX_CHARS} characters]` : text);

const startInput = z.object({
  chatId: uuid,
  trigger: z.enum(["user", "autofix"]),
  prompt: z.string().min(1, "must not be empty").max(100_000, "must be at most 100000 characters").transform(storableText),
  provider: z.string().min(1).max(64),
  model: z.string().min(1).max(200),
  fixAttempt: optional(count.min(1)),
  ownerRunId: uuid,
});
export type StartTurnInput = z.input<typeof startInput>;

export interface FinishTurnInput {
  turnId: string;
  status: Exclude<AgentTurnStatus, "running">;
  outcome?: string;
  error?: string;
  steps: number;
  fixFollows?: boolean;
  /** The sum over every model step of the turn. */
  tokens?: TokenCounts;
}

/**
 * The turns of Tracedeck's own agent and what it says in them. A chat runs one turn at a time:
 * the chat row lock serialises starts, and a partial unique index backs it across processes.
 */
export function createAgentTurnService(deps: ServiceDeps) {
  const { prisma } = deps;

  async function runningTurn(w: ChatWrite, chatId: string): Promise<AgentTurn | null> {
    return w.tx.agentTurn.findFirst({ where: { chatId, status: "running" } });
  }

  return {
    /** Starts a turn numbered with the chat's open turn; a chat with a running turn is a conflict. */
    async start(input: StartTurnInput): Promise<AgentTurn> {
      const d = parseInput(startInput, input);
      return writeChats(deps, [d.chatId], async (w) => {
        const running = await runningTurn(w, d.chatId);
        if (running) {
          throw new ConflictError(
            `turn ${running.turnNumber} of this chat is still running; wait for it to finish or cancel it (cancelTurn)`,
            "AgentTurn",
            running.id,
          );
        }
        // The chat's open turn, unless an earlier agent turn already took it without saving a
        // snapshot (one abandoned when its process died): turn numbers are never reused.
        const last = await w.tx.agentTurn.findFirst({ where: { chatId: d.chatId }, orderBy: { turnNumber: "desc" }, select: { turnNumber: true } });
        const turnNumber = Math.max(w.chats.get(d.chatId)!.nextTurn, (last?.turnNumber ?? 0) + 1);
        const turn = await w.tx.agentTurn.create({
          data: {
            id: randomUUID(),
            chatId: d.chatId,
            turnNumber,
            trigger: d.trigger,
            prompt: d.prompt,
            provider: d.provider,
            model: d.model,
            fixAttempt: d.fixAttempt ?? null,
            ownerRunId: d.ownerRunId,
          },
        });
        w.events.add(d.chatId, "turn_started", turn.id);
        return turn;
      });
    },

    /** Ends a running turn once; finishing an ended turn returns it unchanged. */
    async finish(input: FinishTurnInput): Promise<AgentTurn> {
      const found = await prisma.agentTurn.findUnique({ where: { id: input.turnId }, select: { chatId: true } });
      if (!found) throw new NotFoundError("AgentTurn", input.turnId);
      return writeChats(deps, [found.chatId], async (w) => {
        const turn = await w.tx.agentTurn.findUnique({ where: { id: input.turnId } });
        if (!turn) throw new NotFoundError("AgentTurn", input.turnId);
        if (turn.status !== "running") return turn;
        const updated = await w.tx.agentTurn.update({
          where: { id: turn.id },
          data: {
            status: input.status,
            outcome: input.outcome ? clip(storableText(input.outcome)) : null,
            error: input.error ? clip(storableText(input.error)) : null,
            steps: input.steps,
            fixFollows: input.fixFollows ?? false,
            inputTokens: input.tokens?.input ?? 0,
            outputTokens: input.tokens?.output ?? 0,
            cacheReadTokens: input.tokens?.cacheRead ?? 0,
            cacheWriteTokens: input.tokens?.cacheWrite ?? 0,
            reasoningTokens: input.tokens?.reasoning ?? 0,
            finishedAt: new Date(),
          },
        });
        w.events.add(turn.chatId, "turn_finished", turn.id);
        return updated;
      });
    },

    /** Records what the agent said (assistant) or what went wrong (error) in a turn. */
    async say(input: { chatId: string; turnNumber: number; kind: AgentMessageKind; text: string }): Promise<AgentMessage> {
      parseInput(z.object({ chatId: uuid }), { chatId: input.chatId });
      return writeChats(deps, [input.chatId], async (w) => {
        const message = await w.tx.agentMessage.create({
          data: { id: randomUUID(), chatId: input.chatId, turnNumber: input.turnNumber, kind: input.kind, text: clip(storableText(input.text)) },
        });
        w.events.add(input.chatId, input.kind === "assistant" ? "assistant_message" : "agent_error", message.id);
        return message;
      });
    },

    async latest(chatId: string): Promise<AgentTurn | null> {
      return prisma.agentTurn.findFirst({ where: { chatId }, orderBy: { turnNumber: "desc" } });
    },

    /**
     * Chats whose auto-fix loop a restart cut: the head snapshot holds a due fix and the latest
     * turn either announced it (fixFollows, the fix turn never started) or was that fix turn,
     * abandoned. Restoring an older snapshot with a due fix resumes nothing: its turn is not the latest.
     */
    async pendingFixCandidates(): Promise<{ chatId: string; headState: unknown; lastTurn: number }[]> {
      const rows = await prisma.$queryRaw<{ chat_id: string; state: unknown; head_turn: number; turn_number: number; fix_follows: boolean; status: string; trigger: string }[]>`
        SELECT s.chat_id::text, r.state, s.turn AS head_turn, t.turn_number, t.fix_follows, t.status::text, t.trigger
          FROM agent_snapshots s
          JOIN agent_snapshot_revisions r ON r.id = s.current_revision_id
          JOIN LATERAL (SELECT * FROM agent_turns t WHERE t.chat_id = s.chat_id ORDER BY t.turn_number DESC LIMIT 1) t ON true
         WHERE jsonb_typeof(r.state -> 'pending' -> 'autofix') = 'object'`;
      return rows
        .filter((r) => (r.fix_follows && r.turn_number === r.head_turn) || (r.status === "abandoned" && r.trigger === "autofix" && r.turn_number > r.head_turn))
        .map((r) => ({ chatId: r.chat_id, headState: r.state, lastTurn: r.turn_number }));
    },

    async running(chatId: string): Promise<AgentTurn | null> {
      return prisma.agentTurn.findFirst({ where: { chatId, status: "running" } });
    },

    /**
     * Marks the running turns and traces of processes that are gone as abandoned (their process
     * died mid-turn), with one turn_finished or trace_finished event each; `exceptChats` spares the
     * chats whose turn is still under way (a live process tidying its own). Returns the counts.
     */
    async abandonRuns(runIds: readonly string[], now = new Date(), options: { exceptChats?: readonly string[] } = {}): Promise<{ turns: number; traces: number }> {
      if (runIds.length === 0) return { turns: 0, traces: 0 };
      const ids = [...runIds];
      const spared = new Set(options.exceptChats ?? []);
      const [turns, traces] = await Promise.all([
        prisma.agentTurn.findMany({ where: { status: "running", ownerRunId: { in: ids } }, select: { chatId: true } }),
        prisma.toolTrace.findMany({ where: { status: "running", ownerRunId: { in: ids } }, select: { chatId: true } }),
      ]);
      const chats = [...new Set([...turns, ...traces].map((r) => r.chatId))].filter((chatId) => !spared.has(chatId));
      const counts = { turns: 0, traces: 0 };
      for (const chatId of chats) {
        await writeChats(deps, [chatId], async (w) => {
          const runningTraces = await w.tx.toolTrace.findMany({ where: { chatId, status: "running", ownerRunId: { in: ids } } });
          for (const trace of runningTraces) {
            await w.tx.toolTrace.update({
              where: { id: trace.id },
              data: {
                status: "abandoned",
                finishedAt: now,
                latencyMs: Math.min(2_147_483_647, Math.max(0, now.getTime() - trace.startedAt.getTime())),
                error: "the server stopped while the tool ran",
              },
            });
            w.events.add(chatId, "trace_finished", trace.id);
            counts.traces++;
          }
          const runningTurns = await w.tx.agentTurn.findMany({ where: { chatId, status: "running", ownerRunId: { in: ids } } });
          for (const turn of runningTurns) {
            await w.tx.agentTurn.update({
              where: { id: turn.id },
              data: { status: "abandoned", finishedAt: now, outcome: "the server stopped during the turn; the chat goes on from its latest snapshot" },
            });
            w.events.add(chatId, "turn_finished", turn.id);
            counts.turns++;
          }
        }).catch((error: unknown) => {
          if (!(error instanceof NotFoundError)) throw error; // the chat was deleted meanwhile
        });
      }
      if (counts.turns || counts.traces) deps.log.info("agent.abandoned_runs", { runs: ids.length, ...counts });
      return counts;
    },
  };
}

export type AgentTurnService = ReturnType<typeof createAgentTurnService>;
