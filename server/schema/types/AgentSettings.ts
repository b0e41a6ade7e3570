import type { AgentStatus, EffectiveAgentSettings } from "../../agent/runner.js";
import { AgentDisabledError } from "../../errors.js";
import { builder } from "../builder.js";
import type { GraphQLContext } from "../context.js";

/** The agent of this process; a yoga built without one (some tests) has none. */
export function agentOf(ctx: GraphQLContext) {
  if (!ctx.agent) throw new AgentDisabledError("this server runs no agent");
  return ctx.agent;
}

export const AgentSettingsRef = builder.objectRef<EffectiveAgentSettings>("AgentSettings").implement({
  description: "How Tracedeck's agent works in a chat. Chat.workspace is a free-text label; this workspace is a real folder.",
  fields: (t) => ({
    provider: t.exposeString("provider", { description: "openai, anthropic or scripted" }),
    model: t.exposeString("model", { description: "The model; for scripted, the script's name" }),
    workspace: t.exposeString("workspace", { description: "The folder, relative to AGENT_WORKSPACES_ROOT" }),
    buildCommand: t.exposeStringList("buildCommand", { nullable: true, description: "The build as an argument array; null: pnpm build or npm run build, detected" }),
    fixAttempts: t.exposeInt("fixAttempts", { description: "Auto-fix turns after a failing build" }),
    stored: t.exposeBoolean("stored", { description: "False while the chat runs on the server's defaults" }),
  }),
});

const AgentStatusRef = builder.objectRef<AgentStatus>("AgentStatus").implement({
  description: "Whether this server runs Tracedeck's agent, and how.",
  fields: (t) => ({
    enabled: t.exposeBoolean("enabled"),
    disabledReason: t.exposeString("disabledReason", { nullable: true }),
    sandbox: t.exposeString("sandbox", { description: "bwrap, off (explicitly), unavailable (commands are refused) or pending (still starting)" }),
    sandboxReason: t.exposeString("sandboxReason", { nullable: true }),
    workspacesRoot: t.exposeString("workspacesRoot"),
  }),
});

builder.queryField("agentStatus", (t) =>
  t.field({
    type: AgentStatusRef,
    resolve: (_root, _args, ctx) =>
      ctx.agent?.status() ?? { enabled: false, disabledReason: "this server runs no agent", sandbox: "unavailable" as const, sandboxReason: null, workspacesRoot: "", runId: "" },
  }),
);

builder.prismaObjectFields("Chat", (t) => ({
  agent: t.field({
    type: AgentSettingsRef,
    nullable: true,
    description: "The agent's settings for this chat (the server's defaults until set)",
    resolve: (chat, _args, ctx) => ctx.agent?.settingsOf(chat.id) ?? null,
  }),
}));
