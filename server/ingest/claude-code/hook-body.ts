/**
 * The JSON body of a Claude Code hook (HTTP hooks POST it; command hooks get it on stdin), as the
 * hooks reference documents it (code.claude.com/docs/en/hooks). Only what Tracedeck uses is
 * checked; other fields, present or future, are let through.
 */
import { z } from "zod";

const id = (max: number) => z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);

const common = {
  session_id: id(512),
  hook_event_name: z.string().min(1).max(100),
  /** The prompt being processed (Claude Code 2.1.196+): a repeated UserPromptSubmit is recognised by it. */
  prompt_id: z.string().max(512).optional(),
  transcript_path: z.string().max(4096).optional(),
  cwd: z.string().max(4096).optional(),
  /** Inside a subagent: its id and type. */
  agent_id: id(256).optional(),
  agent_type: z.string().max(256).optional(),
};

const toolCall = {
  tool_name: id(256),
  tool_input: z.unknown().optional(),
  tool_use_id: id(512),
  duration_ms: z.number().int().min(0).max(2_147_483_647).optional(),
};

export const hookBody = z.discriminatedUnion(
  "hook_event_name",
  [
    z.looseObject({ ...common, hook_event_name: z.literal("PreToolUse"), ...toolCall }),
    z.looseObject({ ...common, hook_event_name: z.literal("PostToolUse"), ...toolCall, tool_response: z.unknown().optional() }),
    z.looseObject({
      ...common,
      hook_event_name: z.literal("PostToolUseFailure"),
      ...toolCall,
      error: z.string().max(1_000_000).optional(),
      is_interrupt: z.boolean().optional(),
    }),
    z.looseObject({ ...common, hook_event_name: z.literal("UserPromptSubmit"), prompt: z.string().max(1_000_000) }),
    z.looseObject({ ...common, hook_event_name: z.literal("Stop"), last_assistant_message: z.string().max(1_000_000).optional() }),
    z.looseObject({ ...common, hook_event_name: z.literal("SubagentStart") }),
    z.looseObject({ ...common, hook_event_name: z.literal("SubagentStop"), agent_transcript_path: z.string().max(4096).optional() }),
    z.looseObject({ ...common, hook_event_name: z.literal("SessionStart"), source: z.string().max(64).optional() }),
    z.looseObject({ ...common, hook_event_name: z.literal("SessionEnd"), reason: z.string().max(64).optional() }),
  ],
  { error: (issue) => (issue.code === "invalid_union" ? "is not an event Tracedeck records" : undefined) },
);

export type HookBody = z.infer<typeof hookBody>;

/** Events Tracedeck records; any other (a newer Claude Code's) is answered and ignored. */
export const RECORDED_EVENTS = new Set(["PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "Stop", "SubagentStart", "SubagentStop", "SessionStart", "SessionEnd"]);
