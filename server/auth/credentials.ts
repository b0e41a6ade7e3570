/**
 * Where a client puts its key: `Authorization: Bearer td_…` over HTTP; in graphql-ws's
 * connection_init payload, `{ "authorization": "Bearer td_…" }` (as a header would be) or
 * `{ "apiKey": "td_…" }`. An empty value counts as none (Claude Code's HTTP hooks send
 * "Bearer " when their variable is unset).
 */
export function keyFromAuthorization(header: string | null | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  if (match) return match[1];
  // A value that is not "Bearer <key>" is still a credential: refused as malformed, not as absent.
  return header.trim() === "" || /^\s*Bearer\s*$/i.test(header) ? undefined : header.trim();
}

export function keyFromConnectionParams(params: unknown): string | undefined {
  if (!params || typeof params !== "object") return undefined;
  const record = params as Record<string, unknown>;
  const authorization = record.authorization ?? record.Authorization;
  if (typeof authorization === "string") {
    const key = keyFromAuthorization(authorization);
    if (key !== undefined) return key;
  }
  return typeof record.apiKey === "string" && record.apiKey.trim() !== "" ? record.apiKey.trim() : undefined;
}
