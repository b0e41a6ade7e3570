/**
 * One session with Tracedeck's agent through a running server's API, printed as it happens: the
 * code path of `npm run agent` and `npm run demo`.
 *
 *   1. agentStatus: the server is reachable and its agent is on;
 *   2. the chat: an existing one (chatId) or a new one titled from the prompt;
 *   3. updateAgentSettings: the workspace (the server checks it lies inside its
 *      AGENT_WORKSPACES_ROOT), provider, model, build, fix attempts;
 *   4. chatEvents from the chat's eventCursor, read before the message is sent, so nothing is
 *      missed; the message is sent once the stream is open;
 *   5. every event printed until a turn_finished without fixFollows: the run (the turn and its
 *      auto-fix turns) is over.
 *
 * Cancelling (the signal) sends cancelTurn, which returns once the turn has ended.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { type Api, ApiError, ERROR_FIELDS, ResultError, unwrapResult } from "./api.js";
import { type Style, type Tokens, addTokens, label, describeToolInput, formatMs, formatTokens, indent, oneLine, titleFromPrompt, zeroTokens } from "./format.js";

export interface AgentStatusInfo {
  enabled: boolean;
  disabledReason: string | null;
  sandbox: string;
  sandboxReason: string | null;
  workspacesRoot: string;
}

export interface SessionChat {
  id: string;
  uuid: string;
  title: string;
  /** Where the dashboard shows it: <url>/chats/<uuid>. */
  url: string;
  created: boolean;
}

export interface SessionSettings {
  provider: string;
  model: string;
  workspace: string;
  buildCommand: string[] | null;
  fixAttempts: number;
}

export interface SessionOptions {
  api: Api;
  prompt: string;
  /** The workspace as given by the user: see resolveWorkspaceArg. */
  workspace: string;
  /** Continue this chat (global id or UUID) instead of creating one. */
  chatId?: string;
  provider?: string;
  model?: string;
  /** undefined: keep the chat's; null: detect (pnpm build or npm run build); []: no build. */
  buildCommand?: string[] | null;
  fixAttempts?: number;
  /** Where progress is printed. */
  out: { write(text: string): unknown };
  style: Style;
  /** Print the server line and the chat's dashboard URL in the header (the demo prints its own). */
  fullHeader?: boolean;
  /** Runs once the chat is set up, before the message is sent (the demo announces the URL here). */
  beforeSend?: (chat: SessionChat, settings: SessionSettings) => Promise<void>;
  /** Aborted: the running turn is cancelled (cancelTurn) and the session ends. */
  signal?: AbortSignal;
  /** The current directory, for a relative workspace (tests). */
  cwd?: string;
}

export interface TraceLine {
  turnNumber: number;
  toolName: string;
  status: string;
  latencyMs: number | null;
  error: string | null;
}

export interface FinishedTurn {
  turnNumber: number;
  trigger: string;
  fixAttempt: number | null;
  status: string;
  outcome: string | null;
  error: string | null;
  fixFollows: boolean;
  steps: number;
  tokens: Tokens;
}

export interface SessionResult {
  chat: SessionChat;
  settings: SessionSettings;
  status: AgentStatusInfo;
  turns: FinishedTurn[];
  traces: TraceLine[];
  /** The last turn's status; "cancelled" when the signal cancelled the run. */
  finalStatus: string;
  /** The last build of the run failed (or timed out) and no fix followed. */
  buildFailing: boolean;
  /** A build ran in the run and its last one passed. */
  buildPassed: boolean;
  tokens: Tokens;
  /** 0: the last turn ended ok (and its build, if any, passed); 130: cancelled by the signal; 1 otherwise. */
  exitCode: number;
}

const TURN_FIELDS = `turnNumber trigger fixAttempt fixFollows status outcome error prompt steps provider model tokens { input output cacheRead cacheWrite reasoning }`;
const TRACE_FIELDS = `uuid turnNumber toolName toolInput status latencyMs error toolOutput`;

