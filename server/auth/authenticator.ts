import type { ApiKeyRecord, ApiKeyService } from "../services/api-keys.js";
import { missingScopes, type Scope } from "./scopes.js";

/** Who is asking: the key a request or a socket presented, once verified. */
export type Principal = Pick<ApiKeyRecord, "id" | "name" | "prefix" | "scopes" | "expiresAt">;

/**
 * Why a request is refused: 401 (no key, or one that is malformed, unknown, revoked or expired) or
 * 403 (a good key without the scope). The message is for people; it never holds the key.
 */
export class AuthRefusal extends Error {
  override name = "AuthRefusal";
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
  get code(): "UNAUTHENTICATED" | "FORBIDDEN" {
    return this.status === 401 ? "UNAUTHENTICATED" : "FORBIDDEN";
  }
}

export interface Authenticator {
  /** Whether keys are required at all (AUTH, HOST: see auth/mode.ts). */
  readonly enabled: boolean;
  /** The principal of a presented key, or the refusal (401) saying why not. */
  authenticate(key: string | undefined, where?: "http" | "websocket"): Promise<Principal | AuthRefusal>;
  /** null when the principal holds every scope needed, else the refusal (403). */
  authorize(principal: Principal, needed: Iterable<Scope>, what: string): AuthRefusal | null;
  /** authenticate, then authorize. */
  check(key: string | undefined, needed: Iterable<Scope>, what: string, where?: "http" | "websocket"): Promise<Principal | AuthRefusal>;
}

const HOW = {
  http: "send it as the header `Authorization: Bearer td_…`",
  websocket: 'send it in the connection_init payload as { "authorization": "Bearer td_…" } or { "apiKey": "td_…" }',
};

const named = (p: Principal) => `${p.prefix}… ("${p.name}")`;

export function createAuthenticator(options: { enabled: boolean; apiKeys: Pick<ApiKeyService, "verify"> }): Authenticator {
  const { enabled, apiKeys } = options;

  async function authenticate(key: string | undefined, where: "http" | "websocket" = "http"): Promise<Principal | AuthRefusal> {
    if (key === undefined) return new AuthRefusal(401, `An API key is required: ${HOW[where]}`);
    const verdict = await apiKeys.verify(key);
    switch (verdict.status) {
      case "active": {
        const { id, name, prefix, scopes, expiresAt } = verdict.key;
        return { id, name, prefix, scopes, expiresAt };
      }
      case "malformed":
        return new AuthRefusal(401, "The API key is not a Tracedeck key (td_ followed by 43 characters)");
      case "unknown":
        return new AuthRefusal(401, "The API key is not known to this server");
      case "revoked":
        return new AuthRefusal(401, `The API key ${named(verdict.key)} was revoked at ${verdict.key.revokedAt!.toISOString()}`);
      case "expired":
        return new AuthRefusal(401, `The API key ${named(verdict.key)} expired at ${verdict.key.expiresAt!.toISOString()}`);
    }
  }

  function authorize(principal: Principal, needed: Iterable<Scope>, what: string): AuthRefusal | null {
    const missing = missingScopes(principal.scopes, needed);
    if (missing.length === 0) return null;
    return new AuthRefusal(
      403,
      `The API key ${named(principal)} lacks the ${missing.join(" and ")} scope${missing.length > 1 ? "s" : ""} that ${what} needs; it has ${principal.scopes.join(", ")}`,
    );
  }

  return {
    enabled,
    authenticate,
    authorize,
    async check(key, needed, what, where) {
      const principal = await authenticate(key, where);
      if (principal instanceof AuthRefusal) return principal;
      return authorize(principal, needed, what) ?? principal;
    },
  };
}

