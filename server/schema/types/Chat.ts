import { storableText } from "../../services/validation.js";
import { builder } from "../builder.js";
import { eventCursor } from "../event-cursor.js";
import { keysetConnection, seekBeyond } from "../keyset.js";
import { getPrisma } from "../../db/client.js";
import type { Prisma } from "../../db/generated/prisma/client.js";
import { parseId } from "../ids.js";
import { GraphQLError } from "graphql";

export const ChatRef = builder.prismaNode("Chat", {
  id: { field: "id" },
  // node(id) and nodes(ids) give null for a missing (e.g. deleted) row instead of an internal error.
  nullable: true,
  description: "A conversation with an agent: its traces, snapshots and event log.",
  fields: (t) => ({
    uuid: t.exposeString("id", { description: "The chat's UUID, as agents and the SDK refer to it" }),
    title: t.exposeString("title"),
    workspace: t.exposeString("workspace", { nullable: true }),
    source: t.string({
      nullable: true,
      description: 'The external agent whose session the chat records ("claude-code"), or null for a chat of Tracedeck\'s own agent or the API',
      select: { ingestSession: { select: { source: true } } },
      resolve: (chat) => chat.ingestSession?.source ?? null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastActivityAt: t.expose("lastActivityAt", { type: "DateTime" }),
    currentSessionId: t.exposeString("currentSessionId", { description: "The agent run new traces join; a restore starts a new one" }),
    nextTurn: t.exposeInt("nextTurn", { description: "The turn new traces belong to: one more than the highest turn ever saved" }),
    continuedFromTurn: t.exposeInt("continuedFromTurn", { nullable: true, description: "Set by a restore until the next snapshot is saved" }),
    eventCursor: t.string({
      description:
        "The cursor of the chat's latest committed event, read with the chat itself. Query the chat's data, then subscribe to chatEvents(after: eventCursor): nothing is missed.",
      resolve: (chat, _args, ctx) => eventCursor(ctx, chat.id, chat.eventSeq),
    }),
  }),
});

const ChatFilter = builder.inputType("ChatFilter", {
  fields: (t) => ({
    titleContains: t.string({ required: false, description: "Case-insensitive substring of the title" }),
  }),
});

builder.queryFields((t) => ({
  chat: t.prismaField({
    type: ChatRef,
    nullable: true,
    args: { id: t.arg.id({ required: true, description: "The chat's global id or UUID" }) },
    resolve: (query, _root, args) => {
      let id: string;
      try {
        id = parseId(String(args.id), "Chat", ["id"]);
      } catch {
        throw new GraphQLError("id must be a Chat's global id or UUID", { extensions: { code: "BAD_USER_INPUT" } });
      }
      return getPrisma().chat.findUnique({ ...query, where: { id } });
    },
  }),
  chats: t.connection({
    type: ChatRef,
    description: "Chats, newest first.",
    args: { filter: t.arg({ type: ChatFilter, required: false }) },
    resolve: (_root, args, ctx) => {
      // As stored: a NUL or a lone surrogate in the search would otherwise fail the query.
      const titleContains = args.filter?.titleContains ? storableText(args.filter.titleContains) : undefined;
      const base: Prisma.ChatWhereInput = titleContains ? { title: { contains: titleContains, mode: "insensitive" } } : {};
      return keysetConnection<Prisma.ChatGetPayload<object>, Prisma.ChatWhereInput>(ctx, args, {
        scope: { list: "chats", filter: { titleContains: titleContains ?? null }, order: "createdAt desc, id desc" },
        positionOf: (chat) => [chat.createdAt.getTime(), chat.id],
        // Newest first: "after" is older.
        beyond: (position, direction) => seekBeyond("createdAt", position, direction === "before") as Prisma.ChatWhereInput,
        fetch: ({ where, reversed, take }) =>
          getPrisma().chat.findMany({
            where: { AND: [base, ...where] },
            orderBy: reversed ? [{ createdAt: "asc" }, { id: "asc" }] : [{ createdAt: "desc" }, { id: "desc" }],
            take,
          }),
      });
    },
  }),
}));
