import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { ChatRef } from "../types/Chat.js";
import { writeErrors } from "../types/Errors.js";

builder.mutationField("renameChat", (t) =>
  t.field({
    type: ChatRef,
    errors: { types: writeErrors, directResult: true },
    args: { id: t.arg.id({ required: true }), title: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.chats.rename({ id: parseId(String(args.id), "Chat", ["id"]), title: args.title }),
  }),
);
