import { underArgument } from "../argument-paths.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { writeErrors } from "../types/Errors.js";
import { SnapshotRevisionRef } from "../types/SnapshotRevision.js";

const SaveSnapshotInput = builder.inputType("SaveSnapshotInput", {
  fields: (t) => ({
    chatId: t.id({ required: true }),
    state: t.field({ type: "JSON", required: true, description: "A JSON object: messages, pending work, model and workspace settings" }),
    turn: t.int({ required: false, description: "Defaults to the chat's next turn; turns only increase" }),
    sessionId: t.string({ required: false }),
  }),
});

builder.mutationField("saveSnapshot", (t) =>
  t.field({
    type: SnapshotRevisionRef,
    description: "Saves the agent's state at a turn boundary, closing that turn.",
    errors: { types: writeErrors, directResult: true },
    args: { input: t.arg({ type: SaveSnapshotInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const chatId = parseId(String(input.chatId), "Chat", ["input", "chatId"]);
      return underArgument(["input"], () => ctx.services.snapshots.save({ ...input, state: input.state, chatId }));
    },
  }),
);
