/**
 * useAgent: Tracedeck's own agent in one chat: whether the server runs it (agentStatus), the chat's
 * settings, its latest turns with what the agent said, kept live from the chat's events, and the
 * mutations that drive it (sendMessage, cancelTurn, updateAgentSettings).
 *
 *   const agent = useAgent(() => chatId, { client, ready: () => eventCursor.value !== undefined });
 *   agent.status       // ShallowRef<AgentStatus | null>: enabled, disabledReason, sandbox …
 *   agent.settings     // ShallowRef<AgentSettings | null>: provider, model, workspace, fixAttempts …
 *   agent.turns        // ShallowRef<AgentTurnInfo[]>: the latest turns, in turn order, messages in order
 *   agent.activeTurn   // ComputedRef<AgentTurnInfo | null>: the running turn
 *   agent.error        // the last read's error (CombinedError, or the chat missing), or null
 *   agent.loading      // true until the first read of this chat answers
 *   agent.applyEvent(e) // a chatEvents ChatEvent: turn_started / turn_finished / assistant_message / agent_error
 *   agent.send(text)   // sendMessage: true when the turn started; else sendError says why
 *   agent.cancel()     // cancelTurn: true when the turn ended; else cancelError
 *   agent.updateSettings(input) // updateAgentSettings: true when saved; else settingsError
 *   agent.sending, agent.cancelling, agent.saving   // Ref<boolean> while each mutation runs
 *   agent.sendError, agent.cancelError, agent.settingsError // ShallowRef<AgentActionError | CombinedError | null>
 *
 * Reads go through client.query with network-only, like useTurns. `ready` (optional) holds the first
 * read back until it is true: the chat view reads after its event stream's start cursor is known,
 * so every change after the read arrives as an event (applying one twice changes nothing).
 */
import { type Client, type CombinedError, useClientHandle } from "@urql/vue";
import { computed, onScopeDispose, ref, type Ref, shallowRef, toValue, watch } from "vue";
import { type FragmentType, graphql, useFragment } from "../gql";
import type { AgentSettingsFieldsFragment as AgentSettingsInfo, AgentSettingsInput, ChatAgentQuery } from "../gql/graphql";
import { type AgentActionError, type AgentMessageInfo, type AgentTurnInfo, runningTurn, typedError, upsertMessage, upsertTurn } from "../lib/agent-turns";
import { coalesce } from "../lib/coalesce";

export const AgentMessageFieldsFragment = graphql(`
  fragment AgentMessageFields on AgentMessage {
    id
    turnNumber
    kind
    text
    createdAt
  }
`);

export const AgentTurnFieldsFragment = graphql(`
  fragment AgentTurnFields on AgentTurn {
    id
    turnNumber
    trigger
    prompt
    status
    outcome
    error
    fixAttempt
    fixFollows
    steps
    provider
    model
    startedAt
    finishedAt
    messages {
      id
      turnNumber
      kind
      text
      createdAt
    }
  }
`);

/** How many of the latest turns the panel holds. */
export const AGENT_TURNS_SHOWN = 50;

export const ChatAgentDocument = graphql(`
  query ChatAgent($id: ID!, $last: Int!) {
    agentStatus {
      enabled
      disabledReason
      sandbox
      sandboxReason
      workspacesRoot
    }
    chat(id: $id) {
      id
      source
      agent {
        ...AgentSettingsFields
      }
      activeTurn {
        ...AgentTurnFields
      }
      agentTurns(last: $last) {
        ...AgentTurnFields
      }
    }
  }
`);

export const AgentSettingsFieldsFragment = graphql(`
  fragment AgentSettingsFields on AgentSettings {
    provider
    model
    workspace
    fixAttempts
    buildCommand
    stored
  }
`);

export const SendMessageDocument = graphql(`
  mutation SendMessage($chatId: ID!, $text: String!) {
    sendMessage(chatId: $chatId, text: $text) {
      __typename
      ... on SendMessagePayload {
        turnNumber
        turn {
          ...AgentTurnFields
        }
      }
      ... on Error {
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
    }
  }
`);

