// Fixtures for the agent's tests: AgentTurn, AgentStatus and AgentSettings as the API returns them,
// and ChatEvent messages of the agent's kinds for the chat view's stream.

export const CHAT = "3f2a1c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

/** An AgentTurn as the API returns it (AgentTurnFields), turn n of the chat. */
export function agentTurn(n: number, over: Record<string, unknown> = {}) {
  return {
    __typename: "AgentTurn",
    id: `turn-${n}`,
    turnNumber: n,
    trigger: "user",
    prompt: `Do step ${n}`,
    status: "ok",
    outcome: "answered",
    error: null,
    fixAttempt: null,
    fixFollows: false,
    steps: 1,
    provider: "scripted",
    model: "demo",
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 0, 1, 0, n, 5)).toISOString(),
    messages: [],
    ...over,
  };
}

export const agentStatus = (enabled: boolean) => ({
  __typename: "AgentStatus",
  enabled,
  disabledReason: enabled ? null : "the agent is disabled (AGENT_ENABLED=false)",
  sandbox: "bwrap",
  sandboxReason: null,
  workspacesRoot: "/srv/workspaces",
});
export const settings = {
  __typename: "AgentSettings",
  provider: "scripted",
  model: "demo",
  workspace: `chat-${CHAT}`,
  fixAttempts: 3,
  buildCommand: null,
  stored: false,
};

/** The ChatAgent query's answer. */
export function chatAgent(options: { enabled?: boolean; turns?: unknown[]; active?: unknown } = {}) {
  return {
    data: {
      agentStatus: agentStatus(options.enabled ?? true),
      chat: { __typename: "Chat", id: "Q2hhdDox", agent: settings, activeTurn: options.active ?? null, agentTurns: options.turns ?? [] },
    },
  };
}
