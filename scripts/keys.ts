/**
 * npm run keys -- create | list | revoke: Tracedeck's API keys. With the server stopped it opens the
 * database itself (DATABASE_URL, else the embedded PGlite in DATA_DIR); while a server runs, it goes
 * through that server's API with an admin key (--url/--key, or TRACEDECK_URL/TRACEDECK_API_KEY).
 *
 * Exit codes: 0 done; 1 refused, not found, or the database or server could not be reached; 2 a
 * usage error.
 */
import path from "node:path";
import { SCOPES, type Scope } from "../server/auth/scopes.js";
import { ConfigError, limitsFrom, loadConfig } from "../server/config.js";
import { DataDirLockedError } from "../server/db/data-dir-lock.js";
import type { ApiKeyRecord } from "../server/services/api-keys.js";
import { parseDateTime } from "../server/services/dates.js";
import { createStyle, type Style, wantsColor } from "./lib/format.js";

const HELP = `Usage: npm run keys -- <command> [options]

Commands:
  create --scope <scopes> --name <name> [--expires <when>]
                      make a key and print it (the only time it is shown)
  list [--all]        the keys, by prefix (--all: revoked ones too)
  revoke <prefix|id>  revoke a key at once

  --scope    comma-separated: ${SCOPES.join(", ")} (admin allows everything)
  --expires  30d, 12h, 45m, 2w, or a date-time such as 2027-01-31T00:00:00Z (default: never)

Where the keys are kept:
  With the server stopped, this opens the database itself: DATABASE_URL, else the embedded
  PGlite in DATA_DIR (default ./data), which allows one process at a time.
  While the server runs, go through its API with an admin key:
  --url <url>   the server, e.g. http://127.0.0.1:4000 (or TRACEDECK_URL)
  --key <key>   an admin key (or TRACEDECK_API_KEY); not needed on loopback with auth off

Options:
  --json       print JSON
  -h, --help   show this help

Examples:
  npm run keys -- create --scope admin --name admin
  npm run keys -- create --scope read,ingest --name ci --expires 30d
  npm run keys -- list --url http://127.0.0.1:4000 --key td_…
  npm run keys -- revoke td_Ab12Cd34`;

class UsageError extends Error {}
class CliError extends Error {}

type Command =
  | { kind: "help" }
  | { kind: "create"; name: string; scopes: Scope[]; expiresAt?: Date }
  | { kind: "list"; all: boolean }
  | { kind: "revoke"; target: string };

interface Args {
  command: Command;
  url?: string;
  key?: string;
  json: boolean;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function parseExpiry(value: string, now = Date.now()): Date {
  const relative = /^(\d{1,6})([mhdw])$/.exec(value.trim());
  if (relative) return new Date(now + Number(relative[1]) * UNITS[relative[2]!]!);
  const parsed = parseDateTime(value.trim());
  if (!parsed.ok) throw new UsageError(`--expires ${JSON.stringify(value)}: use 30d, 12h, 45m, 2w or a date-time such as 2027-01-31T00:00:00Z`);
  return parsed.date;
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  let json = false;
  let all = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return { command: { kind: "help" }, json: false };
    if (arg === "--json") json = true;
    else if (arg === "--all") all = true;
    else if (["--scope", "--scopes", "--name", "--expires", "--url", "--key"].includes(arg.split("=")[0]!)) {
      const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, argv[++i]];
      if (inline === undefined) throw new UsageError(`${flag} needs a value`);
      flags[flag === "--scopes" ? "--scope" : flag] = inline;
    } else if (arg.startsWith("-") && arg !== "-") throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  const [verb, ...rest] = positional;
  const common = { url: flags["--url"], key: flags["--key"], json };
  switch (verb) {
    case "create": {
      if (rest.length > 0) throw new UsageError(`create takes no argument ${JSON.stringify(rest[0])}`);
      if (!flags["--scope"]) throw new UsageError(`create needs --scope (${SCOPES.join(", ")})`);
      if (!flags["--name"]?.trim()) throw new UsageError("create needs --name (what the key is for, e.g. ci)");
      const scopes = flags["--scope"].split(",").map((s) => s.trim()).filter(Boolean);
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (unknown.length > 0 || scopes.length === 0) throw new UsageError(`--scope: unknown scope ${JSON.stringify(unknown[0] ?? "")}; use ${SCOPES.join(", ")}`);
      const expiresAt = flags["--expires"] === undefined ? undefined : parseExpiry(flags["--expires"]);
      return { command: { kind: "create", name: flags["--name"], scopes: scopes as Scope[], expiresAt }, ...common };
    }
    case "list":
      if (rest.length > 0) throw new UsageError(`list takes no argument ${JSON.stringify(rest[0])}`);
      return { command: { kind: "list", all }, ...common };
    case "revoke":
      if (rest.length !== 1) throw new UsageError("revoke needs one key: its prefix (td_…) or its id");
      return { command: { kind: "revoke", target: rest[0]! }, ...common };
    case undefined:
      throw new UsageError("name a command: create, list or revoke");
    default:
      throw new UsageError(`unknown command ${JSON.stringify(verb)}: use create, list or revoke`);
  }
}