const STATUS_QUERY = `query AgentCliStatus { agentStatus { enabled disabledReason sandbox sandboxReason workspacesRoot } }`;
const CHAT_QUERY = `query AgentCliChat($id: ID!) { chat(id: $id) { id uuid title eventCursor activeTurn { turnNumber } } }`;
const CREATE_CHAT = `mutation AgentCliCreateChat($input: CreateChatInput) { createChat(input: $input) { __typename ... on Chat { id uuid title eventCursor } ${ERROR_FIELDS} } }`;
const DELETE_CHAT = `mutation AgentCliDeleteChat($id: ID!) { deleteChat(id: $id) { __typename } }`;
const UPDATE_SETTINGS = `mutation AgentCliSettings($chatId: ID!, $input: AgentSettingsInput!) { updateAgentSettings(chatId: $chatId, input: $input) { __typename ... on AgentSettings { provider model workspace buildCommand fixAttempts } ${ERROR_FIELDS} } }`;
const SEND_MESSAGE = `mutation AgentCliSend($chatId: ID!, $text: String!) { sendMessage(chatId: $chatId, text: $text) { __typename ... on SendMessagePayload { turnNumber } ${ERROR_FIELDS} } }`;
const CANCEL_TURN = `mutation AgentCliCancel($chatId: ID!) { cancelTurn(chatId: $chatId) { __typename ... on CancelTurnPayload { turn { turnNumber status } } ${ERROR_FIELDS} } }`;
const CHAT_EVENTS = `subscription AgentCliEvents($chatId: ID!, $after: String) {
  chatEvents(chatId: $chatId, after: $after) {
    __typename
    ... on ChatStreamOpening { seq }
    ... on ChatEvent { kind seq cursor trace { ${TRACE_FIELDS} } turn { ${TURN_FIELDS} } message { kind text turnNumber } }
  }
}`;

interface EventTurn extends FinishedTurn {
  prompt: string;
  provider: string;
  model: string;
}
interface EventTrace extends TraceLine {
  uuid: string;
  toolInput: unknown;
  toolOutput: string | null;
}
interface ChatEventMessage {
  __typename: "ChatEvent";
  kind: string;
  seq: number;
  cursor: string;
  trace: EventTrace | null;
  turn: EventTurn | null;
  message: { kind: string; text: string; turnNumber: number } | null;
}
type StreamMessage = { __typename: "ChatStreamOpening"; seq: number } | ChatEventMessage;

/**
 * The workspace value sent to the server. An absolute path is sent as is. A relative one is taken
 * from the current directory when it starts with ./ or ../, or when it names a folder there that
 * lies inside the server's workspaces root; otherwise it is sent as given, and the server reads it
 * relative to its AGENT_WORKSPACES_ROOT.
 */
export function resolveWorkspaceArg(dir: string, workspacesRoot: string, cwd = process.cwd()): string {
  if (path.isAbsolute(dir)) return path.normalize(dir);
  const fromCwd = path.resolve(cwd, dir);
  if (/^\.\.?(\/|$)/.test(dir)) return fromCwd;
  const rel = path.relative(path.resolve(workspacesRoot), fromCwd);
  const inside = rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  return inside && existsSync(fromCwd) ? fromCwd : dir;
}

/** A ResultError or ApiError as lines for a person: the message, then each issue. */
export function describeError(error: unknown): string {
  if (error instanceof ResultError) {
    const issues = error.issues.map((i) => `  ${i.path.join(".") || "input"}: ${i.message}`);
    // A ValidationError's message already names the issue when there is one.
    const repeated = error.issues.length === 1 && error.message.includes(error.issues[0]!.message);
    return [`${error.message}`, ...(repeated ? [] : issues)].join("\n");
  }
  if (error instanceof ApiError) return error.message;
  return (error as Error)?.message ?? String(error);
}

export async function fetchAgentStatus(api: Api): Promise<AgentStatusInfo> {
  return (await api.request<{ agentStatus: AgentStatusInfo }>(STATUS_QUERY)).agentStatus;
}

