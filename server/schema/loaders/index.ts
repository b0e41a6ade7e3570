import { agentMessagesLoader } from "./agent-messages.js";
import { chatTokensLoader } from "./chat-tokens.js";
import { stepToolCallsLoader } from "./step-tool-calls.js";

/**
 * Per-request batch loaders (one set per HTTP request or WebSocket operation, on the context):
 * a field that would read once per row of a page reads once per page instead.
 */
export function createLoaders() {
  return {
    chatTokens: chatTokensLoader(),
    agentMessages: agentMessagesLoader(),
    stepToolCalls: stepToolCallsLoader(),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
