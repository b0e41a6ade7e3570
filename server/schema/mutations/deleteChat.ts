import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { writeErrors } from "../types/Errors.js";

const DeleteChatPayload = builder.objectRef<{ id: string }>("DeleteChatPayload").implement({
  fields: (t) => ({
    deletedChatId: t.id({ description: "The deleted chat's global id", resolve: ({ id }) => encodeGlobalID("Chat", id) }),
    deletedUuid: t.exposeString("id"),
  }),
});

builder.mutationField("deleteChat", (t) =>
  t.field({
    type: DeleteChatPayload,
    description: "Deletes the chat with its traces, events and snapshots; its streams end with chat_deleted.",
    errors: { types: writeErrors, directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.chats.delete(parseId(String(args.id), "Chat", ["id"])),
  }),
);
