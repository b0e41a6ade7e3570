import type { ServiceDeps } from "./deps.js";
import { createChatService } from "./chats.js";
import { createSnapshotService } from "./snapshots.js";
import { createTraceService } from "./traces.js";

export type { ServiceDeps } from "./deps.js";

/** Every write path of Tracedeck; resolvers, agents and ingest call these. */
export function createServices(deps: ServiceDeps) {
  return {
    chats: createChatService(deps),
    traces: createTraceService(deps),
    snapshots: createSnapshotService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;
