import type { ServerResponse } from "node:http";

/** A request refused before any handler runs: its status, a stable code and a message for people. */
export class HttpRefusal extends Error {
  override name = "HttpRefusal";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

/** Refusals are shaped like GraphQL errors, so every client reads them the same way. */
export function sendRefusal(res: ServerResponse, refusal: HttpRefusal): void {
  // After a refused body the rest of it may still be on the socket: do not read another request from it.
  const close: Record<string, string> = refusal.status === 413 ? { connection: "close" } : {};
  sendJson(res, refusal.status, { errors: [{ message: refusal.message, extensions: { code: refusal.code } }] }, close);
}
