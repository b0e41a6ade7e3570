import { underArgument } from "../argument-paths.js";
import { builder } from "../builder.js";
import { ChatRef } from "../types/Chat.js";
import { writeErrors } from "../types/Errors.js";

const CreateChatInput = builder.inputType("CreateChatInput", {
  fields: (t) => ({
    title: t.string({ required: false, description: 'Defaults to "Untitled chat"' }),
    workspace: t.string({ required: false, description: "The folder the agent works in" }),
  }),
});

builder.mutationField("createChat", (t) =>
  t.field({
    type: ChatRef,
    errors: { types: writeErrors, directResult: true },
    args: { input: t.arg({ type: CreateChatInput, required: false }) },
    resolve: (_root, { input }, ctx) => underArgument(["input"], () => ctx.services.chats.create(input ?? {})),
  }),
);
