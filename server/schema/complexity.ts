import type { FieldComplexityValue } from "@pothos/plugin-complexity";
import { getNamedType, getNullableType, type GraphQLField, isLeafType, isListType } from "graphql";

/** What the complexity rule is given as context: it runs before the request's context exists. */
export interface ComplexityContext {
  limits?: { defaultPageSize: number; maxPageSize: number };
}

/**
 * The cost model, roughly "rows and queries an operation makes the database produce":
 * - a scalar or enum costs nothing (it is a column of a row already read);
 * - an object costs 1, and a connection multiplies what it selects by its page size (`first` or
 *   `last`, else the default page), capped at the largest page so that an oversized page is
 *   reported as PAGE_SIZE_INVALID rather than as cost;
 * - `edges` adds no further multiple; `nodes(ids)` multiplies by the ids given; another list, by 10;
 * - fields that run their own aggregate query say so with `complexity` where they are defined.
 */
export function fieldComplexity<C>(args: Record<string, unknown>, ctx: C, field: GraphQLField<unknown, C>): FieldComplexityValue {
  const base = isLeafType(getNamedType(field.type)) ? 0 : 1;
  const limits = (ctx as ComplexityContext | undefined)?.limits ?? { defaultPageSize: 50, maxPageSize: 500 };
  if (field.args.some((a) => a.name === "first" || a.name === "last")) {
    const requested = typeof args.first === "number" ? args.first : typeof args.last === "number" ? args.last : limits.defaultPageSize;
    return { field: base, multiplier: Math.min(Math.max(requested, 0), limits.maxPageSize) };
  }
  if (isListType(getNullableType(field.type))) {
    if (field.name === "edges") return { field: base, multiplier: 1 };
    if (Array.isArray(args.ids)) return { field: base, multiplier: args.ids.length };
    return { field: base, multiplier: 10 };
  }
  return base;
}
