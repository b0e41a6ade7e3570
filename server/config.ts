import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { KEY_PATTERN } from "./auth/keys.js";
import { fromProjectRoot } from "./project-root.js";

// Digits only: z.coerce.number() took "abc" with a message naming no range, and "0x10" or "1e3" as numbers.
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

// A positive decimal ("0.5", "30"): retention settings take fractions so that tests can use small values.
const positive = (max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, `must be a positive number up to ${max}`)
    .transform(Number)
    .pipe(z.number().gt(0, "must be more than 0").max(max, `must be at most ${max}`));

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .transform((value) => (value === "" ? undefined : value))
    .refine(
      (value) => value === undefined || protocols.some((p) => value.startsWith(`${p}://`)),
      `must be a URL starting with ${protocols.map((p) => `${p}://`).join(" or ")}`,
    )
    .optional();

const commaList = z
  .string()
  .default("")
  .transform((value) => value.split(",").map((item) => item.trim()).filter(Boolean));

/** Host names that always reach this machine: a page on another site cannot be served under them. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"];
export const isLoopbackHost = (host: string) => LOOPBACK_HOSTS.includes(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

export const DEFAULT_CURSOR_SECRET = "tracedeck-default-cursor-secret";

/** The dashboard's build, web/dist, from the repository root (wherever the server is started from). */
export const DEFAULT_DASHBOARD_DIR = fromProjectRoot("web", "dist");

/** The scripted provider's scripts that ship with the project (the demo's among them). */
export const DEFAULT_AGENT_SCRIPTS_DIR = fromProjectRoot("demo", "scripts");

const onOff = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0", "on", "off"], { message: "must be true or false" }))
  .transform((v) => v === "true" || v === "1" || v === "on")
  .optional();

const secret = z.string().trim().min(1).optional();

