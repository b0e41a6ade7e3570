// Reading a snapshot's state as a conversation.
//
// The convention (what the timeline renders as a conversation): state.messages is a list of
// { role, content }, where role is a string ("user", "assistant", "system", "tool", …) and
// content is either a string or a list of blocks:
//   { type: "text", text }
//   { type: "tool_use", id, name, input }
//   { type: "tool_result", tool_use_id, content, is_error }   (content: a string or text blocks)
// Any other state (no messages list, or a message of another shape) is shown as raw JSON, which
// is always available under a toggle too. Unknown block types are kept and shown as JSON.

export type ConversationBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; toolUseId: string; content: string; isError: boolean }
  | { type: "other"; value: unknown };

export interface ConversationMessage {
  role: string;
  blocks: ConversationBlock[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => (isObject(b) && b.type === "text" && typeof b.text === "string" ? b.text : JSON.stringify(b)))
      .join("\n");
  }
  return content == null ? "" : JSON.stringify(content, null, 2);
}

function block(b: unknown): ConversationBlock {
  if (isObject(b)) {
    if (b.type === "text" && typeof b.text === "string") return { type: "text", text: b.text };
    if (b.type === "tool_use" && typeof b.name === "string") return { type: "tool_use", id: String(b.id ?? ""), name: b.name, input: b.input };
    if (b.type === "tool_result") {
      return { type: "tool_result", toolUseId: String(b.tool_use_id ?? ""), content: resultText(b.content), isError: b.is_error === true };
    }
  }
  if (typeof b === "string") return { type: "text", text: b };
  return { type: "other", value: b };
}

/** The conversation in a state, or null when the state does not follow the convention. */
export function parseConversation(state: unknown): ConversationMessage[] | null {
  if (!isObject(state) || !Array.isArray(state.messages)) return null;
  const out: ConversationMessage[] = [];
  for (const m of state.messages) {
    if (!isObject(m) || typeof m.role !== "string") return null;
    if (typeof m.content === "string") out.push({ role: m.role, blocks: [{ type: "text", text: m.content }] });
    else if (Array.isArray(m.content)) out.push({ role: m.role, blocks: m.content.map(block) });
    else return null;
  }
  return out;
}
