import type { Entry, RecordEntry, SnapshotEntry, StartEntry } from "./queue.js";

/** One mutation field of a request and the entries it carries. */
export type Field =
  | { kind: "start"; key: string; entries: [StartEntry] }
  | { kind: "records"; key: string; entries: RecordEntry[] }
  | { kind: "snapshot"; key: string; entries: [SnapshotEntry] };

export interface BatchLimits {
  maxFields: number;
  maxRecords: number;
  maxBytes: number;
}

export interface Batch {
  fields: Field[];
  entries: Entry[];
}

/**
 * What the main request takes, in queue order: its starts first, then its finished calls in one
 * recordToolTraces field. Entries `busy` says are elsewhere (a start on an express request, or a
 * finish whose start is there) are passed over; the rest is taken as a prefix. A snapshot travels
 * alone, and only once everything queued before it is settled: the server gives a new trace the turn
 * that is open when the trace is written, and the fields of one request succeed or fail each on their
 * own, so a snapshot sharing a request with calls could close their turn before a call that failed
 * there is sent again. `pinTurn` pins the turn of a snapshot that has none, or says (false) that none
 * is known yet. An empty batch with entries queued means: wait for the express requests.
 */
export function takeBatch(queue: readonly Entry[], limits: BatchLimits, pinTurn: (entry: SnapshotEntry) => boolean, busy: (entry: Entry) => boolean = () => false): Batch {
  const head = queue[0];
  if (head?.kind === "snapshot") {
    return pinTurn(head) ? { fields: [{ kind: "snapshot", key: keyOf(0, "saveSnapshot"), entries: [head] }], entries: [head] } : { fields: [], entries: [] };
  }
  const starts: StartEntry[] = [];
  const records: RecordEntry[] = [];
  const taken: Entry[] = [];
  let bytes = 0;
  for (const entry of queue) {
    if (entry.kind === "snapshot") break;
    if (busy(entry)) continue;
    const fields = starts.length + (entry.kind === "start" ? 1 : 0) + (records.length > 0 || entry.kind === "record" ? 1 : 0);
    if (fields > limits.maxFields || (entry.kind === "record" && records.length >= limits.maxRecords)) break;
    if (taken.length > 0 && bytes + entry.bytes > limits.maxBytes) break;
    if (entry.kind === "start") starts.push(entry);
    else records.push(entry);
    taken.push(entry);
    bytes += entry.bytes;
  }
  return fieldsOf(starts, records, taken);
}

/**
 * An express request: starts only, those queued before any snapshot and not yet on their way, sent
 * while the main request is under way, so a start never waits behind a large batch of finishes.
 */
export function takeStarts(queue: readonly Entry[], limits: BatchLimits): Batch {
  const starts: StartEntry[] = [];
  let bytes = 0;
  for (const entry of queue) {
    if (entry.kind === "snapshot" || starts.length >= limits.maxFields) break;
    if (entry.kind !== "start" || entry.inFlight) continue;
    if (starts.length > 0 && bytes + entry.bytes > limits.maxBytes) break;
    starts.push(entry);
    bytes += entry.bytes;
  }
  return fieldsOf(starts, [], starts);
}

function fieldsOf(starts: StartEntry[], records: RecordEntry[], taken: Entry[]): Batch {
  const fields: Field[] = starts.map((start, i) => ({ kind: "start", key: keyOf(i, "startToolTrace"), entries: [start] }));
  if (records.length > 0) fields.push({ kind: "records", key: keyOf(fields.length, "recordToolTraces"), entries: records });
  return { fields, entries: taken };
}

/** The first field goes unaliased, so a request of one field passes any alias limit. */
const keyOf = (index: number, fieldName: string) => (index === 0 ? fieldName : `f${index}`);

const ERROR_SELECTION = "... on Error { message } ... on ValidationError { issues { path message } } ... on NotFoundError { entity }";