/** Every setting the server reads, its default and what is allowed. README's "Configuration" mirrors this. */
const schema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: optionalUrl(["postgres", "postgresql"]),
  DATA_DIR: z.string().min(1).default("./data"),
  /** The built dashboard served at / (`npm run build` writes web/dist); a relative path is from the working directory. */
  DASHBOARD_DIR: z
    .string()
    .min(1)
    .default(DEFAULT_DASHBOARD_DIR)
    .transform((dir) => resolve(dir)),
  REDIS_URL: optionalUrl(["redis", "rediss"]),
  /** Other origins (besides the server's own) whose pages may call the API, comma-separated. */
  CORS_ORIGINS: commaList.refine(
    (origins) => origins.every((o) => /^https?:\/\/[^/\s]+$/.test(o)),
    "must be comma-separated origins such as http://localhost:5173",
  ),
  /** The URL people reach the server at (behind a proxy, or beyond loopback): its host and origin are allowed. */
  PUBLIC_URL: optionalUrl(["http", "https"]).refine(
    (value) => value === undefined || URL.canParse(value),
    "must be a URL such as https://tracedeck.example.com",
  ),
  /** Further Host names the server answers to; `.example.com` allows its subdomains too. */
  ALLOWED_HOSTS: commaList.refine(
    (hosts) => hosts.every((h) => /^\.?[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i.test(h)),
    "must be comma-separated host names (no scheme, port or path), e.g. tracedeck.example.com,.internal.example",
  ),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  TRACE_OUTPUT_CAP_BYTES: int(256).default(32768),
  TOOL_INPUT_MAX_BYTES: int(1024).default(262144),
  SNAPSHOT_STATE_MAX_BYTES: int(1024).default(4194304),
  /** Replace values shaped like credentials (API keys, tokens, private keys, URL passwords) in traces and snapshots before they are stored. */
  SCRUB_SECRETS: onOff.transform((on) => on ?? true),
  SNAPSHOT_RETENTION: int(1).default(100),
  /** Traces and events older than this many days are deleted by the pruner (fractions allowed). Unset: kept forever. */
  TRACE_RETENTION_DAYS: positive(36500).optional(),
  /** How often the pruner runs when TRACE_RETENTION_DAYS is set (fractions allowed, for tests). */
  RETENTION_INTERVAL_SECONDS: positive(86400).default(60),
  /** Rows the pruner deletes per short transaction (traces, and events, of one chat). Unset: 500 on PostgreSQL, 100 on PGlite. */
  RETENTION_BATCH_SIZE: int(1, 10000).optional(),
  ABANDON_RUNNING_AFTER_SECONDS: int(1).default(3600),
  /** A quiet subscription looks in the event log this often, for an event whose publish was lost. */
  STREAM_IDLE_CHECK_SECONDS: int(1, 3600).default(15),
  SWEEP_INTERVAL_SECONDS: int(1).default(60),
  MAX_PAGE_SIZE: int(1, 10000).default(500),
  DEFAULT_PAGE_SIZE: int(1, 10000).default(50),
  /** Signs pagination and event cursors; set one secret for every process of an installation. */
  CURSOR_SECRET: z.string().min(8, "must be at least 8 characters").default(DEFAULT_CURSOR_SECRET),
  MAX_BATCH_ITEMS: int(1, 100000).default(1000),
  MAX_QUERY_DEPTH: int(2, 100).default(15),
  /** Cost of an operation before it runs; page sizes multiply. Unset: 20000 on PostgreSQL, 10000 on PGlite. */
  MAX_QUERY_COMPLEXITY: int(10).optional(),
  MAX_QUERY_ALIASES: int(1, 10000).default(15),
  MAX_QUERY_TOKENS: int(100, 1000000).default(5000),
  MAX_QUERY_DIRECTIVES: int(1, 10000).default(50),
  /** PostgreSQL only: a statement running longer is cancelled by the server (0: no limit). */
  STATEMENT_TIMEOUT_MS: int(0, 3600000).default(10000),
  /** A query operation answering later than this gets OPERATION_TIMEOUT (0: no limit). */
  OPERATION_TIMEOUT_MS: int(0, 3600000).default(15000),
  /** How long start-up waits for an unreachable PostgreSQL, retrying with backoff. */
  DATABASE_STARTUP_TIMEOUT_SECONDS: int(0, 3600).default(30),
  /** On SIGTERM/SIGINT: how long requests under way may take to finish before they are cut. */
  SHUTDOWN_GRACE_SECONDS: int(0, 3600).default(10),
  MAX_BODY_BYTES: int(1024).default(8 * 1024 * 1024),
  WS_MAX_PAYLOAD_BYTES: int(1024).default(8 * 1024 * 1024),
  /** API keys: auto (required beyond loopback, not on loopback), on (required everywhere), off (loopback only). */
  AUTH: z.enum(["auto", "on", "off"], { message: "must be auto, on or off" }).default("auto"),
  /** How often an open WebSocket checks its key again; a revoked or expired one closes it with 4403. */
  WS_AUTH_RECHECK_SECONDS: int(1, 3600).default(30),
  /** Stored as an admin key named "bootstrap" at start-up when no admin key exists (never logged). */
  TRACEDECK_BOOTSTRAP_KEY: secret.refine((key) => key === undefined || KEY_PATTERN.test(key), "must be td_ followed by 43 to 128 base64url characters (A-Z a-z 0-9 _ -)"),
  /** Tracedeck's own coding agent. Unset: on when the server listens on loopback only, off otherwise. */
  AGENT_ENABLED: onOff,
  /** The folder every agent workspace must be inside. Unset: DATA_DIR/workspaces. */
  AGENT_WORKSPACES_ROOT: z.string().min(1).optional(),
  /** auto: bubblewrap when a trial run works at start-up; bwrap: required; off: no sandbox (only the path guard). */
  AGENT_SANDBOX: z.enum(["auto", "bwrap", "off"]).default("auto"),
  /** The provider and model a chat gets until its agent settings say otherwise. */
  AGENT_PROVIDER: z.enum(["openai", "anthropic", "scripted"]).optional(),
  AGENT_MODEL: z.string().trim().min(1).max(200).optional(),
  /** Model steps in one turn before the turn stops. */
  AGENT_MAX_STEPS: int(1, 1000).default(25),
  /** Auto-fix turns after a failing build, unless a chat sets its own. */
  AGENT_FIX_ATTEMPTS: int(0, 20).default(3),
  AGENT_COMMAND_TIMEOUT_SECONDS: int(1, 86400).default(30),
  /** The longest timeout run_command may ask for, and the build's limit. */
  AGENT_COMMAND_MAX_TIMEOUT_SECONDS: int(1, 86400).default(600),
  AGENT_BUILD_TIMEOUT_SECONDS: int(1, 86400).default(300),
  /** How long one model request may take. */
  AGENT_PROVIDER_TIMEOUT_SECONDS: int(1, 3600).default(120),
  /** Where the scripted provider finds `<name>.json`. */
  AGENT_SCRIPTS_DIR: z.string().min(1).default(DEFAULT_AGENT_SCRIPTS_DIR).transform((dir) => resolve(dir)),
  /** A file's previous content is journaled for rewind up to this size. */
  AGENT_JOURNAL_MAX_FILE_BYTES: int(0, 64 * 1024 * 1024).default(1024 * 1024),
  OPENAI_API_KEY: secret,
  /** An OpenAI-compatible server: OpenAI, Ollama (http://127.0.0.1:11434/v1), vLLM, LM Studio… */
  OPENAI_BASE_URL: optionalUrl(["http", "https"]),
  ANTHROPIC_API_KEY: secret,
  ANTHROPIC_BASE_URL: optionalUrl(["http", "https"]),
  /** Read Claude Code transcripts named by hooks for token usage. Unset: on when the server listens on loopback only. */
  CLAUDE_CODE_TRANSCRIPTS: onOff,
  /** The only folder transcripts are read from (realpath). Unset: ~/.claude/projects. */
  CLAUDE_PROJECTS_DIR: z.string().min(1).optional(),
  /** The most bytes of transcripts read after one hook. */
  CLAUDE_TRANSCRIPT_READ_MAX_BYTES: int(1024, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
  /** Test switch: hold the migration lock this long, so a race can be observed. */
  TRACEDECK_TEST_MIGRATION_LOCK_HOLD_MS: int(0, 60000).default(0),
});

