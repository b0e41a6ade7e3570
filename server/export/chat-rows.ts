/**
 * A chat's stored rows, a page at a time, for the exports: each table is read by keyset (never
 * OFFSET), so a chat of any size is written as it is read and never held in memory whole.
 *
 * The pages are separate reads: a chat written to during its export is exported as each page
 * found it (a finished chat exports exactly).
 */
import type { AgentMessage, AgentSnapshotRevision, AgentTurn, ModelStep, Prisma, PrismaClient, ToolTrace } from "../db/generated/prisma/client.js";
import { seekBeyond } from "../schema/keyset.js";

/**
 * Page sizes by the largest row each table may hold: a trace up to TOOL_INPUT_MAX_BYTES of input
 * and the output cap, a revision up to SNAPSHOT_STATE_MAX_BYTES of state.
 */
const PAGE = { traces: 200, steps: 1000, revisions: 10, turns: 200, messages: 200 } as const;

async function* keyset<T>(size: number, fetch: (after: T | undefined, take: number) => Promise<T[]>): AsyncGenerator<T[]> {
  let after: T | undefined;
  for (;;) {
    const page = await fetch(after, size);
    if (page.length > 0) yield page;
    if (page.length < size) return;
    after = page.at(-1);
  }
}

/**
 * The chat's traces in start order, (startedAt, id), as Chat.traces lists them. Each page seeks
 * with a row comparison, (started_at, id) > (…), which the (chat_id, started_at, id) index answers
 * as a range whatever the planner's estimates (the AND/OR form of the same seek was planned as a
 * bitmap scan of every later row on a fresh PGlite: 100,000 traces took 41 s, now a few), then
 * reads the page's rows by id.
 */
export function tracePages(prisma: PrismaClient, chatId: string, size: number = PAGE.traces): AsyncGenerator<ToolTrace[]> {
  return keyset<ToolTrace>(size, async (after, take) => {
    const ids = after
      ? await prisma.$queryRaw<{ id: string }[]>`
          SELECT id::text FROM tool_traces WHERE chat_id = ${chatId}::uuid AND (started_at, id) > (${after.startedAt}::timestamptz, ${after.id}::uuid)
           ORDER BY started_at, id LIMIT ${take}`
      : await prisma.$queryRaw<{ id: string }[]>`
          SELECT id::text FROM tool_traces WHERE chat_id = ${chatId}::uuid ORDER BY started_at, id LIMIT ${take}`;
    if (ids.length === 0) return [];
    return prisma.toolTrace.findMany({ where: { id: { in: ids.map((r) => r.id) } }, orderBy: [{ startedAt: "asc" }, { id: "asc" }] });
  });
}

export function stepPages(prisma: PrismaClient, chatId: string): AsyncGenerator<ModelStep[]> {
  return keyset<ModelStep>(PAGE.steps, (after, take) =>
    prisma.modelStep.findMany({ where: { chatId, ...(after ? { stepKey: { gt: after.stepKey } } : {}) }, orderBy: { stepKey: "asc" }, take }),
  );
}

export function revisionPages(prisma: PrismaClient, chatId: string): AsyncGenerator<AgentSnapshotRevision[]> {
  return keyset<AgentSnapshotRevision>(PAGE.revisions, (after, take) =>
    prisma.agentSnapshotRevision.findMany({ where: { chatId, ...(after ? { turn: { gt: after.turn } } : {}) }, orderBy: { turn: "asc" }, take }),
  );
}

export function turnPages(prisma: PrismaClient, chatId: string): AsyncGenerator<AgentTurn[]> {
  return keyset<AgentTurn>(PAGE.turns, (after, take) =>
    prisma.agentTurn.findMany({ where: { chatId, ...(after ? { turnNumber: { gt: after.turnNumber } } : {}) }, orderBy: { turnNumber: "asc" }, take }),
  );
}

export function messagePages(prisma: PrismaClient, chatId: string): AsyncGenerator<AgentMessage[]> {
  return keyset<AgentMessage>(PAGE.messages, (after, take) =>
    prisma.agentMessage.findMany({
      where: after ? { AND: [{ chatId }, seekBeyond("createdAt", [after.createdAt.getTime(), after.id], true) as Prisma.AgentMessageWhereInput] } : { chatId },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take,
    }),
  );
}