/** What both ways of reaching the keys offer. */
interface KeyStore {
  where: string;
  create(input: { name: string; scopes: Scope[]; expiresAt?: Date }): Promise<{ key: string; apiKey: ApiKeyRecord }>;
  list(all: boolean): Promise<ApiKeyRecord[]>;
  revoke(target: string): Promise<ApiKeyRecord>;
  close(): Promise<void>;
}

const KEY_FIELDS = "id name prefix scopes status createdAt expiresAt revokedAt lastUsedAt";
const dated = (raw: Record<string, unknown>): ApiKeyRecord => ({
  ...(raw as unknown as ApiKeyRecord),
  createdAt: new Date(raw.createdAt as string),
  expiresAt: raw.expiresAt ? new Date(raw.expiresAt as string) : null,
  revokedAt: raw.revokedAt ? new Date(raw.revokedAt as string) : null,
  lastUsedAt: raw.lastUsedAt ? new Date(raw.lastUsedAt as string) : null,
});

/** The server's GraphQL API, with the admin key as a Bearer token. */
function apiStore(baseUrl: string, key: string | undefined): KeyStore {
  let base: URL;
  try {
    base = new URL(baseUrl);
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error();
  } catch {
    throw new UsageError(`--url ${JSON.stringify(baseUrl)} is not an http(s) URL (e.g. http://127.0.0.1:4000)`);
  }
  const endpoint = new URL("graphql", base.href.endsWith("/") ? base.href : `${base.href}/`).href;
  async function call(query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      throw new CliError(`could not reach the server at ${base.origin} (${code ?? (error as Error).message}). With the server stopped, run without --url/--key (and without TRACEDECK_URL/TRACEDECK_API_KEY) to open the database itself.`);
    }
    const body = (await response.json().catch(() => ({}))) as { data?: Record<string, any>; errors?: { message: string }[] };
    if (body.errors?.length) {
      const hint = response.status === 401 ? " (give an admin key with --key or TRACEDECK_API_KEY)" : "";
      throw new CliError(`the server refused (${response.status}): ${body.errors[0]!.message}${hint}`);
    }
    if (!body.data) throw new CliError(`the server answered ${response.status} without data`);
    const [result] = Object.values(body.data) as Record<string, any>[];
    if (typeof result?.__typename === "string" && /Error$/.test(result.__typename)) throw new CliError(result.message);
    return result!;
  }
  return {
    where: `the server at ${base.origin}`,
    async create(input) {
      const result = await call(
        `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename ... on CreatedApiKey { key apiKey { ${KEY_FIELDS} } } ... on Error { message } } }`,
        { input: { name: input.name, scopes: input.scopes, expiresAt: input.expiresAt?.toISOString() ?? null } },
      );
      return { key: result.key as string, apiKey: dated(result.apiKey) };
    },
    async list(all) {
      const body = await call(`query ($all: Boolean) { apiKeys(includeRevoked: $all) { ${KEY_FIELDS} } }`, { all });
      return (body as unknown as Record<string, unknown>[]).map(dated);
    },
    async revoke(target) {
      const result = await call(`mutation ($id: ID!) { revokeApiKey(id: $id) { __typename ... on ApiKey { ${KEY_FIELDS} } ... on Error { message } } }`, { id: target });
      return dated(result);
    },
    close: async () => {},
  };
}

