import { GraphQLError } from "graphql";
import type { GraphQLContext } from "./context.js";

export interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

export class PageSizeError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: "PAGE_SIZE_INVALID" } });
  }
}

/** Refuses a page above the limit instead of clamping it, so a client never mistakes a short page for the end. */
export function checkPageSize(args: PageArgs, ctx: GraphQLContext): { defaultSize: number; maxSize: number } {
  const max = ctx.limits.maxPageSize;
  for (const key of ["first", "last"] as const) {
    const size = args[key];
    if (size == null) continue;
    if (size < 0) throw new PageSizeError(`${key} must not be negative`);
    if (size > max) throw new PageSizeError(`${key} is ${size}; a page holds at most ${max}`);
  }
  return { defaultSize: ctx.limits.defaultPageSize, maxSize: max };
}
