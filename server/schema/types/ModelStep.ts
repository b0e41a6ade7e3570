import { getPrisma } from "../../db/client.js";
import type { ModelStep } from "../../db/generated/prisma/client.js";
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
    complexity: 2,
    resolve: async (trace) => {
      const stepKey = trace.messageId ?? `trace:${trace.id}`;
      const step = await getPrisma().modelStep.findUnique({ where: { chatId_stepKey: { chatId: trace.chatId, stepKey } } });
      if (!step) return null;
      const toolCallCount = trace.messageId ? await getPrisma().toolTrace.count({ where: { chatId: trace.chatId, messageId: trace.messageId } }) : 1;
      return { step, toolCallCount };
    },
  }),
);
