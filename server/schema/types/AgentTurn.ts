import { getPrisma } from "../../db/client.js";
import type { AgentTurn } from "../../db/generated/prisma/client.js";
import { AgentMessageKind, AgentTurnStatus } from "../../db/generated/prisma/enums.js";
import type { TokenCounts } from "../../services/tokens.js";
import { builder } from "../builder.js";
import { TokenCountsRef } from "./ToolTrace.js";

export const AgentTurnStatusEnum = builder.enumType("AgentTurnStatus", {
  description: "running until the turn ends; ok when the model answered; error, cancelled, or abandoned when its server process died",
  values: Object.values(AgentTurnStatus),
});

export const AgentMessageKindEnum = builder.enumType("AgentMessageKind", { values: Object.values(AgentMessageKind) });

export const AgentMessageRef = builder.prismaObject("AgentMessage", {
  description: "What Tracedeck's agent said in a turn (assistant), or what went wrong (error).",
  fields: (t) => ({
    id: t.exposeString("id"),
    turnNumber: t.exposeInt("turnNumber"),
    kind: t.field({ type: AgentMessageKindEnum, resolve: (m) => m.kind }),
    text: t.exposeString("text"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const tokensOf = (turn: AgentTurn): TokenCounts => ({
  input: turn.inputTokens,
  output: turn.outputTokens,
  cacheRead: turn.cacheReadTokens,
  cacheWrite: turn.cacheWriteTokens,
  reasoning: turn.reasoningTokens,
});

export const AgentTurnRef = builder.prismaObject("AgentTurn", {
  description: "One turn of Tracedeck's own agent: a user's message (or a failed build's errors) to the model's final answer.",
  fields: (t) => ({
    id: t.exposeString("id"),
    turnNumber: t.exposeInt("turnNumber"),
    trigger: t.exposeString("trigger", { description: "user, or autofix for a turn started by a failed build" }),
    prompt: t.exposeString("prompt", { description: "The message that started the turn" }),
    status: t.field({ type: AgentTurnStatusEnum, resolve: (turn) => turn.status }),
    outcome: t.exposeString("outcome", { nullable: true, description: 'How it ended, e.g. "answered after 3 steps; build passed after 2 attempts"' }),
    error: t.exposeString("error", { nullable: true }),
    fixAttempt: t.exposeInt("fixAttempt", { nullable: true, description: "The auto-fix attempt this turn is; null for a user's turn" }),
    fixFollows: t.exposeBoolean("fixFollows", { description: "The turn's build failed and an auto-fix turn follows" }),
    steps: t.exposeInt("steps", { description: "Model steps taken" }),
    provider: t.exposeString("provider"),
    model: t.exposeString("model"),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    tokens: t.field({ type: TokenCountsRef, description: "Every model step of the turn, its final answer included", resolve: tokensOf }),
    messages: t.field({
      type: [AgentMessageRef],
      description: "What the agent said and the errors, in order",
      // One read for all the turns of Chat.agentTurns (loaders/agent-messages.ts): no relation to load them with.
      resolve: (turn, _args, ctx) => ctx.loaders.agentMessages.load({ chatId: turn.chatId, turnNumber: turn.turnNumber }),
    }),
  }),
});

const MAX_AGENT_TURNS = 200;

builder.prismaObjectFields("Chat", (t) => ({
  agentTurns: t.field({
    type: [AgentTurnRef],
    description: `The agent's latest turns, oldest first (at most \`last\`, default 20, limit ${MAX_AGENT_TURNS}).`,
    args: { last: t.arg.int({ required: false }) },
    complexity: (args) => ({ field: 1, multiplier: Math.min(Math.max(args.last ?? 20, 1), MAX_AGENT_TURNS) }),
    resolve: async (chat, args) => {
      const last = Math.min(Math.max(args.last ?? 20, 1), MAX_AGENT_TURNS);
      const rows = await getPrisma().agentTurn.findMany({ where: { chatId: chat.id }, orderBy: { turnNumber: "desc" }, take: last });
      return rows.reverse();
    },
  }),
  activeTurn: t.field({
    type: AgentTurnRef,
    nullable: true,
    description: "The agent's running turn, if any",
    resolve: (chat) => getPrisma().agentTurn.findFirst({ where: { chatId: chat.id, status: "running" } }),
  }),
}));
