import { SCOPES } from "../../auth/scopes.js";
import { type ApiKeyRecord, statusOf } from "../../services/api-keys.js";
import { builder } from "../builder.js";

export const ApiKeyScopeEnum = builder.enumType("ApiKeyScope", {
  description: "ingest: write chats, traces and snapshots (hooks, OTLP); read: queries, subscriptions, exports; agent: Tracedeck's agent; admin: deletes, restores, keys, and everything else",
  values: SCOPES,
});

const ApiKeyStatusEnum = builder.enumType("ApiKeyStatus", { values: ["active", "revoked", "expired"] as const });

/** An API key as lists show it: never the key or its hash. Not a Node: `node(id)` is for readers. */
export const ApiKeyRef = builder.objectRef<ApiKeyRecord>("ApiKey").implement({
  description: "An API key, without its secret: the key is shown once, when it is created.",
  fields: (t) => ({
    id: t.exposeID("id", { description: "The key's UUID" }),
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The key's first characters (td_ and 8 more), to tell keys apart" }),
    scopes: t.field({ type: [ApiKeyScopeEnum], resolve: (key) => key.scopes }),
    status: t.field({ type: ApiKeyStatusEnum, resolve: (key) => statusOf(key) }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true, description: "Updated at most once a minute" }),
  }),
});

builder.queryField("apiKeys", (t) =>
  t.field({
    type: [ApiKeyRef],
    description: "The server's API keys, newest first (admin scope).",
    args: { includeRevoked: t.arg.boolean({ required: false, defaultValue: false }) },
    resolve: (_root, args, ctx) => ctx.services.apiKeys.list({ includeRevoked: args.includeRevoked ?? false }),
  }),
);