/** Beyond loopback the server must know its own names: any other Host is a DNS-rebinding page. */
const checked = schema.superRefine((config, ctx) => {
  if (!isLoopbackHost(config.HOST.replace(/^\[|\]$/g, "")) && !config.PUBLIC_URL && config.ALLOWED_HOSTS.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["HOST"],
      message: `listens beyond loopback, so set PUBLIC_URL or ALLOWED_HOSTS to the names clients use to reach it (requests under any other Host are refused)`,
    });
  }
  if (config.AUTH === "off" && !isLoopbackHost(config.HOST.replace(/^\[|\]$/g, ""))) {
    ctx.addIssue({
      code: "custom",
      path: ["AUTH"],
      message: `is off, but the server listens beyond loopback (HOST=${config.HOST}): anyone who reaches it could read, write and delete everything. Use AUTH=auto (the default) or on, and API keys`,
    });
  }
});

export type Config = z.infer<typeof schema>;

/** Every variable the server reads: README's "Configuration" documents each one. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked = Object.fromEntries(
    // Empty (or blank) means unset: `PORT= npm start` gets the default, not port 0.
    Object.keys(schema.shape).map((key) => [key, env[key]?.trim() === "" ? undefined : env[key]]),
  );
  const parsed = checked.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "config");
      // A URL may carry a password, a secret is one: name the variable, never echo its value.
      const shown = /_URL$|SECRET|PASSWORD|TOKEN|_KEY$/.test(name) ? "" : `=${JSON.stringify(env[name] ?? "")}`;
      return `${name}${shown}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  return parsed.data;
}

/** The limits the services enforce, taken from the configuration. */
export interface Limits {
  traceOutputCapBytes: number;
  toolInputMaxBytes: number;
  snapshotStateMaxBytes: number;
  snapshotRetention: number;
  maxBatchItems: number;
  /** A file's previous content is journaled for rewind up to this size. */
  journalMaxFileBytes: number;
  /** Secret-shaped values in traces and snapshots are replaced before storage (SCRUB_SECRETS). */
  scrubSecrets: boolean;
}

export function limitsFrom(config: Config): Limits {
  return {
    traceOutputCapBytes: config.TRACE_OUTPUT_CAP_BYTES,
    toolInputMaxBytes: config.TOOL_INPUT_MAX_BYTES,
    snapshotStateMaxBytes: config.SNAPSHOT_STATE_MAX_BYTES,
    snapshotRetention: config.SNAPSHOT_RETENTION,
    maxBatchItems: config.MAX_BATCH_ITEMS,
    journalMaxFileBytes: config.AGENT_JOURNAL_MAX_FILE_BYTES,
    scrubSecrets: config.SCRUB_SECRETS,
  };
}

export const defaultLimits: Limits = limitsFrom(loadConfig({}));

/** The pruner's settings (services/retention.ts): off unless TRACE_RETENTION_DAYS is set. */
export interface RetentionConfig {
  /** Traces and events older than this many days are deleted; null: retention is off. */
  days: number | null;
  intervalMs: number;
  /** Rows per prune transaction. */
  batchSize: number;
}

