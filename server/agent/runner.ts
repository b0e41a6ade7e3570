/**
 * The agent of one server process: it takes a chat's message, runs the turn and then the auto-fix
 * loop in the background, and answers at once with the turn (progress reaches viewers through the
 * chat's events). It owns the process's run id, the sandbox found at start-up, the turns running
 * here and their cancellation.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { z } from "zod";
import { type AgentConfig, DEFAULT_MODELS } from "../config.js";
import type { AgentSettings, AgentTurn } from "../db/generated/prisma/client.js";
import { isDatabaseUnavailable } from "../db/availability.js";
import { AgentDisabledError, ConflictError, NotFoundError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { Services } from "../services/index.js";
import type { RestoreResult } from "../services/snapshots.js";
import { parseInput, uuid } from "../services/validation.js";
import { runAutofixBuild } from "./autofix/autofix-build.js";
import { type FileRewindResult, applyRewind } from "./file-rewind.js";
import { orphanedCommandGroups } from "./leftover-commands.js";
import { type ConversationMessage, type ModelProvider, type ProviderName, createProvider } from "./providers/index.js";
import { type Sandbox, detectSandbox } from "./sandbox.js";
import { type AgentSettingsState, type AgentState, type PendingAutofix, fitState, readState } from "./state.js";
import { agentTools, type AnyAgentTool } from "./tools/index.js";
import { type TurnResult, runTurn } from "./turn-loop.js";
import { defaultWorkspaceOf, normalizeWorkspaceSetting, openWorkspace } from "./workspace-setting.js";

/** How often a process says it is alive, and how long silence means it is gone. */
const HEARTBEAT_MS = 10_000;
const GONE_AFTER_MS = 60_000;

export interface AgentRunnerOptions {
  services: Services;
  config: AgentConfig;
  log: Logger;
  /** The snapshot size limit: the state is fitted under it. */
  snapshotMaxBytes: number;
  /** Tests: a sandbox instead of detecting one. */
  sandbox?: Sandbox;
  /** Tests: the tools the model is given. */
  tools?: readonly AnyAgentTool[];
}

export interface EffectiveAgentSettings extends AgentSettingsState {
  /** Whether the chat has stored settings, or runs on the server's defaults. */
  stored: boolean;
}

export interface AgentRestoreResult extends RestoreResult {
  /** Present when the restore was asked to rewind files. */
  files: FileRewindResult | null;
}

export interface AgentStatus {
  enabled: boolean;
  disabledReason: string | null;
  sandbox: Sandbox["kind"] | "pending";
  sandboxReason: string | null;
  workspacesRoot: string;
  runId: string;
}

const messageText = z.string().trim().min(1, "must not be empty").max(100_000, "must be at most 100000 characters");

