import type { ToolTrace } from "../../db/generated/prisma/client.js";
import { underArgument } from "../argument-paths.js";
import { builder } from "../builder.js";
import { finishFields, finishInput, startFields, startInput } from "../inputs.js";
import { writeErrors } from "../types/Errors.js";
import { ToolTraceRef } from "../types/ToolTrace.js";

const RecordToolTraceInput = builder.inputType("RecordToolTraceInput", {
  description: "A finished tool call: its start and its finish in one item.",
  fields: (t) => ({ ...startFields(t), ...finishFields(t) }),
});

const RecordToolTracesInput = builder.inputType("RecordToolTracesInput", {
  fields: (t) => ({ items: t.field({ type: [RecordToolTraceInput], required: true }) }),
});

const RecordToolTracesPayload = builder.objectRef<{ traces: ToolTrace[] }>("RecordToolTracesPayload").implement({
  fields: (t) => ({ traces: t.field({ type: [ToolTraceRef], resolve: (p) => p.traces }) }),
});

builder.mutationField("recordToolTraces", (t) =>
  t.field({
    type: RecordToolTracesPayload,
    description: "Records finished traces, across chats if need be, all or nothing. An error names the item (items.N).",
    errors: { types: writeErrors, directResult: true },
    args: { input: t.arg({ type: RecordToolTracesInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const items = input.items.map((item, i) => ({ ...startInput(item, ["input", "items", i]), ...finishInput(item, ["input", "items", i]) }));
      return { traces: await underArgument(["input"], () => ctx.services.traces.recordBatch(items)) };
    },
  }),
);
