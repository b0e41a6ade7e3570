// One app of Tracedeck's agent in process, with its own database, workspaces root and scripts
// folder (one per describe: setPrisma is process-wide), and a GraphQL helper that fails on errors.
import { expect } from "vitest";
import type { AgentConfig } from "../../server/config.js";
import { execute, startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { makeTempDir, removeDir } from "./helpers.js";

export interface AgentHarness {
  db: TestDatabase;
  t: TestApp;
  root: string;
  scripts: string;
}

/** Starts the app and its agent; `agentConfig` gets the scripts folder it may point the scripted provider at. */
export async function startAgentHarness(agentConfig: (scripts: string) => Partial<AgentConfig> = () => ({})): Promise<AgentHarness> {
  const db = await createTestDatabase();
  const root = makeTempDir("tracedeck-agent-root-");
  const scripts = makeTempDir("tracedeck-agent-scripts-");
  const t = await startTestApp(db, {
    listen: false,
    agentConfig: { workspacesRoot: root, providers: { openai: { timeoutMs: 5_000 }, anthropic: { timeoutMs: 5_000 }, scriptsDir: scripts }, ...agentConfig(scripts) },
  });
  await t.app.agent.start();
  return { db, t, root, scripts };
}

export async function stopAgentHarness(h: AgentHarness | undefined): Promise<void> {
  await h?.t.stop();
  await h?.db.destroy();
  removeDir(h?.root);
  removeDir(h?.scripts);
}

/** Runs an operation in process; GraphQL errors fail the test (typed error results do not). */
export function agentGql(h: () => AgentHarness) {
  return async function gql(query: string, variables?: Record<string, unknown>): Promise<Record<string, any>> {
    const result = await execute(h().t.app, query, variables);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data as Record<string, any>;
  };
}