/** The server's settings input for the session's options (fields left out keep their value). */
function settingsInput(options: SessionOptions, workspace: string): Record<string, unknown> {
  const input: Record<string, unknown> = { workspace };
  if (options.provider !== undefined) input.provider = options.provider;
  if (options.model !== undefined) input.model = options.model;
  if (options.buildCommand === null) input.detectBuildCommand = true;
  else if (options.buildCommand !== undefined) input.buildCommand = options.buildCommand;
  if (options.fixAttempts !== undefined) input.fixAttempts = options.fixAttempts;
  return input;
}

export async function runAgentSession(options: SessionOptions): Promise<SessionResult> {
  const { api, out, style } = options;
  const say = (line = "") => out.write(`${line}\n`);

  // 1. The server and its agent.
  const status = await fetchAgentStatus(api);
  if (!status.enabled) throw new ApiError(`the agent is off on this server: ${status.disabledReason ?? "no reason given"}`);

  const workspace = resolveWorkspaceArg(options.workspace, status.workspacesRoot, options.cwd);

  // 2. The chat.
  let chat: SessionChat;
  let after: string;
  if (options.chatId) {
    const found = (await api.request<{ chat: { id: string; uuid: string; title: string; eventCursor: string; activeTurn: { turnNumber: number } | null } | null }>(CHAT_QUERY, { id: options.chatId })).chat;
    if (!found) throw new ApiError(`there is no chat ${options.chatId} on ${api.baseUrl}`);
    if (found.activeTurn) throw new ApiError(`turn ${found.activeTurn.turnNumber} of this chat is still running; wait for it to finish, or cancel it in the dashboard`);
    chat = { id: found.id, uuid: found.uuid, title: found.title, url: `${api.baseUrl}/chats/${found.uuid}`, created: false };
    after = found.eventCursor;
  } else {
    const created = unwrapResult(
      (await api.request<{ createChat: { __typename: string; id: string; uuid: string; title: string; eventCursor: string } }>(CREATE_CHAT, {
        input: { title: titleFromPrompt(options.prompt), workspace },
      })).createChat,
    );
    chat = { id: created.id, uuid: created.uuid, title: created.title, url: `${api.baseUrl}/chats/${created.uuid}`, created: true };
    after = created.eventCursor;
  }
  /** A chat this session created and that never got a turn is removed again on a failure. */
  const dropChat = async () => {
    if (chat.created) await api.request(DELETE_CHAT, { id: chat.id }).catch(() => {});
  };

  // 3. The agent's settings for the chat.
  let settings: SessionSettings;
  try {
    try {
      settings = unwrapResult(
        (await api.request<{ updateAgentSettings: SessionSettings & { __typename: string } }>(UPDATE_SETTINGS, { chatId: chat.id, input: settingsInput(options, workspace) }))
          .updateAgentSettings,
      );
    } catch (error) {
      const issue = error instanceof ResultError ? error.issues.find((i) => i.path.at(-1) === "workspace") : undefined;
      if (issue) throw new ApiError(`the workspace ${workspace} was refused: it ${issue.message}`);
      throw error;
    }
  } catch (error) {
    await dropChat();
    throw error;
  }

  // The header: before the demo's announcement, else once the message is accepted (a refused
  // message leaves no chat behind to link to). Events that come first wait for it.
  let headerShown = false;
  const waiting: ChatEventMessage[] = [];
  const showHeader = () => {
    if (headerShown) return;
    headerShown = true;
    const sandboxNote =
      status.sandbox === "bwrap"
        ? style.green("sandbox bwrap")
        : status.sandbox === "off"
          ? style.yellow("sandbox off: commands run unconfined")
          : status.sandbox === "unavailable"
            ? style.red(`sandbox unavailable: commands will be refused (${status.sandboxReason ?? "no reason given"})`)
            : `sandbox ${status.sandbox}`;
    const build = settings.buildCommand === null ? "detected" : settings.buildCommand.length === 0 ? "off" : settings.buildCommand.join(" ");
    const full = options.fullHeader !== false;
    if (full) say(`${label("Tracedeck", style)}${api.baseUrl} · ${sandboxNote}`);
    say(`${label("Chat", style)}${chat.title}${chat.created ? style.dim(" (new)") : ""}`);
    if (full) say(`${label("Dashboard", style)}${style.cyan(chat.url)}`);
    say(
      `${label("Agent", style)}${settings.provider} · ${settings.model} · workspace ${path.resolve(status.workspacesRoot, settings.workspace)} · build ${build} · ${settings.fixAttempts} auto-fix attempt${settings.fixAttempts === 1 ? "" : "s"}`,
    );
    for (const event of waiting.splice(0)) onEvent(event);
  };

  if (options.beforeSend) {
    showHeader();
    await options.beforeSend(chat, settings);
  }

  // 4. The stream, then the message.
  const turns: FinishedTurn[] = [];
  const traces: TraceLine[] = [];
  let tokens = zeroTokens();
  if (options.signal?.aborted) {
    // Cancelled before anything was sent: nothing to cancel on the server.
    await dropChat();
    return { chat, settings, status, turns, traces, finalStatus: "cancelled", buildFailing: false, buildPassed: false, tokens, exitCode: 130 };
  }
  let lastBuild: string | null = null;
  let finished!: (turn: EventTurn | null) => void;
  const runOver = new Promise<EventTurn | null>((resolve) => (finished = resolve));
  let runEnded = false;

  const errorsSaid = new Set<string>();
  function onEvent(event: ChatEventMessage): void {
    switch (event.kind) {
      case "turn_started": {
        const turn = event.turn!;
        say();
        const which = turn.trigger === "autofix" ? ` · auto-fix attempt ${turn.fixAttempt ?? "?"} of ${settings.fixAttempts}` : "";
        say(style.bold(`── Turn ${turn.turnNumber}${which} ${"─".repeat(Math.max(4, 48 - which.length))}`));
        const promptLines = turn.prompt.trim().split("\n");
        const rest = promptLines.length - 1;
        say(style.dim(`» ${oneLine(promptLines[0] ?? "", 160)}${rest > 0 ? ` … (+${rest} line${rest === 1 ? "" : "s"})` : ""}`));
        break;
      }
      case "trace_started": {
        const trace = event.trace!;
        const what = describeToolInput(trace.toolName, trace.toolInput);
        say(`${style.cyan("▸")} ${trace.toolName}${what ? ` ${what}` : ""}`);
        break;
      }
      case "trace_finished": {
        const trace = event.trace!;
        traces.push({ turnNumber: trace.turnNumber, toolName: trace.toolName, status: trace.status, latencyMs: trace.latencyMs, error: trace.error });
        if (trace.toolName === "build") lastBuild = trace.status;
        const took = formatMs(trace.latencyMs);
        if (trace.status === "ok") {
          say(`${style.green("✓")} ${trace.toolName} ${style.dim(took)}`);
        } else if (trace.status === "cancelled" || trace.status === "abandoned") {
          say(`${style.yellow("■")} ${trace.toolName} ${trace.status}${took ? ` after ${took}` : ""}`);
        } else {
          say(`${style.red("✗")} ${trace.toolName} ${took}: ${style.red(oneLine(trace.error ?? trace.status, 200))}`);
          // A failed command's own words: what the build (or the command) printed.
          if ((trace.toolName === "build" || trace.toolName === "run_command") && trace.toolOutput) {
            const shown = trace.toolOutput
              .split("\n")
              .filter((line) => line.trim() !== "" && !/^> /.test(line))
              .join("\n");
            if (shown) say(style.dim(indent(shown, "    │ ", 12)));
          }
        }
        break;
      }
      case "assistant_message":
        say(indent(event.message!.text, "  "));
        break;
      case "agent_error":
        errorsSaid.add(event.message!.text);
        say(`${style.red("!")} ${style.red(indent(event.message!.text, "  ").trimStart())}`);
        break;
      case "turn_finished": {
        const turn = event.turn!;
        turns.push({
          turnNumber: turn.turnNumber,
          trigger: turn.trigger,
          fixAttempt: turn.fixAttempt,
          status: turn.status,
          outcome: turn.outcome,
          error: turn.error,
          fixFollows: turn.fixFollows,
          steps: turn.steps,
          tokens: turn.tokens,
        });
        tokens = addTokens(tokens, turn.tokens);
        const mark = turn.status === "ok" ? style.green("■") : style.red("■");
        const statusText = turn.status === "ok" ? style.green("ok") : style.red(turn.status);
        say(`${mark} Turn ${turn.turnNumber} ${statusText}${turn.outcome ? `: ${turn.outcome}` : ""}${turn.error && turn.error !== turn.outcome && !errorsSaid.has(turn.error) ? style.red(` (${turn.error})`) : ""}`);
        say(style.dim(`  tokens: ${formatTokens(turn.tokens)}`));
        if (!turn.fixFollows) {
          runEnded = true;
          finished(turn);
        }
        break;
      }
      case "chat_deleted":
        say(style.red("! the chat was deleted"));
        runEnded = true;
        finished(null);
        break;
      default:
        break; // chat_updated, snapshot_saved, …: the dashboard's business
    }
  }

  const stream = openChatStream(api, chat.id, after, (event) => (headerShown ? onEvent(event) : waiting.push(event)), (state) =>
    say(style.yellow(state === "lost" ? "… the connection to Tracedeck was lost; reconnecting (for up to 30 s)" : "… reconnected")),
  );
  try {
    await stream.opened;
  } catch (error) {
    stream.dispose();
    await dropChat();
    throw error;
  }

  try {
    unwrapResult((await api.request<{ sendMessage: { __typename: string; turnNumber: number } }>(SEND_MESSAGE, { chatId: chat.id, text: options.prompt })).sendMessage);
  } catch (error) {
    stream.dispose();
    await dropChat();
    const issue = error instanceof ResultError ? error.issues.find((i) => i.path.at(-1) === "workspace") : undefined;
    if (issue) throw new ApiError(`cannot start the turn: ${issue.message}`);
    throw error;
  }
  showHeader();

  // 5. Until the run is over, the stream fails, or the user cancels.
  let cancelledByUser = false;
  const cancelled = new Promise<"cancel">((resolve) => {
    if (options.signal?.aborted) resolve("cancel");
    options.signal?.addEventListener("abort", () => resolve("cancel"), { once: true });
  });
  let last: EventTurn | null;
  try {
    const first = await Promise.race([runOver, stream.ended.then(() => null), cancelled]);
    if (first === "cancel") {
      cancelledByUser = true;
      if (!runEnded) {
        say();
        say(style.yellow("Cancelling the turn… (Ctrl-C again to quit at once)"));
        try {
          const result = unwrapResult(
            (await api.request<{ cancelTurn: { __typename: string; turn: { turnNumber: number; status: string } } }>(CANCEL_TURN, { chatId: chat.id }, { timeoutMs: 60_000 })).cancelTurn,
          );
          // Its turn_finished, printed if it arrives soon; else what cancelTurn said.
          await Promise.race([runOver, new Promise((resolve) => setTimeout(resolve, 3_000))]);
          if (!runEnded) say(style.yellow(`■ Turn ${result.turn.turnNumber} ${result.turn.status}`));
        } catch (error) {
          // NotFound: the turn ended meanwhile.
          if (!(error instanceof ResultError && error.typename === "NotFoundError")) say(style.red(`! cancelTurn: ${describeError(error)}`));
        }
      }
      last = null;
    } else {
      last = first;
    }
  } finally {
    stream.dispose();
  }
  if (!cancelledByUser && !runEnded) throw new ApiError("the event stream ended before the run finished");

  const finalStatus = cancelledByUser ? "cancelled" : (last?.status ?? "error");
  const buildFailing = lastBuild !== null && lastBuild !== "ok";
  const exitCode = cancelledByUser ? 130 : finalStatus === "ok" && !buildFailing ? 0 : 1;
  return { chat, settings, status, turns, traces, finalStatus, buildFailing, buildPassed: lastBuild === "ok", tokens, exitCode };
}

