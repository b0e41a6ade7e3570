import { builder } from "../builder.js";
import { ApiKeyRef } from "../types/ApiKey.js";
import { writeErrors } from "../types/Errors.js";

builder.mutationField("revokeApiKey", (t) =>
  t.field({
    type: ApiKeyRef,
    description: "Revokes an API key at once (admin scope); open WebSockets using it close within WS_AUTH_RECHECK_SECONDS. Revoking a revoked key changes nothing.",
    errors: { types: writeErrors, directResult: true },
    args: { id: t.arg.id({ required: true, description: "The key's id, or its prefix as listed (td_…)" }) },
    resolve: (_root, args, ctx) => ctx.services.apiKeys.revoke(String(args.id)),
  }),
);