export function createAgentRunner(options: AgentRunnerOptions) {
  const { services, config, log } = options;
  const runId = randomUUID();
  const tools = options.tools ?? agentTools;
  let sandbox: Sandbox | undefined = options.sandbox;
  let heartbeat: NodeJS.Timeout | undefined;
  let stopping = false;
  /** The chats whose turn (and auto-fix loop) runs in this process. */
  const active = new Map<string, { controller: AbortController; done: Promise<void> }>();

  function ensureEnabled(): void {
    if (!config.enabled) throw new AgentDisabledError(config.disabledReason ?? "the agent is disabled");
    if (stopping) throw new AgentDisabledError("the server is stopping");
  }

  async function settingsOf(chatId: string): Promise<EffectiveAgentSettings> {
    const row: AgentSettings | null = await services.agentSettings.get(chatId);
    if (!row) {
      await services.chats.get(chatId); // NotFound for a missing chat
      return {
        stored: false,
        provider: config.defaultProvider,
        model: config.defaultModel,
        workspace: defaultWorkspaceOf(chatId),
        buildCommand: null,
        fixAttempts: config.fixAttempts,
      };
    }
    return {
      stored: true,
      provider: row.provider,
      model: row.model,
      workspace: row.workspace,
      buildCommand: Array.isArray(row.buildCommand) ? (row.buildCommand as string[]) : null,
      fixAttempts: row.fixAttempts,
    };
  }

  async function abandonGone(options: { killedLeftovers?: boolean } = {}): Promise<void> {
    const gone = [...new Set([...(await services.agentRuns.goneRuns(runId, GONE_AFTER_MS)), ...(await services.agentRuns.unclaimedOwners(runId))])];
    if (gone.length === 0) return;
    // Their commands first: a command still running must not outlive the trace that says it ended.
    if (!options.killedLeftovers) await killLeftoverCommands();
    await services.agentTurns.abandonRuns(gone);
    await services.agentRuns.forget(gone);
  }

  /** Kills the commands a dead server process of this machine left running (see orphanedCommandGroups). */
  async function killLeftoverCommands(): Promise<void> {
    try {
      const groups = await orphanedCommandGroups(config.workspacesRoot);
      for (const group of groups) {
        try {
          process.kill(-group, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
      if (groups.length > 0) log.warn("agent.killed_leftover_commands", { groups, hint: "a server process died while these commands ran" });
    } catch (error) {
      log.warn("agent.leftover_commands_check_failed", { error: (error as Error).message });
    }
  }

  const providerFor = (s: AgentSettingsState): ModelProvider => createProvider(s.provider as ProviderName, s.model, config.providers);

  /**
   * Runs a turn, then the auto-fix loop: build after a turn that changed files; a failing build's
   * errors start the next turn, up to the chat's attempts. Every turn ends with a snapshot.
   */
  async function runChain(first: AgentTurn, messages: ConversationMessage[], settings: AgentSettingsState, workspace: string, controller: AbortController): Promise<void> {
    let turn = first;
    let conversation = messages;
    let fixesRun = first.fixAttempt ?? 0;
    for (;;) {
      const signal = controller.signal;
      const ctx = { workspace, signal, sandbox, commandTimeouts: config.commandTimeouts };
      let result: TurnResult;
      let pending: PendingAutofix | null = null;
      let outcome: string;
      let status: TurnResult["status"];
      let error: string | undefined;
      try {
        result = await runTurn({
          services,
          chatId: turn.chatId,
          turnNumber: turn.turnNumber,
          ownerRunId: runId,
          provider: providerFor(settings),
          model: settings.model,
          messages: conversation,
          tools,
          ctx,
          maxSteps: config.maxSteps,
          journal: { workspace: settings.workspace, maxFileBytes: config.journalMaxFileBytes },
        });
        ({ outcome, status, error } = result);
        if (status === "ok" && result.wroteFiles) {
          const build = await runAutofixBuild({
            services,
            chatId: turn.chatId,
            turnNumber: turn.turnNumber,
            ownerRunId: runId,
            workspace,
            buildCommand: settings.buildCommand,
            ctx: { ...ctx, commandTimeouts: { defaultMs: config.buildTimeoutMs, maxMs: Math.max(config.buildTimeoutMs, config.commandTimeouts.maxMs) } },
            fixesRun,
            maxAttempts: settings.fixAttempts,
          });
          if (build.kind === "cancelled") status = "cancelled";
          if (build.summary) outcome = `${outcome}; ${build.summary}`;
          if (build.kind === "retry") pending = build.pending;
          if (build.kind === "exhausted" || build.kind === "refused") {
            await services.agentTurns.say({ chatId: turn.chatId, turnNumber: turn.turnNumber, kind: "error", text: build.summary });
          }
        } else if (status === "ok" && fixesRun > 0) {
          outcome = `${outcome}; auto-fix stopped: the fix turn changed no files`;
          await services.agentTurns.say({ chatId: turn.chatId, turnNumber: turn.turnNumber, kind: "error", text: "auto-fix stopped: the fix turn changed no files, so the build was not run again" });
        }
      } catch (failure) {
        // A failure of the services or a bug: the turn ends with an error; the next message goes on.
        log.error("agent.turn_failed", { chatId: turn.chatId, turn: turn.turnNumber, error: (failure as Error).message, stack: (failure as Error).stack });
        await services.agentTurns.finish({ turnId: turn.id, status: "error", error: "the turn failed inside Tracedeck; see the server log", steps: 0 }).catch(() => {});
        return;
      }

      // A cancel that came after the build still stops the loop, across a restart too.
      if (controller.signal.aborted) pending = null;
      const state: AgentState = fitState(
        {
          messages: result.messages,
          pending: { autofix: pending },
          agent: settings,
          turn: { number: turn.turnNumber, status, outcome },
        },
        options.snapshotMaxBytes - 1024,
      );
      try {
        await services.snapshots.save({ chatId: turn.chatId, turn: turn.turnNumber, state });
      } catch (failure) {
        log.error("agent.snapshot_failed", { chatId: turn.chatId, turn: turn.turnNumber, error: (failure as Error).message });
        await services.agentTurns.say({ chatId: turn.chatId, turnNumber: turn.turnNumber, kind: "error", text: `the turn's snapshot could not be saved: ${(failure as Error).message}` }).catch(() => {});
        pending = null;
      }
      await services.agentTurns.finish({
        turnId: turn.id,
        status,
        outcome,
        error,
        steps: result.steps,
        fixFollows: pending !== null,
        tokens: result.tokens,
      });
      if (!pending || controller.signal.aborted) return;
      fixesRun = pending.attempt;
      conversation = [...result.messages, { role: "user", content: [{ type: "text", text: pending.message }] }];
      turn = await services.agentTurns.start({
        chatId: turn.chatId,
        trigger: "autofix",
        prompt: pending.message,
        provider: settings.provider,
        model: settings.model,
        fixAttempt: pending.attempt,
        ownerRunId: runId,
      });
    }
  }

  /** Starts a turn of the chat in the background; `trigger` autofix resumes a loop after a restart. */
  async function begin(chatId: string, prompt: string, trigger: "user" | "autofix", fixAttempt?: number): Promise<AgentTurn> {
    if (active.has(chatId)) {
      throw new ConflictError("a turn of this chat is still running; wait for it to finish or cancel it (cancelTurn)", "Chat", chatId);
    }
    const controller = new AbortController();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    // Claimed before anything async: a second message in this process is a conflict at once.
    active.set(chatId, { controller, done });
    try {
      const recorded = await services.ingestSessions.sourceOf(chatId);
      if (recorded) throw new ConflictError(`this chat records a ${recorded} session; Tracedeck's agent works in chats of its own`, "Chat", chatId);
      const settings = await settingsOf(chatId);
      const workspace = await openWorkspace(config.workspacesRoot, settings.workspace, { create: !settings.stored || settings.workspace === defaultWorkspaceOf(chatId) });
      // The run is registered before it owns a turn (a start-up without the database deferred it).
      await services.agentRuns.heartbeat(runId);
      const turn = await services.agentTurns.start({ chatId, trigger, prompt, provider: settings.provider, model: settings.model, fixAttempt, ownerRunId: runId });
      // Read once the turn holds the chat: a restore committed before it is the state it goes on from.
      const { messages } = readState((await services.snapshots.loadCurrent(chatId))?.state);
      const { stored: _stored, ...state } = settings;
      void runChain(turn, [...messages, { role: "user", content: [{ type: "text", text: prompt }] }], state, workspace, controller)
        .catch((error: unknown) => log.error("agent.chain_failed", { chatId, error: (error as Error).message }))
        .finally(() => {
          active.delete(chatId);
          release();
        });
      return turn;
    } catch (error) {
      active.delete(chatId);
      release();
      throw error;
    }
  }

  /** Chats whose loop was cut by a restart: a fix turn was due (or running) when the process died. */
  async function resumePendingFixes(): Promise<void> {
    const candidates = await services.agentTurns.pendingFixCandidates();
    for (const { chatId, headState, lastTurn } of candidates) {
      const { pendingAutofix } = readState(headState);
      if (!pendingAutofix || active.has(chatId)) continue;
      try {
        await begin(chatId, pendingAutofix.message, "autofix", pendingAutofix.attempt);
        log.info("agent.resumed_autofix", { chatId, afterTurn: lastTurn, attempt: pendingAutofix.attempt });
      } catch (error) {
        log.warn("agent.resume_failed", { chatId, error: (error as Error).message });
      }
    }
  }

  return {
    runId,

    /** Finds the sandbox, registers the run, abandons what gone processes left running, resumes due fix turns. */
    async start(): Promise<void> {
      await mkdir(config.workspacesRoot, { recursive: true }).catch(() => {});
      if (!sandbox) {
        // "bwrap" is a requirement: without a working bubblewrap the server does not start.
        sandbox = await detectSandbox(config.sandbox).catch((error: unknown): Sandbox => {
          if (config.sandbox === "bwrap" && config.enabled) throw error;
          return { kind: "unavailable", reason: (error as Error).message };
        });
      }
      // An injected sandbox is a test's choice, not a configuration to warn about.
      if (sandbox.kind === "off" && !options.sandbox) log.warn("agent.sandbox_off", { hint: "AGENT_SANDBOX=off: run_command and the build run without a sandbox; only the path guard applies" });
      if (sandbox.kind === "unavailable" && config.enabled) {
        log.warn("agent.sandbox_unavailable", { reason: sandbox.reason, hint: "run_command and the build are refused; install bubblewrap (bwrap) or set AGENT_SANDBOX=off" });
      }
      heartbeat = setInterval(() => {
        void services.agentRuns
          .heartbeat(runId)
          .then(() => abandonGone())
          // Its own turns and traces that nothing here runs any more (a finish that failed) end too.
          .then(() => services.agentTurns.abandonRuns([runId], new Date(), { exceptChats: [...active.keys()] }))
          .catch((error: unknown) => log.warn("agent.heartbeat_failed", { error: (error as Error).message }));
      }, HEARTBEAT_MS);
      heartbeat.unref();
      // Leftovers of a process that died before this one: also when its run was forgotten already.
      await killLeftoverCommands();
      try {
        await services.agentRuns.register(runId);
        await abandonGone({ killedLeftovers: true });
        if (config.enabled) await resumePendingFixes();
      } catch (error) {
        // The server starts without its database (it answers 503 meanwhile); the heartbeat
        // registers the run and abandons what gone processes left once the database is back.
        if (!isDatabaseUnavailable(error)) throw error;
        log.warn("agent.start_deferred", { reason: "database unavailable" });
      }
    },

    /** Cancels the turns running here and waits (bounded) for them to save and finish. */
    async stop(graceMs = 5_000): Promise<void> {
      stopping = true;
      if (heartbeat) clearInterval(heartbeat);
      for (const { controller } of active.values()) controller.abort(new Error("the server is stopping"));
      const all = Promise.all([...active.values()].map((a) => a.done));
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      if (active.size === 0) await services.agentRuns.forget([runId]).catch(() => {});
    },

    status(): AgentStatus {
      return {
        enabled: config.enabled,
        disabledReason: config.disabledReason,
        sandbox: sandbox?.kind ?? "pending",
        sandboxReason: sandbox?.kind === "unavailable" ? sandbox.reason : null,
        workspacesRoot: config.workspacesRoot,
        runId,
      };
    },

    settingsOf,

    async updateSettings(input: {
      chatId: string;
      provider?: string | null;
      model?: string | null;
      workspace?: string | null;
      buildCommand?: string[] | null;
      fixAttempts?: number | null;
    }): Promise<EffectiveAgentSettings> {
      const { chatId } = parseInput(z.object({ chatId: uuid }), { chatId: input.chatId });
      const workspace = input.workspace == null ? undefined : normalizeWorkspaceSetting(config.workspacesRoot, input.workspace);
      const provider = input.provider ?? undefined;
      await services.agentSettings.update(
        { ...input, chatId, provider: provider as never, workspace },
        {
          provider: config.defaultProvider,
          // A chat switching provider without naming a model gets that provider's default.
          model: provider && provider !== config.defaultProvider ? defaultModelFor(provider) : config.defaultModel,
          workspace: defaultWorkspaceOf(chatId),
          fixAttempts: config.fixAttempts,
        },
      );
      return settingsOf(chatId);
    },

    async sendMessage(chatId: string, text: string): Promise<AgentTurn> {
      ensureEnabled();
      const d = parseInput(z.object({ chatId: uuid, text: messageText }), { chatId, text });
      return begin(d.chatId, d.text, "user");
    },

    /** Cancels the chat's running turn (and its auto-fix loop). */
    async cancelTurn(chatId: string): Promise<AgentTurn> {
      ensureEnabled();
      const d = parseInput(z.object({ chatId: uuid }), { chatId });
      const running = active.get(d.chatId);
      const turn = await services.agentTurns.running(d.chatId);
      if (!running) {
        if (turn) throw new ConflictError(`turn ${turn.turnNumber} runs in another server process (run ${turn.ownerRunId}); cancel it there`, "AgentTurn", turn.id);
        await services.chats.get(d.chatId);
        throw new NotFoundError("AgentTurn", d.chatId, "this chat has no running turn");
      }
      running.controller.abort(new Error("cancelled by the user"));
      await running.done;
      const ended = await services.agentTurns.latest(d.chatId);
      return ended!;
    },

    /** A restore, with the workspace's files put back as they were at the end of that turn when asked. */
    async restore(input: { chatId: string; turn: number; rewindFiles: boolean }): Promise<AgentRestoreResult> {
      if (active.has(input.chatId)) throw new ConflictError("a turn of this chat is running; cancel it (cancelTurn) before restoring", "Chat", input.chatId);
      if (!input.rewindFiles) return { ...(await services.snapshots.restore(input)), files: null };
      ensureEnabled();
      // Held for the whole restore: a message meanwhile is a conflict, not a turn racing the rewind.
      let release!: () => void;
      active.set(input.chatId, { controller: new AbortController(), done: new Promise<void>((resolve) => (release = resolve)) });
      try {
        const settings = await settingsOf(input.chatId);
        const workspace = await openWorkspace(config.workspacesRoot, settings.workspace, { create: false });
        const plan = await services.fileJournal.rewindPlan(input.chatId, input.turn, settings.workspace);
        const restored = await services.snapshots.restore(input);
        const files = await applyRewind(workspace, plan);
        log.info("agent.rewound_files", { chatId: input.chatId, turn: input.turn, rewritten: files.rewritten.length, deleted: files.deleted.length, skipped: files.skipped.length });
        return { ...restored, files };
      } finally {
        active.delete(input.chatId);
        release();
      }
    },

    /** Waits for the chat's turn running here (tests, the CLI's server side). */
    async idle(chatId: string): Promise<void> {
      await active.get(chatId)?.done;
    },
  };
}

const defaultModelFor = (provider: string) => DEFAULT_MODELS[provider as keyof typeof DEFAULT_MODELS] ?? DEFAULT_MODELS.openai;

export type AgentRunner = ReturnType<typeof createAgentRunner>;
