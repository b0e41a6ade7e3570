import { resolveCursorConnection, type ResolveCursorConnectionArgs } from "@pothos/plugin-relay";
import type { GraphQLContext } from "./context.js";
import { type CursorScope, decodeCursor, encodeCursor, type Position, positionShape } from "./cursors.js";
import { checkPageSize, type PageArgs } from "./pagination.js";

export type { Position } from "./cursors.js";

export interface KeysetSpec<T, W> {
  scope: CursorScope;
  /** The row's position in the order: a unique key, its values the order's columns (checked by cursors.ts). */
  positionOf(row: T): Position;
  /** Rows strictly after (in the list's order) or strictly before the position. */
  beyond(position: Position, direction: "after" | "before"): W;
  /** Fetches `take` rows matching `where`, in the list's order or reversed. */
  fetch(args: { where: W[]; reversed: boolean; take: number }): Promise<T[]>;
}

/**
 * A true keyset connection: each page is a seek from the cursor's values (no OFFSET, no lookup of
 * the cursor's row), so it stays correct when rows are inserted or the cursor's row is deleted.
 */
export function keysetConnection<T, W>(ctx: GraphQLContext, args: PageArgs, spec: KeysetSpec<T, W>) {
  const sizes = checkPageSize(args, ctx);
  const secret = ctx.limits.cursorSecret;
  // Fails on the first page, even an empty one, for an order whose columns cursors.ts does not know.
  positionShape(spec.scope.order);
  return resolveCursorConnection(
    { args, ...sizes, toCursor: (row: T) => encodeCursor(secret, spec.scope, spec.positionOf(row)) },
    ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) => {
      const where: W[] = [];
      if (after) where.push(spec.beyond(decodeCursor(secret, spec.scope, after), "after"));
      if (before) where.push(spec.beyond(decodeCursor(secret, spec.scope, before), "before"));
      return spec.fetch({ where, reversed: inverted, take: limit });
    },
  );
}

/**
 * Rows beyond the position (at, id) in (field, id) order, as a seek the (…, field, id) index answers:
 * field >= at AND (field > at OR id > $id) for `greater`, the mirror for the other way. The
 * position comes from decodeCursor, which checked it: epoch milliseconds in range, and a UUID.
 */
export function seekBeyond<F extends string>(field: F, position: Position, greater: boolean) {
  const at = new Date(Number(position[0]));
  const id = String(position[1]);
  const [wide, strict] = greater ? (["gte", "gt"] as const) : (["lte", "lt"] as const);
  return { AND: [{ [field]: { [wide]: at } }, { OR: [{ [field]: { [strict]: at } }, { id: { [strict]: id } }] }] } as Record<F | "AND", unknown>;
}
