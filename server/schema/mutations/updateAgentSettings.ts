import { underArgument } from "../argument-paths.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { AgentSettingsRef, agentOf } from "../types/AgentSettings.js";
import { writeErrors } from "../types/Errors.js";
import { AgentDisabledError } from "../../errors.js";

const AgentSettingsInput = builder.inputType("AgentSettingsInput", {
  description: "Fields left out keep their value.",
  fields: (t) => ({
    provider: t.string({ required: false, description: "openai, anthropic or scripted" }),
    model: t.string({ required: false, description: "The model; for scripted, a script's name in AGENT_SCRIPTS_DIR" }),
    workspace: t.string({ required: false, description: "A folder inside AGENT_WORKSPACES_ROOT, relative to it or absolute" }),
    buildCommand: t.stringList({ required: false, description: "The build as an argument array, e.g. [\"make\", \"check\"]; [] switches the build off" }),
    detectBuildCommand: t.boolean({ required: false, description: "true: forget buildCommand and detect the build again" }),
    fixAttempts: t.int({ required: false, description: "Auto-fix turns after a failing build (0 to 20)" }),
  }),
});

builder.mutationField("updateAgentSettings", (t) =>
  t.field({
    type: AgentSettingsRef,
    errors: { types: [...writeErrors, AgentDisabledError], directResult: true },
    args: { chatId: t.arg.id({ required: true }), input: t.arg({ type: AgentSettingsInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const chatId = parseId(String(args.chatId), "Chat", ["chatId"]);
      const { detectBuildCommand, buildCommand, ...rest } = args.input;
      return underArgument(["input"], () => agentOf(ctx).updateSettings({ ...rest, chatId, buildCommand: detectBuildCommand ? null : (buildCommand ?? undefined) }));
    },
  }),
);