/**
 * PGlite runs every statement on the one connection, blocking Node's event loop while it runs: its
 * batches are smaller (measured in bench/retention.ts: 500-row batches cost ingest far more there).
 */
export function retentionConfigFrom(config: Config, databaseKind: "pglite" | "postgresql"): RetentionConfig {
  const batchSize = config.RETENTION_BATCH_SIZE ?? (databaseKind === "pglite" ? 100 : 500);
  return { days: config.TRACE_RETENTION_DAYS ?? null, intervalMs: config.RETENTION_INTERVAL_SECONDS * 1000, batchSize };
}

/** Defaults of a chat's agent settings, and the models each provider gets when none is named. */
export const DEFAULT_MODELS = { openai: "gpt-4.1-mini", anthropic: "claude-sonnet-4-5", scripted: "demo" } as const;

export interface AgentConfig {
  enabled: boolean;
  /** Why the agent is off, for a refused call. */
  disabledReason: string | null;
  workspacesRoot: string;
  sandbox: "auto" | "bwrap" | "off";
  defaultProvider: "openai" | "anthropic" | "scripted";
  defaultModel: string;
  maxSteps: number;
  fixAttempts: number;
  commandTimeouts: { defaultMs: number; maxMs: number };
  buildTimeoutMs: number;
  journalMaxFileBytes: number;
  providers: {
    openai: { apiKey?: string; baseURL?: string; timeoutMs: number };
    anthropic: { apiKey?: string; baseURL?: string; timeoutMs: number };
    scriptsDir: string;
  };
}

export function agentConfigFrom(config: Config): AgentConfig {
  const loopbackOnly = isLoopbackHost(config.HOST.replace(/^\[|\]$/g, ""));
  const enabled = config.AGENT_ENABLED ?? loopbackOnly;
  const disabledReason = enabled
    ? null
    : config.AGENT_ENABLED === false
      ? "the agent is disabled (AGENT_ENABLED=false)"
      : `the agent is off because the server listens beyond loopback (HOST=${config.HOST}); set AGENT_ENABLED=true to run it there`;
  const defaultProvider = config.AGENT_PROVIDER ?? (config.ANTHROPIC_API_KEY && !config.OPENAI_API_KEY ? "anthropic" : "openai");
  const timeoutMs = config.AGENT_PROVIDER_TIMEOUT_SECONDS * 1000;
  return {
    enabled,
    disabledReason,
    workspacesRoot: resolve(config.AGENT_WORKSPACES_ROOT ?? resolve(config.DATA_DIR, "workspaces")),
    sandbox: config.AGENT_SANDBOX,
    defaultProvider,
    defaultModel: config.AGENT_MODEL ?? DEFAULT_MODELS[defaultProvider],
    maxSteps: config.AGENT_MAX_STEPS,
    fixAttempts: config.AGENT_FIX_ATTEMPTS,
    commandTimeouts: { defaultMs: config.AGENT_COMMAND_TIMEOUT_SECONDS * 1000, maxMs: config.AGENT_COMMAND_MAX_TIMEOUT_SECONDS * 1000 },
    buildTimeoutMs: config.AGENT_BUILD_TIMEOUT_SECONDS * 1000,
    journalMaxFileBytes: config.AGENT_JOURNAL_MAX_FILE_BYTES,
    providers: {
      openai: { apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, timeoutMs },
      anthropic: { apiKey: config.ANTHROPIC_API_KEY, baseURL: config.ANTHROPIC_BASE_URL, timeoutMs },
      scriptsDir: config.AGENT_SCRIPTS_DIR,
    },
  };
}

export interface ClaudeCodeConfig {
  /** Whether transcripts named by hooks are read (for token usage). */
  readTranscripts: boolean;
  projectsDir: string;
  readMaxBytes: number;
}

export function claudeCodeConfigFrom(config: Config): ClaudeCodeConfig {
  const loopbackOnly = isLoopbackHost(config.HOST.replace(/^\[|\]$/g, ""));
  return {
    readTranscripts: config.CLAUDE_CODE_TRANSCRIPTS ?? loopbackOnly,
    projectsDir: resolve(config.CLAUDE_PROJECTS_DIR ?? join(homedir(), ".claude", "projects")),
    readMaxBytes: config.CLAUDE_TRANSCRIPT_READ_MAX_BYTES,
  };
}