export const CancelTurnDocument = graphql(`
  mutation CancelTurn($chatId: ID!) {
    cancelTurn(chatId: $chatId) {
      __typename
      ... on CancelTurnPayload {
        turn {
          ...AgentTurnFields
        }
      }
      ... on Error {
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
    }
  }
`);

export const UpdateAgentSettingsDocument = graphql(`
  mutation UpdateAgentSettings($chatId: ID!, $input: AgentSettingsInput!) {
    updateAgentSettings(chatId: $chatId, input: $input) {
      __typename
      ... on AgentSettings {
        ...AgentSettingsFields
      }
      ... on Error {
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
    }
  }
`);

export type AgentStatusInfo = ChatAgentQuery["agentStatus"];
export type { AgentActionError, AgentMessageInfo, AgentSettingsInfo, AgentTurnInfo };
/** What a mutation can fail with: a typed error of its union, or urql's CombinedError. */
export type AgentMutationError = AgentActionError | CombinedError;

type Source<T> = T | Ref<T> | (() => T);

/** A turn, message or settings as a query, a mutation or an event returns it (masked by the codegen preset), read. */
export const readTurn = (turn: FragmentType<typeof AgentTurnFieldsFragment>): AgentTurnInfo => useFragment(AgentTurnFieldsFragment, turn);
export const readMessage = (message: FragmentType<typeof AgentMessageFieldsFragment>): AgentMessageInfo => useFragment(AgentMessageFieldsFragment, message);
const readSettings = (settings: FragmentType<typeof AgentSettingsFieldsFragment>): AgentSettingsInfo => useFragment(AgentSettingsFieldsFragment, settings);

/** The part of a chatEvents ChatEvent useAgent reads. */
export interface AgentEventShape {
  kind: string;
  turn?: FragmentType<typeof AgentTurnFieldsFragment> | null;
  message?: FragmentType<typeof AgentMessageFieldsFragment> | null;
}

export const AGENT_EVENT_KINDS = new Set(["turn_started", "turn_finished", "assistant_message", "agent_error"]);

