export { createClient, SDK_VERSION } from "./client.js";
export type { ClientOptions, ClientStats, DropInfo, ItemKind, JsonValue, RejectInfo, SnapshotOptions, TokenUsage, TraceToolOptions, TracedeckClient } from "./types.js";
