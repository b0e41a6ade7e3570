import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { GraphQLError } from "graphql";
import stringify from "safe-stable-stringify";
import { z } from "zod";
import { EARLIEST_INSTANT, LATEST_INSTANT } from "../services/dates.js";

/**
 * Opaque keyset cursors. A cursor names its position and the scope it was issued for (the list,
 * the chat, the filter and the order), and is signed: a forged cursor, or one used for another
 * scope, is refused with a typed error instead of silently paging somewhere else.
 */
export interface CursorScope {
  list: string;
  parentId?: string;
  filter?: unknown;
  /** The position's columns in order, each with its direction: "createdAt desc, id desc". */
  order: string;
}

export type Position = (string | number)[];

export class CursorError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: "INVALID_CURSOR" } });
  }
}

const int32 = z.number().int().min(0).max(2_147_483_647);
/**
 * What each column of a position holds. A signature proves only that this server wrote the cursor
 * (with this secret), not that its position is what today's code expects: a cursor from an older
 * version, or a body signed with a leaked secret, must still be refused cleanly.
 */
const COLUMN_KINDS: Record<string, z.ZodType<string | number>> = {
  createdAt: z.number().int().min(EARLIEST_INSTANT.getTime()).max(LATEST_INSTANT.getTime()),
  startedAt: z.number().int().min(EARLIEST_INSTANT.getTime()).max(LATEST_INSTANT.getTime()),
  id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i),
  turn: int32,
  seq: int32,
};

const shapes = new Map<string, z.ZodType<Position>>();

/** The shape of a position in `order`; a column without a kind is a programming error, thrown. */
export function positionShape(order: string): z.ZodType<Position> {
  const known = shapes.get(order);
  if (known) return known;
  const columns = order.split(",").map((part) => part.trim().split(/\s+/)[0]!);
  const kinds = columns.map((column) => {
    const kind = COLUMN_KINDS[column];
    if (!kind) throw new Error(`cursors.ts has no kind for the order column ${JSON.stringify(column)}: add it to COLUMN_KINDS`);
    return kind;
  });
  const shape = z.tuple(kinds as [z.ZodType<string | number>, ...z.ZodType<string | number>[]]) as unknown as z.ZodType<Position>;
  shapes.set(order, shape);
  return shape;
}

/** A decoded body: what encodeCursor writes, nothing else. */
const cursorBody = z.strictObject({ s: z.string(), p: z.array(z.union([z.string(), z.number()])) });

const scopeHash = (scope: CursorScope) => createHash("sha256").update(stringify(scope) ?? "").digest("base64url").slice(0, 16);
const sign = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("base64url").slice(0, 22);

/** A cursor of any body text, signed: what encodeCursor builds, and how tests forge bad bodies. */
export function signedCursor(secret: string, bodyText: string): string {
  const body = Buffer.from(bodyText, "utf8").toString("base64url");
  return `${body}.${sign(secret, body)}`;
}

export function encodeCursor(secret: string, scope: CursorScope, position: Position): string {
  // A position the decoder would refuse is a bug in the list, caught at its first page.
  const checked = positionShape(scope.order).safeParse(position);
  if (!checked.success) throw new Error(`list ${scope.list} made a position ${JSON.stringify(position)} that its order ${scope.order} does not allow`);
  return signedCursor(secret, JSON.stringify({ s: scopeHash(scope), p: position }));
}

/** The position of a cursor issued for `scope`, its columns checked against the scope's order. */
export function decodeCursor(secret: string, scope: CursorScope, cursor: string): Position {
  const shape = positionShape(scope.order);
  const [body, mac, extra] = cursor.split(".");
  if (!body || !mac || extra !== undefined) throw new CursorError("The cursor is malformed");
  const expected = Buffer.from(sign(secret, body));
  if (expected.length !== Buffer.from(mac).length || !timingSafeEqual(expected, Buffer.from(mac))) {
    throw new CursorError("The cursor was not issued by this server");
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw new CursorError("The cursor is malformed");
  }
  const decoded = cursorBody.safeParse(json);
  if (!decoded.success) throw new CursorError("The cursor is malformed");
  if (decoded.data.s !== scopeHash(scope)) {
    throw new CursorError("The cursor was issued for another list, chat, filter or order");
  }
  const position = shape.safeParse(decoded.data.p);
  if (!position.success) throw new CursorError("The cursor's position does not fit its list");
  return position.data;
}