export function useAgent(chatId: Source<string | null | undefined>, options: { client?: Client; ready?: Source<boolean>; delayMs?: number } = {}) {
  const client = options.client ?? useClientHandle().client;
  const status = shallowRef<AgentStatusInfo | null>(null);
  const settings = shallowRef<AgentSettingsInfo | null>(null);
  const source = shallowRef<string | null>(null);
  const turns = shallowRef<AgentTurnInfo[]>([]);
  const error = shallowRef<unknown>(null);
  const loading = ref(true);
  const sending = ref(false);
  const cancelling = ref(false);
  const saving = ref(false);
  const sendError = shallowRef<AgentMutationError | null>(null);
  const cancelError = shallowRef<AgentMutationError | null>(null);
  const settingsError = shallowRef<AgentMutationError | null>(null);
  /** Messages whose turn is not known yet (it is read or arrives next). */
  let orphans: AgentMessageInfo[] = [];
  let generation = 0;
  let disposed = false;

  const isReady = () => (options.ready === undefined ? true : toValue(options.ready));

  function putTurn(turn: AgentTurnInfo) {
    let next = upsertTurn(turns.value, turn);
    if (orphans.length) {
      const still: AgentMessageInfo[] = [];
      for (const m of orphans) {
        const placed = upsertMessage(next, m);
        if (placed) next = placed;
        else still.push(m);
      }
      orphans = still;
    }
    turns.value = next.length > AGENT_TURNS_SHOWN ? next.slice(next.length - AGENT_TURNS_SHOWN) : next;
  }

  function putMessage(message: AgentMessageInfo) {
    const next = upsertMessage(turns.value, message);
    if (next) turns.value = next;
    else {
      orphans.push(message);
      reader.request();
    }
  }

  async function read() {
    const id = toValue(chatId);
    if (!id || !isReady()) return;
    const gen = generation;
    const res = await client.query(ChatAgentDocument, { id, last: AGENT_TURNS_SHOWN }, { requestPolicy: "network-only" }).toPromise();
    if (gen !== generation || disposed) return;
    loading.value = false;
    if (res.error) {
      error.value = res.error;
      return;
    }
    if (res.data) status.value = res.data.agentStatus;
    const c = res.data?.chat;
    if (!c) {
      error.value = new Error("This chat does not exist (it may have been deleted).");
      return;
    }
    error.value = null;
    source.value = c.source ?? null;
    settings.value = c.agent ? readSettings(c.agent) : null;
    // Merged into what events brought meanwhile (upsertTurn never takes an ended turn back to running).
    for (const t of c.agentTurns) putTurn(readTurn(t));
    if (c.activeTurn) putTurn(readTurn(c.activeTurn));
  }

  const reader = coalesce(read, options.delayMs ?? 300);

  watch(
    () => toValue(chatId),
    () => {
      generation++;
      reader.cancel();
      loading.value = true;
      error.value = null;
      settings.value = null;
      turns.value = [];
      orphans = [];
      sendError.value = cancelError.value = settingsError.value = null;
      if (isReady()) void reader.flush();
    },
    { immediate: true },
  );
  if (options.ready !== undefined) {
    const ready = options.ready;
    watch(
      () => toValue(ready),
      (now, before) => {
        if (now && !before && loading.value) void reader.flush();
      },
    );
  }

  onScopeDispose(() => {
    disposed = true;
    reader.cancel();
  });

  /** Applies a live event; returns whether it was one of the agent's. */
  function applyEvent(event: AgentEventShape): boolean {
    if (!AGENT_EVENT_KINDS.has(event.kind)) return false;
    if (event.turn) putTurn(readTurn(event.turn));
    else if (event.message) putMessage(readMessage(event.message));
    // A turn or message deleted meanwhile (the chat was): nothing to show.
    return true;
  }

  async function send(text: string): Promise<boolean> {
    const id = toValue(chatId);
    if (!id || sending.value) return false;
    sending.value = true;
    sendError.value = null;
    const res = await client.mutation(SendMessageDocument, { chatId: id, text }).toPromise();
    sending.value = false;
    const r = res.data?.sendMessage;
    if (res.error) sendError.value = res.error;
    else if (r?.__typename === "SendMessagePayload") {
      putTurn(readTurn(r.turn));
      return true;
    } else sendError.value = typedError(r, "SendMessagePayload");
    return false;
  }

  async function cancel(): Promise<boolean> {
    const id = toValue(chatId);
    if (!id || cancelling.value) return false;
    cancelling.value = true;
    cancelError.value = null;
    const res = await client.mutation(CancelTurnDocument, { chatId: id }).toPromise();
    cancelling.value = false;
    const r = res.data?.cancelTurn;
    if (res.error) cancelError.value = res.error;
    else if (r?.__typename === "CancelTurnPayload") {
      putTurn(readTurn(r.turn));
      return true;
    } else cancelError.value = typedError(r, "CancelTurnPayload");
    return false;
  }

  async function updateSettings(input: AgentSettingsInput): Promise<boolean> {
    const id = toValue(chatId);
    if (!id || saving.value) return false;
    saving.value = true;
    settingsError.value = null;
    const res = await client.mutation(UpdateAgentSettingsDocument, { chatId: id, input }).toPromise();
    saving.value = false;
    const r = res.data?.updateAgentSettings;
    if (res.error) settingsError.value = res.error;
    else if (r?.__typename === "AgentSettings") {
      settings.value = readSettings(r);
      return true;
    } else settingsError.value = typedError(r, "AgentSettings");
    return false;
  }

  return {
    status,
    /** The external agent the chat records (its own agent's panel is not for it), once read. */
    source,
    settings,
    turns,
    activeTurn: computed(() => runningTurn(turns.value)),
    error,
    loading,
    sending,
    cancelling,
    saving,
    sendError,
    cancelError,
    settingsError,
    applyEvent,
    send,
    cancel,
    updateSettings,
    refresh: () => reader.flush(),
    invalidate: () => reader.request(),
  };
}

export type Agent = ReturnType<typeof useAgent>;
