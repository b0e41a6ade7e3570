import { getPrisma } from "../../db/client.js";
import type { ModelStep } from "../../db/generated/prisma/client.js";
import { stepKeyOf } from "../../services/traces.js";
import { builder } from "../builder.js";
import { TokenCountsRef } from "./ToolTrace.js";

interface StepUsage {
  step: ModelStep;
  toolCallCount: number;
}

const ModelStepRef = builder.objectRef<StepUsage>("ModelStep").implement({
  description: "One model response (assistant message) and its token usage, counted once however many tool calls it made.",
  fields: (t) => ({
    key: t.string({ description: "The message id, or trace:<id> for a call without one", resolve: (s) => s.step.stepKey }),
    tokens: t.field({
      type: TokenCountsRef,
      resolve: ({ step }) => ({
        input: step.inputTokens,
        output: step.outputTokens,
        cacheRead: step.cacheReadTokens,
        cacheWrite: step.cacheWriteTokens,
        reasoning: step.reasoningTokens,
      }),
    }),
    toolCallCount: t.exposeInt("toolCallCount", { description: "Tool calls of the chat made by this step" }),
  }),
});

builder.prismaObjectField("ToolTrace", "step", (t) =>
  t.field({
    type: ModelStepRef,
    nullable: true,
    description: "The model step that issued this call, with its usage; null when no usage was reported.",
    // Two small indexed reads per trace: priced so that a page of them stays bounded.
    complexity: 5,
    resolve: async (trace, _args, ctx) => {
      // Prisma batches the page's findUnique calls into one read; they all settle together, so the
      // counts below are asked in one tick and the loader makes them one statement too.
      const step = await getPrisma().modelStep.findUnique({ where: { chatId_stepKey: { chatId: trace.chatId, stepKey: stepKeyOf(trace) } } });
      if (!step) return null;
      // A step's calls are made in one turn: the (chat_id, turn_number) index finds them.
      const toolCallCount = trace.messageId
        ? await ctx.loaders.stepToolCalls.load({ chatId: trace.chatId, turnNumber: trace.turnNumber, messageId: trace.messageId })
        : 1;
      return { step, toolCallCount };
    },
  }),
);
