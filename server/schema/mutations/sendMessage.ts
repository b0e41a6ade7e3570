import type { AgentTurn } from "../../db/generated/prisma/client.js";
import { AgentDisabledError } from "../../errors.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { agentOf } from "../types/AgentSettings.js";
import { AgentTurnRef } from "../types/AgentTurn.js";
import { writeErrors } from "../types/Errors.js";

const SendMessagePayload = builder.objectRef<AgentTurn>("SendMessagePayload").implement({
  fields: (t) => ({
    turnNumber: t.exposeInt("turnNumber", { description: "The turn the message started" }),
    turn: t.field({ type: AgentTurnRef, resolve: (turn) => turn }),
  }),
});

builder.mutationField("sendMessage", (t) =>
  t.field({
    type: SendMessagePayload,
    description:
      "Starts a turn of Tracedeck's agent with the message and returns at once; progress (turn_started, traces, assistant_message, agent_error, turn_finished) comes through chatEvents. A chat runs one turn at a time: a second message while one runs is a ConflictError.",
    errors: { types: [...writeErrors, AgentDisabledError], directResult: true },
    args: { chatId: t.arg.id({ required: true }), text: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => agentOf(ctx).sendMessage(parseId(String(args.chatId), "Chat", ["chatId"]), args.text),
  }),
);