/** The database itself, through the same service the server uses. */
async function databaseStore(): Promise<KeyStore> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
  // Loaded only now: --help and usage errors answer without loading the database's modules.
  const [{ openDatabase }, { prepareDatabase }, { createEventBus }, { createApiKeyService }, { createLogger }, { TracedeckError }] = await Promise.all([
    import("../server/db/client.js"),
    import("../server/db/prepare.js"),
    import("../server/events/pubsub.js"),
    import("../server/services/api-keys.js"),
    import("../server/logger.js"),
    import("../server/errors.js"),
  ]);
  const log = createLogger(process.env.LOG_LEVEL?.trim() ? config.LOG_LEVEL : "warn");
  let db;
  try {
    db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      const pid = /\(pid (\d+)\)/.exec(error.message)?.[1];
      throw new CliError(
        `the data folder ${path.resolve(config.DATA_DIR)} is locked: a Tracedeck server is running on it${pid ? ` (pid ${pid})` : ""}, and the embedded PGlite allows one process at a time.\n` +
          `While it runs, manage keys through its API with an admin key: add --url http://127.0.0.1:4000 --key td_… (or set TRACEDECK_URL and TRACEDECK_API_KEY). Or stop the server and run this again.`,
      );
    }
    throw new CliError(`could not open the database: ${(error as Error).message}`);
  }
  const opened = db;
  try {
    await prepareDatabase(opened, config, log);
  } catch (error) {
    await opened.close().catch(() => {});
    throw new CliError((error as Error).message);
  }
  const keys = createApiKeyService({ prisma: opened.prisma, bus: createEventBus(), limits: limitsFrom(config), log });
  const typed = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof TracedeckError) throw new CliError(error.message);
      throw error;
    }
  };
  return {
    where: opened.kind === "pglite" ? `the embedded PGlite in ${path.resolve(config.DATA_DIR)}` : "PostgreSQL",
    create: (input) => typed(() => keys.create(input)),
    list: (all) => keys.list({ includeRevoked: all }),
    revoke: (target) => typed(() => keys.revoke(target)),
    close: () => opened.close(),
  };
}

const when = (date: Date | null, none: string) => (date ? `${date.toISOString().slice(0, 16).replace("T", " ")}Z` : none);
const statusOf = (key: ApiKeyRecord & { status?: string }) =>
  key.status ?? (key.revokedAt ? "revoked" : key.expiresAt && key.expiresAt.getTime() <= Date.now() ? "expired" : "active");

function table(keys: ApiKeyRecord[], style: Style): string {
  const rows = keys.map((k) => [k.prefix, k.name, k.scopes.join(","), statusOf(k), when(k.createdAt, ""), when(k.expiresAt, "never"), when(k.lastUsedAt, "never"), k.id]);
  const head = ["PREFIX", "NAME", "SCOPES", "STATUS", "CREATED", "EXPIRES", "LAST USED", "ID"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [style.bold(line(head)), ...rows.map((r) => (r[3] === "active" ? line(r) : style.dim(line(r))))].join("\n");
}

async function main(): Promise<number> {
  const style = createStyle(wantsColor(process.stdout));
  const errStyle = createStyle(wantsColor(process.stderr));
  const fail = (message: string) => process.stderr.write(`${errStyle.red("error:")} ${message}\n`);
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    fail(error.message);
    process.stderr.write(`\n${HELP}\n`);
    return 2;
  }
  if (args.command.kind === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const url = args.url ?? (process.env.TRACEDECK_URL?.trim() || undefined);
  const key = args.key ?? (process.env.TRACEDECK_API_KEY?.trim() || undefined);
  let store: KeyStore;
  try {
    store = url || key ? apiStore(url ?? "http://127.0.0.1:4000", key) : await databaseStore();
  } catch (error) {
    if (!(error instanceof CliError || error instanceof UsageError)) throw error;
    fail(error.message);
    return error instanceof UsageError ? 2 : 1;
  }
  try {
    const command = args.command;
    if (command.kind === "create") {
      const created = await store.create(command);
      if (args.json) process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
      else {
        const k = created.apiKey;
        process.stdout.write(
          `Created API key ${style.bold(JSON.stringify(k.name))} (${k.scopes.join(", ")}) in ${store.where}; expires ${when(k.expiresAt, "never")}\n` +
            `  id      ${k.id}\n  prefix  ${k.prefix}\n\n${created.key}\n\n` +
            `${style.yellow("This is the only time the key is shown:")} keep it now (only its SHA-256 is stored).\n`,
        );
      }
    } else if (command.kind === "list") {
      const keys = await store.list(command.all);
      if (args.json) process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      else process.stdout.write(keys.length === 0 ? `No API keys${command.all ? "" : " in use"} in ${store.where}.\n` : `${table(keys, style)}\n`);
    } else {
      const revoked = await store.revoke(command.target);
      if (args.json) process.stdout.write(`${JSON.stringify(revoked, null, 2)}\n`);
      else process.stdout.write(`Revoked API key ${revoked.prefix} (${JSON.stringify(revoked.name)}) at ${when(revoked.revokedAt, "")}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    fail(error.message);
    return 1;
  } finally {
    await store.close().catch(() => {});
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${(error as Error).stack ?? error}\n`);
    process.exitCode = 1;
  },
);
