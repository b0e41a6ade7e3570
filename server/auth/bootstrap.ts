import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { ApiKeyService } from "../services/api-keys.js";

/**
 * At start-up: stores TRACEDECK_BOOTSTRAP_KEY as an admin key named "bootstrap" when no admin key
 * is usable, and says in one line whether keys are required. The key itself is never logged.
 */
export async function storeBootstrapKey(options: {
  config: Pick<Config, "TRACEDECK_BOOTSTRAP_KEY" | "AUTH" | "HOST">;
  apiKeys: Pick<ApiKeyService, "bootstrap" | "hasActiveAdmin">;
  enabled: boolean;
  log: Logger;
}): Promise<void> {
  const { config, apiKeys, enabled, log } = options;
  const bootstrap = config.TRACEDECK_BOOTSTRAP_KEY;
  if (bootstrap) {
    const outcome = await apiKeys.bootstrap(bootstrap);
    if (outcome === "created") log.info("auth.bootstrap_key_stored", { name: "bootstrap", scopes: ["admin"], hint: "the key of TRACEDECK_BOOTSTRAP_KEY is now an admin key; remove the variable once you have made your own keys" });
    else if (outcome === "admin_exists") log.info("auth.bootstrap_key_ignored", { reason: "an admin key already exists" });
  }
  if (!enabled) {
    log.info("auth: off (loopback only); set AUTH=on to require API keys");
    return;
  }
  log.info("auth: on (API keys required)", { reason: config.AUTH === "on" ? "AUTH=on" : `HOST=${config.HOST} is beyond loopback` });
  if (!(await apiKeys.hasActiveAdmin())) {
    log.warn("auth.no_admin_key", {
      hint: "no admin key exists: stop the server and run `npm run keys -- create --scope admin --name admin`, or start it once with TRACEDECK_BOOTSTRAP_KEY set",
    });
  }
}
