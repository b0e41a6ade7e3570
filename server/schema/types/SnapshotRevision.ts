import { getPrisma } from "../../db/client.js";
import type { AgentSnapshotRevision, Prisma } from "../../db/generated/prisma/client.js";
import { builder } from "../builder.js";
import { keysetConnection } from "../keyset.js";

export const SnapshotRevisionRef = builder.prismaNode("AgentSnapshotRevision", {
  name: "SnapshotRevision",
  id: { field: "id" },
  nullable: true,
  description: "The agent's state saved at the end of a turn. Restoring a turn makes its revision current.",
  fields: (t) => ({
    uuid: t.exposeString("id"),
    chat: t.relation("chat"),
    turn: t.exposeInt("turn"),
    sessionId: t.exposeString("sessionId"),
    state: t.expose("state", { type: "JSON", description: "Messages, pending work, model and workspace settings; secrets redacted" }),
    stateBytes: t.exposeInt("stateBytes"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    supersededAt: t.expose("supersededAt", { type: "DateTime", nullable: true, description: "Set when a restore went back before this turn" }),
    restoredFrom: t.exposeInt("restoredFrom", { nullable: true, description: "The turn a restore continued from, on the first turn after it" }),
    isCurrent: t.boolean({
      select: { head: { select: { chatId: true } } },
      resolve: (revision) => revision.head !== null,
    }),
  }),
});

builder.prismaObjectFields("Chat", (t) => ({
  currentSnapshot: t.field({
    type: SnapshotRevisionRef,
    nullable: true,
    select: { snapshot: { select: { currentRevision: true } } },
    resolve: (chat) => chat.snapshot?.currentRevision ?? null,
  }),
  snapshots: t.connection({
    type: SnapshotRevisionRef,
    description: "Saved revisions, newest turn first.",
    resolve: (chat, args, ctx) =>
      keysetConnection<AgentSnapshotRevision, Prisma.AgentSnapshotRevisionWhereInput>(ctx, args, {
        scope: { list: "snapshots", parentId: chat.id, order: "turn desc" },
        positionOf: (revision) => [revision.turn],
        beyond: ([turn], direction) => ({ turn: direction === "after" ? { lt: Number(turn) } : { gt: Number(turn) } }),
        fetch: ({ where, reversed, take }) =>
          getPrisma().agentSnapshotRevision.findMany({
            where: { AND: [{ chatId: chat.id }, ...where] },
            orderBy: { turn: reversed ? "asc" : "desc" },
            take,
          }),
      }),
  }),
}));
