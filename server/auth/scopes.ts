/**
 * What an API key may do. A key holds one or more scopes:
 * - ingest: create and rename chats, write traces and snapshots, Claude Code hooks, OTLP;
 * - read: queries, subscriptions, the dashboard's data, REST reads and export downloads;
 * - agent: Tracedeck's agent (sendMessage, cancelTurn, a chat's agent settings);
 * - admin: deletes, restores and key management, and everything the others allow (a person
 *   handed an admin key expects it to open every door, so it does).
 */
export const SCOPES = ["ingest", "read", "agent", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (value: unknown): value is Scope => typeof value === "string" && (SCOPES as readonly string[]).includes(value);

/** Whether a key holding `held` may do what needs `needed`. */
export const grants = (held: readonly Scope[], needed: Scope): boolean => held.includes("admin") || held.includes(needed);

/** The scopes of `needed` that `held` lacks, in SCOPES order. */
export const missingScopes = (held: readonly Scope[], needed: Iterable<Scope>): Scope[] => {
  const wanted = new Set(needed);
  return SCOPES.filter((scope) => wanted.has(scope) && !grants(held, scope));
};
