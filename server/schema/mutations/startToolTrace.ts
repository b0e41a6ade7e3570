import { underArgument } from "../argument-paths.js";
import { builder } from "../builder.js";
import { startFields, startInput } from "../inputs.js";
import { writeErrors } from "../types/Errors.js";
import { ToolTraceRef } from "../types/ToolTrace.js";

const StartToolTraceInput = builder.inputType("StartToolTraceInput", { fields: (t) => startFields(t) });

builder.mutationField("startToolTrace", (t) =>
  t.field({
    type: ToolTraceRef,
    description: "Records the start of a tool call (status running) and streams it to every viewer.",
    errors: { types: writeErrors, directResult: true },
    args: { input: t.arg({ type: StartToolTraceInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const args = startInput(input, ["input"]);
      return underArgument(["input"], () => ctx.services.traces.start(args));
    },
  }),
);
