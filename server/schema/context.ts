import type { AgentRunner } from "../agent/runner.js";
import type { ChatEventRouter } from "../events/router.js";
import type { Logger } from "../logger.js";
import type { Services } from "../services/index.js";
import type { Loaders } from "./loaders/index.js";

/** Built per request (and per WebSocket operation). The Prisma client is not here: see db/client.ts. */
export interface GraphQLContext {
  services: Services;
  /** Tracedeck's agent in this process; absent where a yoga is built without one (some tests). */
  agent?: AgentRunner;
  router: ChatEventRouter;
  log: Logger;
  limits: { maxPageSize: number; defaultPageSize: number; cursorSecret: string; streamIdleCheckMs: number };
  /** Batch loaders for fields read once per row of a page (schema/loaders): new for each context. */
  loaders: Loaders;
}
