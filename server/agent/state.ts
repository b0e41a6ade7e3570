/**
 * The agent's state as saved in a snapshot at every turn boundary, in the convention the dashboard
 * shows (README, "Snapshot state convention"): the conversation, the pending work, the settings.
 * It holds no secrets: keys live in the server's configuration, and the services scrub the rest.
 */
import { z } from "zod";
import { capOutputText } from "./output-cap.js";
import type { ContentBlock, ConversationMessage } from "./providers/provider.js";

export interface AgentSettingsState {
  provider: string;
  model: string;
  workspace: string;
  buildCommand: string[] | null;
  fixAttempts: number;
}

/** An auto-fix turn that is due: its attempt and the message (the build's errors) that starts it. */
export interface PendingAutofix {
  attempt: number;
  maxAttempts: number;
  message: string;
}

export interface AgentState {
  messages: ConversationMessage[];
  pending: { autofix: PendingAutofix | null };
  agent: AgentSettingsState;
  /** The turn this state closes and how it ended. */
  turn: { number: number; status: string; outcome: string | null };
}

const block = z.union([
  z.object({ type: z.literal("text"), text: z.string() }),
  z.object({ type: z.literal("tool_use"), id: z.string(), name: z.string(), input: z.unknown() }),
  z.object({
    type: z.literal("tool_result"),
    tool_use_id: z.string(),
    content: z.union([z.string(), z.array(z.object({ type: z.literal("text"), text: z.string() })).transform((parts) => parts.map((p) => p.text).join("\n"))]),
    is_error: z.boolean().optional(),
  }),
]);
const message = z.object({ role: z.enum(["user", "assistant"]), content: z.union([z.string(), z.array(block)]) });
const pendingAutofix = z.object({ attempt: z.number().int().min(1), maxAttempts: z.number().int().min(0), message: z.string().min(1) });

/**
 * What a saved state gives the next turn. A state saved by someone else (an external agent's, or one
 * a client restored) may hold anything: messages that do not fit the convention are left out, so a
 * restored chat always goes on.
 */
export function readState(state: unknown): { messages: ConversationMessage[]; pendingAutofix: PendingAutofix | null } {
  const object = typeof state === "object" && state !== null && !Array.isArray(state) ? (state as Record<string, unknown>) : {};
  const messages: ConversationMessage[] = [];
  if (Array.isArray(object.messages)) {
    for (const item of object.messages) {
      const parsed = message.safeParse(item);
      if (parsed.success) messages.push(parsed.data as ConversationMessage);
    }
  }
  const pending = (object.pending as Record<string, unknown> | undefined)?.autofix;
  const parsedPending = pendingAutofix.safeParse(pending);
  return { messages: normalizeConversation(messages), pendingAutofix: parsedPending.success ? parsedPending.data : null };
}

/**
 * A conversation providers take: no tool_result without the tool_use just before it (a cut or a
 * dropped message can leave one), no empty message, no two messages of one role in a row (a
 * cancelled turn's results, then the next prompt), and every tool_use answered.
 */
export function normalizeConversation(messages: readonly ConversationMessage[]): ConversationMessage[] {
  const out: ConversationMessage[] = [];
  for (const m of messages) {
    let content = m.content;
    if (typeof content !== "string" && m.role === "user") {
      const previous = out.at(-1);
      const asked = new Set(
        previous?.role === "assistant" && typeof previous.content !== "string"
          ? previous.content.filter((b) => b.type === "tool_use").map((b) => (b as { id: string }).id)
          : [],
      );
      content = content.filter((b) => b.type !== "tool_result" || asked.has(b.tool_use_id));
    }
    if (typeof content === "string" ? content === "" : content.length === 0) continue;
    const last = out.at(-1);
    if (last && last.role === m.role) {
      const blocks = (c: string | ContentBlock[]): ContentBlock[] => (typeof c === "string" ? [{ type: "text", text: c }] : c);
      out[out.length - 1] = { role: m.role, content: [...blocks(last.content), ...blocks(content)] };
    } else {
      out.push({ role: m.role, content });
    }
  }
  return closeToolUses(out);
}

/**
 * Providers refuse a tool_use without its tool_result. A turn cut short (the process died, a
 * restore from someone else's state) can leave one: answer it as not run.
 */
export function closeToolUses(messages: ConversationMessage[]): ConversationMessage[] {
  const out = [...messages];
  for (let i = 0; i < out.length; i++) {
    const m = out[i]!;
    if (m.role !== "assistant" || typeof m.content === "string") continue;
    const uses = m.content.filter((b): b is Extract<ContentBlock, { type: "tool_use" }> => b.type === "tool_use");
    if (uses.length === 0) continue;
    const next = out[i + 1];
    const answered = new Set(
      next && next.role === "user" && typeof next.content !== "string"
        ? next.content.filter((b) => b.type === "tool_result").map((b) => (b as { tool_use_id: string }).tool_use_id)
        : [],
    );
    const missing = uses.filter((u) => !answered.has(u.id));
    if (missing.length === 0) continue;
    const results: ContentBlock[] = missing.map((u) => ({ type: "tool_result", tool_use_id: u.id, content: "not run: the turn ended before this call ran", is_error: true }));
    if (next && next.role === "user" && typeof next.content !== "string") out[i + 1] = { role: "user", content: [...results, ...next.content] };
    else out.splice(i + 1, 0, { role: "user", content: results });
  }
  return out;
}

/**
 * Keeps a state under the snapshot size limit: the oldest long tool results are cut to their head
 * and tail first (the model saw them whole when it mattered), then the oldest text blocks.
 */
export function fitState(state: AgentState, maxBytes: number): AgentState {
  const size = () => Buffer.byteLength(JSON.stringify(state), "utf8");
  if (size() <= maxBytes) return state;
  for (const cap of [4096, 1024, 256]) {
    for (const m of state.messages) {
      if (typeof m.content === "string") {
        if (Buffer.byteLength(m.content) > cap) m.content = capOutputText(m.content, Math.max(cap, 128));
      } else {
        for (const b of m.content) {
          if (b.type === "tool_result" && Buffer.byteLength(b.content) > cap) b.content = capOutputText(b.content, Math.max(cap, 128));
          else if (b.type === "text" && Buffer.byteLength(b.text) > cap) b.text = capOutputText(b.text, Math.max(cap, 128));
        }
      }
      if (size() <= maxBytes) return state;
    }
  }
  // Still too large: drop the oldest messages after the first (the task), then mend what that cut.
  while (state.messages.length > 2 && size() > maxBytes) state.messages.splice(1, 1);
  state.messages = normalizeConversation(state.messages);
  return state;
}

export const textOf = (m: ConversationMessage): string =>
  typeof m.content === "string"
    ? m.content
    : m.content
        .map((b) => (b.type === "text" ? b.text : b.type === "tool_result" ? b.content : ""))
        .filter(Boolean)
        .join("\n");