/**
 * chatEvents from `after`, resumed from the last event's cursor when the connection drops (for up
 * to about 30 s, a try a second). `opened` resolves with the stream's opening; `ended` when the server ends
 * the stream; either rejects with an ApiError when the stream cannot go on.
 */
function openChatStream(api: Api, chatId: string, after: string, onEvent: (event: ChatEventMessage) => void, onConnection: (state: "lost" | "back") => void) {
  const MAX_RETRIES = 30;
  let cursor = after;
  let disposed = false;
  let isOpen = false;
  let failures = 0;
  let client = api.wsClient();
  let openedResolve!: () => void;
  let openedReject!: (error: Error) => void;
  const opened = new Promise<void>((resolve, reject) => ((openedResolve = resolve), (openedReject = reject)));
  let endedResolve!: () => void;
  let endedReject!: (error: Error) => void;
  const ended = new Promise<void>((resolve, reject) => ((endedResolve = resolve), (endedReject = reject)));
  opened.catch(() => {});
  const fail = (error: Error) => {
    if (!isOpen) openedReject(error);
    endedReject(error);
  };

  const connect = () => {
    client.subscribe<{ chatEvents: StreamMessage }>(
      { query: CHAT_EVENTS, variables: { chatId, after: cursor } },
      {
        next: (value) => {
          if (value.errors?.length) return fail(new ApiError(`the event stream was refused: ${value.errors.map((e) => e.message).join("; ")}`));
          const message = value.data?.chatEvents;
          if (!message) return;
          if (message.__typename === "ChatStreamOpening") {
            if (failures > 0) onConnection("back");
            failures = 0;
            if (!isOpen) {
              isOpen = true;
              openedResolve();
            }
            return;
          }
          cursor = message.cursor;
          onEvent(message);
        },
        error: (error: unknown) => {
          if (disposed) return;
          if (Array.isArray(error)) return fail(new ApiError(`the event stream was refused: ${error.map((e: { message?: string }) => e.message).join("; ")}`));
          const code = (error as { code?: number })?.code;
          // 4xxx: the server refused the subscription itself (bad request, forbidden): no retry.
          if (typeof code === "number" && code >= 4000 && code < 5000) {
            return fail(new ApiError(`the event stream was closed by the server (${code} ${(error as { reason?: string }).reason ?? ""})`.trim()));
          }
          failures += 1;
          if (!isOpen || failures > MAX_RETRIES) {
            const why = (error as Error)?.message || (typeof code === "number" ? `close code ${code}` : "connection failed");
            return fail(new ApiError(`cannot keep the event stream of ${api.wsUrl} open (${why})`));
          }
          if (failures === 1) onConnection("lost");
          void client.dispose();
          setTimeout(() => {
            if (disposed) return;
            client = api.wsClient();
            connect();
          }, 1_000);
        },
        complete: () => {
          if (!disposed) endedResolve();
        },
      },
    );
  };
  connect();
  return {
    opened,
    ended,
    dispose() {
      disposed = true;
      ended.catch(() => {});
      void client.dispose();
    },
  };
}

/** The run's totals in a few lines, for the end of a session. */
export function summarizeSession(result: SessionResult, style: Style): string {
  const lines: string[] = [];
  const byStatus = (s: string) => result.traces.filter((t) => t.status === s).length;
  const failed = result.traces.length - byStatus("ok");
  lines.push(
    `${label("Turns", style)}${result.turns.length} (${result.turns.map((t) => `${t.turnNumber} ${t.trigger === "autofix" ? "auto-fix" : "user"} ${t.status}`).join(", ") || "none finished"})`,
  );
  const calls = result.traces.map((t) => `${t.toolName}${t.status === "ok" ? "" : ` ${t.status}`}`).join(", ");
  lines.push(`${label("Tool calls", style)}${result.traces.length}${failed ? ` (${failed} not ok)` : ""}${calls ? `: ${calls}` : ""}`);
  const build = result.buildPassed ? style.green("passed") : result.buildFailing ? style.red("failing") : "not run";
  lines.push(`${label("Build", style)}${build}`);
  lines.push(`${label("Tokens", style)}${formatTokens(result.tokens)}`);
  return lines.join("\n");
}
