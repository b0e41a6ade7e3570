import { z } from "zod";
import type { AgentSettings } from "../db/generated/prisma/client.js";
import type { ServiceDeps } from "./deps.js";
import { writeChats } from "./chat-writes.js";
import { count, optional, parseInput, uuid } from "./validation.js";

const noNul = (what: string) => z.string().regex(/^[^\0]*$/, `${what} must not contain NUL`);

/** A build command is an argument array: a program and its arguments, never a shell line; [] switches the build off. */
export const buildCommandInput = z
  .array(noNul("an argument").max(4096, "each argument must be at most 4096 characters"))
  .max(64, "must have at most 64 arguments")
  .refine((args) => args.length === 0 || args[0]!.trim() !== "", "the program must not be empty");

const updateInput = z.object({
  chatId: uuid,
  provider: optional(z.enum(["openai", "anthropic", "scripted"], "must be openai, anthropic or scripted")),
  model: optional(z.string().trim().min(1, "must not be empty").max(200, "must be at most 200 characters").pipe(noNul("the model"))),
  /** Relative to AGENT_WORKSPACES_ROOT, already checked by the agent (it knows the root). */
  workspace: optional(z.string().min(1).max(4096).pipe(noNul("the workspace"))),
  /** null clears it (detect the build again); undefined leaves it. */
  buildCommand: buildCommandInput.nullable().optional(),
  fixAttempts: optional(count.max(20, "must be at most 20")),
});
export type UpdateAgentSettingsInput = z.input<typeof updateInput>;

export interface AgentSettingDefaults {
  provider: string;
  model: string;
  workspace: string;
  fixAttempts: number;
}

/** How Tracedeck's agent works in a chat. A change is a chat_updated event. */
export function createAgentSettingsService(deps: ServiceDeps) {
  return {
    async get(chatId: string): Promise<AgentSettings | null> {
      parseInput(z.object({ chatId: uuid }), { chatId });
      return deps.prisma.agentSettings.findUnique({ where: { chatId } });
    },

    /** Sets some settings; a chat without settings gets the defaults for the rest. */
    async update(input: UpdateAgentSettingsInput, defaults: AgentSettingDefaults): Promise<AgentSettings> {
      const d = parseInput(updateInput, input);
      return writeChats(deps, [d.chatId], async (w) => {
        const current = await w.tx.agentSettings.findUnique({ where: { chatId: d.chatId } });
        const base = current ?? { ...defaults, buildCommand: null };
        const provider = d.provider ?? base.provider;
        // A new provider without a model gets that provider's default, not the old provider's model.
        const model = d.model ?? (d.provider && d.provider !== base.provider && !d.model ? defaults.model : base.model);
        const data = {
          provider,
          model,
          workspace: d.workspace ?? base.workspace,
          buildCommand: d.buildCommand === undefined ? (base.buildCommand ?? undefined) : (d.buildCommand ?? undefined),
          fixAttempts: d.fixAttempts ?? base.fixAttempts,
          updatedAt: new Date(),
        };
        const settings = await w.tx.agentSettings.upsert({
          where: { chatId: d.chatId },
          create: { chatId: d.chatId, ...data, buildCommand: data.buildCommand ?? undefined },
          update: { ...data, buildCommand: d.buildCommand === null ? (null as never) : data.buildCommand },
        });
        w.events.add(d.chatId, "chat_updated", d.chatId);
        return settings;
      });
    },
  };
}

export type AgentSettingsService = ReturnType<typeof createAgentSettingsService>;
