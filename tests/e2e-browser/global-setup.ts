// One Tracedeck server for the whole browser run, started as the README starts it (`npm start`,
// PORT=0, a temporary DATA_DIR, LOG_LEVEL=info), after building the dashboard once if web/dist is
// missing. Its URL is provided to the test files as inject("tracedeckUrl"); it is stopped (its whole
// process group) at the end of the run.
// Its agent plays scripts (AGENT_PROVIDER=scripted) from a temporary AGENT_SCRIPTS_DIR, in
// workspaces under a temporary AGENT_WORKSPACES_ROOT, without a sandbox (AGENT_SANDBOX=off: the
// tests' builds are `node` scripts they write themselves); both folders are provided to the tests
// (inject("agentScriptsDir"), inject("agentWorkspacesRoot")) and removed at the end.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { CHROMIUM } from "./helpers/browser.js";
import { ensureDashboardBuilt, type StartedServer, startServer } from "./helpers/server.js";

declare module "vitest" {
  export interface ProvidedContext {
    tracedeckUrl: string;
    agentScriptsDir: string;
    agentWorkspacesRoot: string;
  }
}

let server: StartedServer | undefined;
let agentDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  ensureDashboardBuilt((line) => console.log(`[e2e] ${line}`));
  agentDir = mkdtempSync(join(tmpdir(), "tracedeck-browser-agent-"));
  const scriptsDir = join(agentDir, "scripts");
  const workspacesRoot = join(agentDir, "workspaces");
  mkdirSync(scriptsDir);
  mkdirSync(workspacesRoot);
  server = await startServer({
    env: { AGENT_SANDBOX: "off", AGENT_PROVIDER: "scripted", AGENT_SCRIPTS_DIR: scriptsDir, AGENT_WORKSPACES_ROOT: workspacesRoot },
  });
  console.log(`[e2e] tracedeck (npm start) at ${server.url}, DATA_DIR ${server.dataDir}, agent scripts in ${scriptsDir}`);
  project.provide("tracedeckUrl", server.url);
  project.provide("agentScriptsDir", scriptsDir);
  project.provide("agentWorkspacesRoot", workspacesRoot);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
}
