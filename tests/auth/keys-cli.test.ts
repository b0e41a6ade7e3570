// `npm run keys` (scripts/keys.ts) as a real child process: create, list and revoke on the embedded
// database with the server stopped; the locked data folder said as it is while a server runs; and
// the same commands through that server's API with an admin key.
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { spawnServer, type SpawnedServer } from "../helpers/server-process.js";
import { postJson } from "../helpers/raw-http.js";
import { bearer } from "./auth-helpers.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** Arrival, not speed: tsx start-up and PGlite on a shared two-core machine. */
const CLI_TIMEOUT_MS = 120_000;

let work: string;
let data: string;
let server: SpawnedServer | undefined;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function keysCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("TRACEDECK_")));
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/keys.ts", ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...inherited, NO_COLOR: "1", DATABASE_URL: "", LOG_LEVEL: "", DATA_DIR: data, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the CLI did not exit within ${CLI_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const keyIn = (stdout: string) => /^(td_[A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "tracedeck-keys-cli-"));
  data = join(work, "data");
  cpSync(inject("pgliteTemplateDir"), data, { recursive: true });
});
afterAll(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

let adminKey: string;
let ciKey: string;

describe("with the server stopped: the database itself", () => {
  test("create prints the key once with its prefix and scopes; exit 0", async () => {
    const admin = await keysCli(["create", "--scope", "admin", "--name", "admin"]);
    expect(admin.stderr).toBe("");
    expect(admin.code).toBe(0);
    adminKey = keyIn(admin.stdout)!;
    expect(adminKey).toBeDefined();
    expect(admin.stdout).toContain(`Created API key "admin" (admin) in the embedded PGlite in ${data}; expires never`);
    expect(admin.stdout).toContain(`prefix  ${adminKey.slice(0, 11)}`);
    expect(admin.stdout).toContain("This is the only time the key is shown");

    const ci = await keysCli(["create", "--scope", "read,ingest", "--name", "ci", "--expires", "30d"]);
    expect(ci.code).toBe(0);
    ciKey = keyIn(ci.stdout)!;
    const expires = /expires (\d{4}-\d\d-\d\d \d\d:\d\d)Z/.exec(ci.stdout)![1]!;
    const days = (new Date(`${expires.replace(" ", "T")}:00Z`).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    expect(ci.stdout).toContain("(ingest, read)");
  });

  test("list shows each key by prefix, name, scopes and status, never the key", async () => {
    const list = await keysCli(["list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^PREFIX\s+NAME\s+SCOPES\s+STATUS/m);
    expect(list.stdout).toMatch(new RegExp(`^${adminKey.slice(0, 11)}\\s+admin\\s+admin\\s+active`, "m"));
    expect(list.stdout).toMatch(new RegExp(`^${ciKey.slice(0, 11)}\\s+ci\\s+ingest,read\\s+active`, "m"));
    expect(list.stdout).not.toContain(adminKey);
    expect(list.stdout).not.toContain(ciKey);
  });

  test("revoke by prefix; list leaves it out, list --all shows it revoked", async () => {
    const other = keyIn((await keysCli(["create", "--scope", "agent", "--name", "temporary"])).stdout)!;
    const revoke = await keysCli(["revoke", other.slice(0, 11)]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(new RegExp(`^Revoked API key ${other.slice(0, 11)} \\("temporary"\\) at `, "m"));
    expect((await keysCli(["list"])).stdout).not.toContain(other.slice(0, 11));
    expect((await keysCli(["list", "--all"])).stdout).toMatch(new RegExp(`^${other.slice(0, 11)}\\s+temporary\\s+agent\\s+revoked`, "m"));
  });

  test("usage errors exit 2 with the help; an unknown key exits 1", async () => {
    const bad = await keysCli(["create", "--scope", "root", "--name", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: --scope: unknown scope "root"; use ingest, read, agent, admin');
    expect(bad.stderr).toContain("Usage: npm run keys");
    expect((await keysCli(["create", "--scope", "read"])).code).toBe(2);
    expect((await keysCli(["create", "--scope", "read", "--name", "x", "--expires", "soon"])).code).toBe(2);
    expect((await keysCli(["frobnicate"])).code).toBe(2);
    const missing = await keysCli(["revoke", "td_nothere"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No API key has the id or prefix "td_nothere"');
    const help = await keysCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("npm run keys -- create --scope read,ingest --name ci --expires 30d");
  });
});

describe("while the server runs on the same data folder", () => {
  beforeAll(async () => {
    server = spawnServer({ DATA_DIR: data, AUTH: "on", LOG_LEVEL: "debug" });
    await server.listening;
  });

  test("without --url the CLI says the data folder is locked and how to go through the API; exit 1", async () => {
    const run = await keysCli(["list"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the data folder ${data} is locked: a Tracedeck server is running on it (pid ${server!.pid})`);
    expect(run.stderr).toContain("--url http://127.0.0.1:4000 --key td_…");
  });

  test("with --url and an admin key: create, list and revoke through the API", async () => {
    const url = await server!.listening;
    const created = await keysCli(["create", "--scope", "read", "--name", "dashboard", "--url", url, "--key", adminKey]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`Created API key "dashboard" (read) in the server at ${url}`);
    const dashboardKey = keyIn(created.stdout)!;
    // The new key works at once on that server.
    expect((await postJson(`${url}/graphql`, { query: "{ chats(first: 1) { edges { cursor } } }" }, bearer(dashboardKey))).status).toBe(200);

    // TRACEDECK_URL and TRACEDECK_API_KEY work as the flags do.
    const listed = await keysCli(["list", "--json"], { TRACEDECK_URL: url, TRACEDECK_API_KEY: adminKey });
    expect(listed.code).toBe(0);
    const names = (JSON.parse(listed.stdout) as { name: string; prefix: string }[]).map((k) => k.name);
    expect(names).toEqual(expect.arrayContaining(["admin", "ci", "dashboard"]));

    const revoked = await keysCli(["revoke", dashboardKey.slice(0, 11), "--url", url, "--key", adminKey]);
    expect(revoked.code).toBe(0);
    // Revoked in the server's own process: refused at once.
    expect((await postJson(`${url}/graphql`, { query: "{ __typename }" }, bearer(dashboardKey))).status).toBe(401);
  });

  test("through the API without a key, or with one lacking admin: refused, exit 1, saying why", async () => {
    const url = await server!.listening;
    const none = await keysCli(["list", "--url", url]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("the server refused (401): An API key is required");
    const weak = await keysCli(["list", "--url", url, "--key", ciKey]);
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain("the server refused (403)");
    expect(weak.stderr).toContain("lacks the admin scope");
  });

  test("the server's log (LOG_LEVEL=debug) never holds a key it was sent", () => {
    const log = server!.output();
    expect(log).toContain("auth: on (API keys required)");
    for (const key of [adminKey, ciKey]) {
      expect(log).not.toContain(key);
      expect(log).not.toContain(key.slice(11));
    }
  });
});
