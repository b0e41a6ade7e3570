import type { ApiKeyRecord } from "../../services/api-keys.js";
import { builder } from "../builder.js";
import { ApiKeyRef, ApiKeyScopeEnum } from "../types/ApiKey.js";
import { writeErrors } from "../types/Errors.js";

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  fields: (t) => ({
    name: t.string({ required: true, description: "What the key is for, e.g. ci or laptop" }),
    scopes: t.field({ type: [ApiKeyScopeEnum], required: true }),
    expiresAt: t.field({ type: "DateTime", required: false, description: "Unset: the key never expires" }),
  }),
});

const CreatedApiKey = builder.objectRef<{ key: string; apiKey: ApiKeyRecord }>("CreatedApiKey").implement({
  fields: (t) => ({
    key: t.exposeString("key", { description: "The key itself: shown this once, never stored (only its SHA-256 is)" }),
    apiKey: t.field({ type: ApiKeyRef, resolve: (created) => created.apiKey }),
  }),
});

builder.mutationField("createApiKey", (t) =>
  t.field({
    type: CreatedApiKey,
    description: "Makes an API key (admin scope). The answer holds the key, which cannot be read again.",
    errors: { types: writeErrors, directResult: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.apiKeys.create({ name: input.name, scopes: input.scopes, expiresAt: input.expiresAt ?? undefined }),
  }),
);
