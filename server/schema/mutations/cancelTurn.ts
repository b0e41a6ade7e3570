import type { AgentTurn } from "../../db/generated/prisma/client.js";
import { AgentDisabledError } from "../../errors.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { agentOf } from "../types/AgentSettings.js";
import { AgentTurnRef } from "../types/AgentTurn.js";
import { writeErrors } from "../types/Errors.js";

const CancelTurnPayload = builder.objectRef<AgentTurn>("CancelTurnPayload").implement({
  fields: (t) => ({ turn: t.field({ type: AgentTurnRef, description: "The turn as it ended (status cancelled)", resolve: (turn) => turn }) }),
});

builder.mutationField("cancelTurn", (t) =>
  t.field({
    type: CancelTurnPayload,
    description: "Cancels the chat's running turn and its auto-fix loop: the model request is aborted and a running command's process group is killed. Returns once the turn has ended.",
    errors: { types: [...writeErrors, AgentDisabledError], directResult: true },
    args: { chatId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => agentOf(ctx).cancelTurn(parseId(String(args.chatId), "Chat", ["chatId"])),
  }),
);
