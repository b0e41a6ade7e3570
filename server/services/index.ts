import type { ServiceDeps } from "./deps.js";
import { createAgentRunService } from "./agent-runs.js";
import { createApiKeyService } from "./api-keys.js";
import { createAgentSettingsService } from "./agent-settings.js";
import { createAgentTurnService } from "./agent-turns.js";
import { createChatService } from "./chats.js";
import { createChatImportService } from "./chat-import.js";
import { createFileJournalService } from "./file-journal.js";
import { createIngestSessionService } from "./ingest-sessions.js";
import { createRetentionService } from "./retention.js";
import { createSnapshotService } from "./snapshots.js";
import { createTraceService } from "./traces.js";

export type { ServiceDeps } from "./deps.js";

/** Every write path of Tracedeck; resolvers, agents and ingest call these. */
export function createServices(deps: ServiceDeps) {
  const snapshots = createSnapshotService(deps);
  return {
    chats: createChatService(deps),
    traces: createTraceService(deps),
    snapshots,
    agentTurns: createAgentTurnService(deps),
    agentSettings: createAgentSettingsService(deps),
    agentRuns: createAgentRunService(deps),
    fileJournal: createFileJournalService(deps),
    ingestSessions: createIngestSessionService(deps, snapshots),
    chatImport: createChatImportService(deps),
    retention: createRetentionService(deps),
    apiKeys: createApiKeyService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;
