// One Tracedeck server for the whole browser run, started as the README starts it (`npm start`,
// PORT=0, a temporary DATA_DIR, LOG_LEVEL=info), after building the dashboard once if web/dist is
// missing. Its URL is provided to the test files as inject("tracedeckUrl"); it is stopped (its whole
// process group) at the end of the run.
import { existsSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { CHROMIUM } from "./helpers/browser.js";
import { ensureDashboardBuilt, type StartedServer, startServer } from "./helpers/server.js";

declare module "vitest" {
  export interface ProvidedContext {
    tracedeckUrl: string;
  }
}

let server: StartedServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  ensureDashboardBuilt((line) => console.log(`[e2e] ${line}`));
  server = await startServer();
  console.log(`[e2e] tracedeck (npm start) at ${server.url}, DATA_DIR ${server.dataDir}`);
  project.provide("tracedeckUrl", server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
