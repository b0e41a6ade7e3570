import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { GraphQLError } from "graphql";
import stringify from "safe-stable-stringify";

/**
 * Opaque keyset cursors. A cursor names its position and the scope it was issued for (the list,
 * the chat, the filter and the order), and is signed: a forged cursor, or one used for another
 * scope, is refused with a typed error instead of silently paging somewhere else.
 */
export interface CursorScope {
  list: string;
  parentId?: string;
  filter?: unknown;
  order: string;
}

export class CursorError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: "INVALID_CURSOR" } });
  }
}

const scopeHash = (scope: CursorScope) => createHash("sha256").update(stringify(scope) ?? "").digest("base64url").slice(0, 16);
const sign = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("base64url").slice(0, 22);

export function encodeCursor(secret: string, scope: CursorScope, position: (string | number)[]): string {
  const body = Buffer.from(JSON.stringify({ s: scopeHash(scope), p: position })).toString("base64url");
  return `${body}.${sign(secret, body)}`;
}

export function decodeCursor(secret: string, scope: CursorScope, cursor: string): (string | number)[] {
  const [body, mac, extra] = cursor.split(".");
  if (!body || !mac || extra !== undefined) throw new CursorError("The cursor is malformed");
  const expected = Buffer.from(sign(secret, body));
  if (expected.length !== Buffer.from(mac).length || !timingSafeEqual(expected, Buffer.from(mac))) {
    throw new CursorError("The cursor was not issued by this server");
  }
  const decoded = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as { s: string; p: (string | number)[] };
  if (decoded.s !== scopeHash(scope)) {
    throw new CursorError("The cursor was issued for another list, chat, filter or order");
  }
  return decoded.p;
}