/** The mutation document and its variables for a batch. */
export function requestOf(batch: Batch, chatId: string): { query: string; variables: Record<string, unknown> } {
  const definitions: string[] = [];
  const selections: string[] = [];
  const variables: Record<string, unknown> = {};
  batch.fields.forEach((field, index) => {
    const variable = `v${index}`;
    const alias = index === 0 ? "" : `${field.key}: `;
    if (field.kind === "start") {
      definitions.push(`$${variable}: StartToolTraceInput!`);
      selections.push(`${alias}startToolTrace(input: $${variable}) { __typename ${ERROR_SELECTION} }`);
      variables[variable] = { chatId, ...field.entries[0].call };
    } else if (field.kind === "records") {
      definitions.push(`$${variable}: RecordToolTracesInput!`);
      selections.push(`${alias}recordToolTraces(input: $${variable}) { __typename ${ERROR_SELECTION} }`);
      variables[variable] = { items: field.entries.map((e) => ({ chatId, ...e.call, ...e.finish })) };
    } else {
      const entry = field.entries[0];
      definitions.push(`$${variable}: SaveSnapshotInput!`);
      selections.push(`${alias}saveSnapshot(input: $${variable}) { __typename ... on SnapshotRevision { turn } ${ERROR_SELECTION} }`);
      variables[variable] = { chatId, state: entry.state, ...(entry.turn !== undefined ? { turn: entry.turn } : {}) };
    }
  });
  return { query: `mutation TracedeckSdkBatch(${definitions.join(", ")}) { ${selections.join(" ")} }`, variables };
}

/** A field's answer: its union member, or the GraphQL errors at its path. */
export interface FieldAnswer {
  typename?: string;
  message?: string;
  issues?: { path: string[]; message: string }[];
  /** A NotFoundError's entity: "Chat" means no item of the chat can be written. */
  entity?: string;
  turn?: number;
  errors: { message: string; code?: string; retryable?: boolean }[];
}

export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; path?: (string | number)[]; extensions?: { code?: string; retryable?: boolean } }[];
}

export function answerOf(body: GraphQLBody, key: string): FieldAnswer {
  const value = body.data?.[key] as { __typename?: string; message?: string; issues?: FieldAnswer["issues"]; entity?: string; turn?: number } | null | undefined;
  const errors = (body.errors ?? [])
    .filter((e) => e.path?.[0] === key)
    .map((e) => ({ message: e.message ?? "GraphQL error", code: e.extensions?.code, retryable: e.extensions?.retryable }));
  return { typename: value?.__typename, message: value?.message, issues: value?.issues, entity: value?.entity, turn: value?.turn, errors };
}

/** The item of a recordToolTraces batch that a typed error names (items.N), if it names one. */
export function failedItemOf(answer: FieldAnswer): number | undefined {
  // Paths and messages name it from the input's root: input.items.3.toolName.
  const path = answer.issues?.map((issue) => issue.path).find((p) => p.some((part, i) => part === "items" && /^\d+$/.test(p[i + 1] ?? "")));
  const fromPath = path?.[path.indexOf("items") + 1];
  const raw = fromPath ?? /\bitems\.(\d+)\b/.exec(answer.message ?? "")?.[1];
  return raw === undefined ? undefined : Number(raw);
}

/** The codes of errors a retry can cure: the database was down or slow. */
export const isRetryableFieldError = (e: FieldAnswer["errors"][number]) =>
  e.retryable === true || e.code === "DATABASE_UNAVAILABLE" || e.code === "STATEMENT_TIMEOUT" || e.code === "OPERATION_TIMEOUT";

/** A typed error's text for a report: its message and the first issues. */
export function describeAnswer(answer: FieldAnswer): string {
  const issues = answer.issues?.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
  const base = answer.message ?? answer.errors[0]?.message ?? `unexpected answer ${answer.typename ?? "(none)"}`;
  return issues.length > 0 ? `${answer.typename ?? "Error"}: ${base} (${issues.join("; ")})` : `${answer.typename ?? "Error"}: ${base}`;
}
