// Fakes for the chat view's tests: a real urql Client whose one exchange answers each operation
// from a handler (by operation name), through wonka's fromValue / fromPromise.
import { Client, type Exchange, type ExecutionResult, makeErrorResult, makeResult, type Operation } from "@urql/core";
import type { WaterfallRowFragment } from "../../web/src/gql/graphql";
import type { TraceStatus } from "../../web/src/gql/graphql";
import { filter, fromPromise, fromValue, mergeMap, pipe } from "wonka";

export interface SeenOperation {
  name: string;
  kind: string;
  variables: Record<string, unknown>;
}

export type Handler = (op: SeenOperation) => unknown | Promise<unknown>;

export function fakeUrql(handler: Handler) {
  const seen: SeenOperation[] = [];
  const exchange: Exchange = () => (ops$) =>
    pipe(
      ops$,
      filter((op: Operation) => op.kind !== "teardown"),
      mergeMap((op: Operation) => {
        const def = op.query.definitions.find((d) => d.kind === "OperationDefinition");
        const name = def && "name" in def && def.name ? def.name.value : "";
        const entry = { name, kind: op.kind, variables: { ...(op.variables as Record<string, unknown>) } };
        seen.push(entry);
        const answer = handler(entry);
        const toResult = (r: unknown) =>
          r instanceof Error ? makeErrorResult(op, r) : makeResult(op, r as ExecutionResult);
        return answer instanceof Promise ? fromPromise(answer.then(toResult)) : fromValue(toResult(answer));
      }),
    );
  const client = new Client({ url: "http://tracedeck.test/graphql", exchanges: [exchange] });
  return { client, seen, named: (name: string) => seen.filter((s) => s.name === name) };
}

/** Lets promises and timers of 0 ms run. */
export const flush = async (times = 4) => {
  for (let i = 0; i < times; i++) await new Promise((r) => setTimeout(r, 0));
};

let n = 0;
/** A light trace node as the list pages return it. */
export function traceNode(over: Partial<Omit<WaterfallRowFragment, "status">> & { status?: string } = {}): WaterfallRowFragment & { __typename: "ToolTrace" } {
  n++;
  const status = (over.status ?? "ok") as TraceStatus;
  return {
    __typename: "ToolTrace",
    id: `VG9vbFRyYWNlOi${n}`,
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    toolName: "read_file",
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n, 500)).toISOString(),
    latencyMs: 500,
    turnNumber: 1,
    error: null,
    agentId: null,
    agentType: null,
    ...over,
    status,
  };
}

export const T0 = Date.UTC(2026, 0, 1);
/** Row i of the fake chat: one trace a second. */
export const node = (i: number, over: Record<string, unknown> = {}) =>
  traceNode({
    id: `t${i}`,
    startedAt: new Date(T0 + i * 1000).toISOString(),
    finishedAt: new Date(T0 + i * 1000 + 300).toISOString(),
    status: i % 50 === 49 ? "error" : "ok",
    ...over,
  });

/** A server of `total` traces: the index, its page cursors ("c199" is the cursor after row 199) and pages. */
export function server(total: number, filtered: (i: number) => boolean = () => true) {
  const rows = Array.from({ length: total }, (_, i) => i).filter(filtered);
  const pageAt = (after: string | null | undefined, first: number) => {
    const start = after ? Number(after.slice(1)) + 1 : 0;
    return rows.slice(start, start + first).map((i, k) => ({ cursor: `c${start + k}`, node: node(i) }));
  };
  return fakeUrql((op) => {
    const v = op.variables as { first: number; after?: string; pageSize: number; filter?: { startedBefore?: string; statuses?: string[]; startedFrom?: string } };
    if (op.name === "WaterfallIndex") {
      const cursors = [];
      for (let k = v.pageSize - 1; k < rows.length - 1; k += v.pageSize) cursors.push(`c${k}`);
      const last = rows.length ? node(rows[rows.length - 1]!) : null;
      return {
        data: {
          chat: {
            id: "chat",
            eventCursor: "ev0",
            tracePageCursors: cursors,
            tail: { edges: last ? [{ node: { id: last.id, startedAt: last.startedAt } }] : [] },
            traces: { totalCount: rows.length, edges: pageAt(null, v.first) },
          },
        },
      };
    }
    if (op.name === "WaterfallPage") return { data: { chat: { id: "chat", traces: { edges: pageAt(v.after, v.first) } } } };
    if (op.name === "TraceSeek") {
      const f = v.filter ?? {};
      let list = rows.map((i) => node(i));
      if (f.startedBefore) list = list.filter((n) => n.startedAt < f.startedBefore!);
      if (f.startedFrom) list = list.filter((n) => n.startedAt >= f.startedFrom!);
      if (f.statuses) list = list.filter((n) => f.statuses!.includes(n.status as string));
      return { data: { chat: { id: "chat", traces: { totalCount: list.length, edges: list.slice(0, v.first).map((n) => ({ node: { id: n.id, startedAt: n.startedAt } })) } } } };
    }
    if (op.name === "TraceLocate") {
      const i = Number(String(op.variables.traceId).slice(1));
      return { data: { node: { __typename: "ToolTrace", id: `t${i}`, startedAt: node(i).startedAt, turnNumber: 1 } } };
    }
    return { data: null };
  });
}

