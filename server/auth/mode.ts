import { type Config, isLoopbackHost } from "../config.js";

/**
 * Whether API keys are required: always beyond loopback (a shared or exposed server must know who
 * asks), and on loopback when AUTH=on. AUTH=off beyond loopback is refused by config.ts.
 */
export function authEnabled(config: Pick<Config, "AUTH" | "HOST">): boolean {
  const loopbackOnly = isLoopbackHost(config.HOST.replace(/^\[|\]$/g, ""));
  return config.AUTH === "on" || !loopbackOnly;
}
