import { resolveCursorConnection, type ResolveCursorConnectionArgs } from "@pothos/plugin-relay";
import type { GraphQLContext } from "./context.js";
import { type CursorScope, decodeCursor, encodeCursor } from "./cursors.js";
import { checkPageSize, type PageArgs } from "./pagination.js";

export type Position = (string | number)[];

export interface KeysetSpec<T, W> {
  scope: CursorScope;
  /** The row's position in the order: a unique key. */
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
 * field >= at AND (field > at OR id > $id) for `greater`, the mirror for the other way.
 */
export function seekBeyond<F extends string>(field: F, position: Position, greater: boolean) {
  const at = new Date(Number(position[0]));
  const id = String(position[1]);
  const [wide, strict] = greater ? (["gte", "gt"] as const) : (["lte", "lt"] as const);
  return { AND: [{ [field]: { [wide]: at } }, { OR: [{ [field]: { [strict]: at } }, { id: { [strict]: id } }] }] } as Record<F | "AND", unknown>;
}
