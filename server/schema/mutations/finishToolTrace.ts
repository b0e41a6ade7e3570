import { underArgument } from "../argument-paths.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { finishFields, finishInput } from "../inputs.js";
import { writeErrors } from "../types/Errors.js";
import { ToolTraceRef } from "../types/ToolTrace.js";

const FinishToolTraceInput = builder.inputType("FinishToolTraceInput", {
  description: "Name the trace by traceId, or by chatId with toolCallId.",
  fields: (t) => ({
    traceId: t.id({ required: false }),
    chatId: t.id({ required: false }),
    toolCallId: t.string({ required: false }),
    ...finishFields(t),
  }),
});

builder.mutationField("finishToolTrace", (t) =>
  t.field({
    type: ToolTraceRef,
    description: "Records the finish of a tool call. An identical replay changes nothing; a different second finish is a conflict.",
    errors: { types: writeErrors, directResult: true },
    args: { input: t.arg({ type: FinishToolTraceInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const args = {
        ...finishInput(input, ["input"]),
        traceId: input.traceId == null ? undefined : parseId(String(input.traceId), "ToolTrace", ["input", "traceId"]),
        chatId: input.chatId == null ? undefined : parseId(String(input.chatId), "Chat", ["input", "chatId"]),
        toolCallId: input.toolCallId,
      };
      return underArgument(["input"], () => ctx.services.traces.finish(args));
    },
  }),
);
