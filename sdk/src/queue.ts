import { type JsonValue, utf8Bytes } from "./json.js";
import type { ItemKind, TokenUsage } from "./types.js";

/** What a call's start says; a finish repeats it so that it can record the call whole if need be. */
export interface CallStart {
  toolCallId: string;
  toolName: string;
  toolInput: JsonValue;
  /** RFC 3339, from the agent's clock: retries say exactly the same, so the server sees a replay. */
  startedAt: string;
  messageId?: string;
  sessionId?: string;
}

export interface CallFinish {
  finishedAt: string;
  latencyMs: number;
  output?: string;
  error?: string;
  tokens?: TokenUsage;
}

interface EntryBase {
  /** Order of arrival: flush() waits for the entries up to a mark. */
  seq: number;
  bytes: number;
  inFlight: boolean;
  /** Failed attempts that were the server's fault (500, an unmasked error). */
  attempts: number;
}

/** A start not yet sent. */
export interface StartEntry extends EntryBase {
  kind: "start";
  call: CallStart;
  ops: 1;
}

/**
 * A finished call, sent through recordToolTraces: it finishes the started trace of its tool call id,
 * or records the call whole when its start never arrived. `ops` is 2 when it took its start's place.
 */
export interface RecordEntry extends EntryBase {
  kind: "record";
  call: CallStart;
  finish: CallFinish;
  ops: 1 | 2;
}

export interface SnapshotEntry extends EntryBase {
  kind: "snapshot";
  state: JsonValue;
  /** The turn asked for, or the one pinned before the first attempt, so a retry is a replay. */
  turn?: number;
  explicitTurn: boolean;
  ops: 1;
}

export type Entry = StartEntry | RecordEntry | SnapshotEntry;

/** The kind of item an entry stands for in drop and reject reports. */
export const kindOf = (entry: Entry): ItemKind => (entry.kind === "record" ? "finish" : entry.kind);

export interface QueueBounds {
  maxItems: number;
  maxBytes: number;
  maxItemBytes: number;
}

export type Refusal = "queue_full" | "too_large";

/** The JSON a call's start or record adds to a request body (chat id aside), for the byte bounds. */
const sizeOf = (value: unknown) => utf8Bytes(JSON.stringify(value));

/**
 * The bounded, ordered queue. Items leave from the front, in order; a finish whose start is still
 * queued (not in flight) takes the start's place as one record, so a fast call costs one item.
 */
export function createQueue(bounds: QueueBounds) {
  let entries: Entry[] = [];
  let bytes = 0;
  let ops = 0;
  let nextSeq = 1;
  const startsByCall = new Map<string, StartEntry>();

  function admit(entry: Entry): Refusal | undefined {
    if (entry.bytes > bounds.maxItemBytes) return "too_large";
    if (entries.length >= bounds.maxItems || bytes + entry.bytes > bounds.maxBytes) return "queue_full";
    entries.push(entry);
    bytes += entry.bytes;
    ops += entry.ops;
    return undefined;
  }

  return {
    get length() {
      return entries.length;
    },
    get ops() {
      return ops;
    },
    get bytes() {
      return bytes;
    },
    entries: () => entries,

    addStart(call: CallStart): Refusal | undefined {
      const entry: StartEntry = { kind: "start", call, ops: 1, seq: nextSeq++, bytes: sizeOf(call), inFlight: false, attempts: 0 };
      const refused = admit(entry);
      if (!refused) startsByCall.set(call.toolCallId, entry);
      return refused;
    },

    /** A finish: merged into its queued start, else a record of its own. Returns the ops it refused, if any. */
    addFinish(call: CallStart, finish: CallFinish): Refusal | undefined {
      const start = startsByCall.get(call.toolCallId);
      const extra = sizeOf(finish);
      if (start && !start.inFlight && bytes + extra <= bounds.maxBytes && start.bytes + extra <= bounds.maxItemBytes) {
        startsByCall.delete(call.toolCallId);
        const merged = start as unknown as RecordEntry;
        merged.kind = "record";
        merged.finish = finish;
        merged.ops = 2;
        merged.bytes += extra;
        bytes += extra;
        ops += 1;
        return undefined;
      }
      const entry: RecordEntry = { kind: "record", call, finish, ops: 1, seq: nextSeq++, bytes: sizeOf(call) + extra, inFlight: false, attempts: 0 };
      return admit(entry);
    },

    addSnapshot(state: JsonValue, turn: number | undefined): Refusal | undefined {
      const entry: SnapshotEntry = { kind: "snapshot", state, turn, explicitTurn: turn !== undefined, ops: 1, seq: nextSeq++, bytes: sizeOf(state), inFlight: false, attempts: 0 };
      return admit(entry);
    },

    /** Takes settled entries out (sent, rejected or dropped); the rest keep their order. */
    remove(settled: ReadonlySet<Entry>): void {
      if (settled.size === 0) return;
      entries = entries.filter((e) => {
        if (!settled.has(e)) return true;
        bytes -= e.bytes;
        ops -= e.ops;
        if (e.kind === "start" && startsByCall.get(e.call.toolCallId) === e) startsByCall.delete(e.call.toolCallId);
        return false;
      });
    },

    /** Whether any entry up to `seq` is still queued. */
    holdsUpTo(seq: number): boolean {
      return entries.some((e) => e.seq <= seq);
    },

    /** The newest seq handed out: flush() waits up to it. */
    lastSeq: () => nextSeq - 1,
  };
}

export type Queue = ReturnType<typeof createQueue>;
