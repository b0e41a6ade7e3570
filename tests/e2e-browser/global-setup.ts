// One Tracedeck server for the whole browser run, started as the README starts it (`npm start`,
// PORT=0, a temporary DATA_DIR, LOG_LEVEL=info), after building the dashboard once if web/dist is
// missing. Its URL is provided to the test files as inject("tracedeckUrl"); it is stopped (its whole
// process group) at the end of the run.
// Its agent plays scripts (AGENT_PROVIDER=scripted) from a temporary AGENT_SCRIPTS_DIR, in
// workspaces under a temporary AGENT_WORKSPACES_ROOT, without a sandbox (AGENT_SANDBOX=off: the
// tests' builds are `node` scripts they write themselves); both folders are provided to the tests
// (inject("agentScriptsDir"), inject("agentWorkspacesRoot")) and removed at the end.
// Claude Code's transcripts are read from a temporary CLAUDE_PROJECTS_DIR holding the fixture
// session (tests/fixtures/claude-code) at -home-user-project/<session>.jsonl, its subagents' folder
// next to it: the folder is provided as inject("claudeProjectsDir") (the hook bodies' {{projects}}).
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { CHROMIUM } from "./helpers/browser.js";
import { ensureDashboardBuilt, repoRoot, type StartedServer, startServer } from "./helpers/server.js";

declare module "vitest" {
  export interface ProvidedContext {
    tracedeckUrl: string;
    agentScriptsDir: string;
    agentWorkspacesRoot: string;
    claudeProjectsDir: string;
  }
}

/** The fixture transcript's session (tests/fixtures/claude-code/session-basic.jsonl). */
const CLAUDE_SESSION = "7d3f1c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";

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
  const projectsDir = join(agentDir, "claude-projects");
  const sessionFolder = join(projectsDir, "-home-user-project");
  const fixtures = join(repoRoot, "tests", "fixtures", "claude-code");
  mkdirSync(sessionFolder, { recursive: true });
  cpSync(join(fixtures, "session-basic.jsonl"), join(sessionFolder, `${CLAUDE_SESSION}.jsonl`));
  cpSync(join(fixtures, CLAUDE_SESSION), join(sessionFolder, CLAUDE_SESSION), { recursive: true });
  server = await startServer({
    env: {
      AGENT_SANDBOX: "off",
      AGENT_PROVIDER: "scripted",
      AGENT_SCRIPTS_DIR: scriptsDir,
      AGENT_WORKSPACES_ROOT: workspacesRoot,
      CLAUDE_CODE_TRANSCRIPTS: "on",
      CLAUDE_PROJECTS_DIR: projectsDir,
    },
  });
  console.log(`[e2e] tracedeck (npm start) at ${server.url}, DATA_DIR ${server.dataDir}, agent scripts in ${scriptsDir}`);
  project.provide("tracedeckUrl", server.url);
  project.provide("agentScriptsDir", scriptsDir);
  project.provide("agentWorkspacesRoot", workspacesRoot);
  project.provide("claudeProjectsDir", projectsDir);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
}
