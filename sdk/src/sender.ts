import { answerOf, describeAnswer, failedItemOf, type Field, type GraphQLBody, isRetryableFieldError, requestOf, takeBatch, takeStarts } from "./batch.js";
import { backoffDelay } from "./backoff.js";
import type { Entry, Queue, SnapshotEntry } from "./queue.js";
import type { Reporter } from "./report.js";
import type { createTransport, Outcome } from "./transport.js";

export interface SenderOptions {
  queue: Queue;
  reporter: Reporter;
  transport: ReturnType<typeof createTransport>;
  /** The endpoint as shown in warnings (no credentials). */
  endpointLabel: string;
  chat: { id?: string; title?: string; workspace?: string };
  maxFields: number;
  maxRecords: number;
  maxRequestBytes: number;
  flushIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxItemAttempts: number;
}

/**
 * A request refused for its size by one of the server's operation limits (aliases, tokens, cost,
 * depth), not for a bad variable: fewer fields per request fix it.
 */
const isOperationLimit = (reason: string) => !/Variable "\$/.test(reason) && /\b(aliases|token limit|tokens limit|complexity|depth)\b/i.test(reason);

/** Express requests in flight at once, beside the main one. */
const MAX_EXPRESS = 4;

/** What the main lane does after a request: go on, wait a backoff, or wait for the express request. */
type Next = { type: "now" } | { type: "idle" } | { type: "backoff"; reason: string; retryAfterMs?: number };

const unref = (timer: ReturnType<typeof setTimeout>) => {
  (timer as { unref?: () => void }).unref?.();
  return timer;
};

/**
 * Sends the queue in order, one main request at a time, so that a snapshot never overtakes the calls
 * of its turn; while the main request is under way, new starts go on an express request of their own
 * (a finish whose start is there waits for it). Every item carries what makes its retry a replay (the
 * tool call id, the agent's times, a pinned turn), so an answer lost on the way is simply sent again.
 */
export function createSender(o: SenderOptions) {
  const { queue, reporter } = o;
  let chatId = o.chat.id;
  let chatFailure: string | undefined;
  /** The chat's open turn as this client last learnt it: snapshots without a turn are pinned to it. */
  let nextTurn: number | undefined;
  let turnUnknowable = false;
  /** The main request is under way. */
  let sending = false;
  /** Express requests under way (a few at most: starts are independent), and the tool call ids of their starts. */
  let expressing = 0;
  const expressCalls = new Set<string>();
  let closed = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let backoffTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  /** Entries still to send one per request, to find the one a refused request was refused for. */
  let isolate = 0;
  let maxFields = o.maxFields;
  let maxRecords = o.maxRecords;
  const waiters = new Set<{ mark: number; done: (settled: boolean) => void }>();

  /** Where the timer is due: a flush at `due` (ms, performance.now()) or none. */
  let flushDue = Number.POSITIVE_INFINITY;

  /**
   * A new item is queued. A start leaves on the next turn of the event loop, so a viewer sees the call
   * while it runs (a tool that completes within the same turn still merges with its finish); finishes
   * and snapshots wait up to flushIntervalMs for company, or leave at once when a request is full.
   */
  function schedule(urgent: boolean): void {
    if (closed) return;
    if (sending) {
      if (urgent) void express();
      return;
    }
    if (backoffTimer) return;
    const full = queue.length >= maxFields || queue.bytes >= o.maxRequestBytes;
    const delay = urgent || full ? 0 : o.flushIntervalMs;
    const due = performance.now() + delay;
    if (flushTimer && flushDue <= due) return;
    if (flushTimer) clearTimeout(flushTimer);
    flushDue = due;
    flushTimer = unref(setTimeout(run, delay));
  }

  function run(): void {
    flushTimer = undefined;
    flushDue = Number.POSITIVE_INFINITY;
    void pump();
  }

  async function pump(): Promise<void> {
    if (sending || closed || backoffTimer) return;
    if (queue.length === 0) return settleWaiters();
    sending = true;
    let next: Next;
    try {
      next = await step();
    } catch (error) {
      // A bug of ours must not stop delivery for good: treat it as a failed attempt.
      next = { type: "backoff", reason: `internal error: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      sending = false;
    }
    settleWaiters();
    if (closed) return;
    if (next.type === "backoff") {
      failures++;
      reporter.retried(next.reason);
      reporter.warnOnce("unreachable", `cannot deliver to ${o.endpointLabel} (${next.reason}); retrying with backoff (at most ${o.retryMaxMs} ms apart)`);
      const delay = Math.max(backoffDelay(failures, o.retryBaseMs, o.retryMaxMs), Math.min(next.retryAfterMs ?? 0, o.retryMaxMs));
      backoffTimer = unref(
        setTimeout(() => {
          backoffTimer = undefined;
          void pump();
        }, delay),
      );
      return;
    }
    if (next.type === "idle") return; // the express request's end sends what waits for it
    if (failures > 0) reporter.rearm("unreachable");
    failures = 0;
    if (queue.length > 0) schedule(true); // these items have waited for the request already
  }

  /** Starts sent beside the main request; any trouble is left for the main lane to meet. */
  async function express(): Promise<void> {
    if (expressing >= MAX_EXPRESS || !sending || backoffTimer || closed || chatId === undefined || chatFailure !== undefined) return;
    const batch = takeStarts(queue.entries(), { maxFields, maxRecords, maxBytes: o.maxRequestBytes });
    if (batch.entries.length === 0) return;
    expressing++;
    const starts = batch.entries as { inFlight: boolean; call: { toolCallId: string } }[];
    for (const e of starts) {
      e.inFlight = true;
      expressCalls.add(e.call.toolCallId);
    }
    let outcome: Outcome | undefined;
    try {
      outcome = await o.transport.post(requestOf(batch, chatId));
    } catch {
      outcome = undefined;
    } finally {
      for (const e of starts) {
        e.inFlight = false;
        expressCalls.delete(e.call.toolCallId);
      }
      expressing--;
    }
    if (closed) return;
    if (outcome?.type === "answered") {
      const done = new Set<Entry>();
      settleFields(batch.fields, outcome.body, done);
      queue.remove(done);
    } else if (outcome?.type === "bad_request" && batch.fields.length > 1 && isOperationLimit(outcome.reason)) {
      maxFields = Math.max(1, Math.floor(batch.fields.length / 2));
    }
    settleWaiters();
    if (sending) void express();
    else if (!backoffTimer && queue.length > 0) schedule(true);
  }

  /** One request (or the chat's creation, or a turn lookup): what to do next. */
  async function step(): Promise<Next> {
    if (chatFailure !== undefined) {
      rejectAll(queue.entries(), chatFailure);
      return { type: "now" };
    }
    if (chatId === undefined) return createChat();
    const head = queue.entries()[0]!;
    if (head.kind === "snapshot" && head.turn === undefined && nextTurn === undefined && !turnUnknowable) return lookUpTurn(chatId);

    const batch = takeBatch(
      queue.entries(),
      isolate > 0 ? { maxFields: 1, maxRecords: 1, maxBytes: o.maxRequestBytes } : { maxFields, maxRecords, maxBytes: o.maxRequestBytes },
      pinTurn,
      (e) => e.inFlight || (e.kind === "record" && expressCalls.has(e.call.toolCallId)),
    );
    if (batch.entries.length === 0) return expressing > 0 ? { type: "idle" } : { type: "backoff", reason: "nothing could be sent" }; // never spin
    if (isolate > 0) isolate--;
    for (const e of batch.entries) e.inFlight = true;
    let outcome: Outcome;
    try {
      outcome = await o.transport.post(requestOf(batch, chatId));
    } finally {
      for (const e of batch.entries) e.inFlight = false;
    }
    if (closed) return { type: "now" }; // what was left is already counted as dropped
    return settle(batch.fields, batch.entries, outcome);
  }

  function pinTurn(entry: SnapshotEntry): boolean {
    if (entry.turn !== undefined) {
      if (nextTurn !== undefined) nextTurn = Math.max(nextTurn, entry.turn + 1);
      return true;
    }
    if (turnUnknowable) return true; // sent without a turn; the server says why it cannot be saved
    if (nextTurn === undefined) return false;
    entry.turn = nextTurn++;
    return true;
  }

  function settle(fields: Field[], entries: Entry[], outcome: Outcome): Next {
    const done = new Set<Entry>();
    try {
      switch (outcome.type) {
        case "retry":
          return { type: "backoff", reason: outcome.reason, retryAfterMs: outcome.retryAfterMs };
        case "server_error":
          countAttempt(entries, outcome.reason, done);
          if (entries.length > 1) isolate = Math.max(isolate, entries.length);
          return { type: "backoff", reason: outcome.reason };
        case "refused":
          rejectAll(entries, outcome.reason, done);
          return { type: "now" };
        case "bad_request":
          if (entries.length === 1) rejectAll(entries, outcome.reason, done);
          else if (fields.length > 1 && isOperationLimit(outcome.reason)) maxFields = Math.max(1, Math.floor(fields.length / 2));
          // Else one of the items is bad: they go one per request until it is found.
          else isolate = Math.max(isolate, entries.length);
          return { type: "now" };
        case "answered":
          return settleFields(fields, outcome.body, done);
      }
    } finally {
      queue.remove(done);
    }
  }

  function settleFields(fields: Field[], body: GraphQLBody, done: Set<Entry>): Next {
    let backoff: string | undefined;
    for (const field of fields) {
      const answer = answerOf(body, field.key);
      const typename = answer.typename;
      if (typename === undefined) {
        // No answer: the field failed (an error at its path) or never ran (an earlier one failed).
        const failure = answer.errors[0];
        if (!failure) continue; // unknown outcome: sent again, as a replay
        backoff ??= failure.message;
        if (!answer.errors.every(isRetryableFieldError)) countAttempt(field.entries, describeAnswer(answer), done);
        continue;
      }
      if (/Error$/.test(typename)) {
        refuseField(field, answer, done);
        continue;
      }
      reporter.sent(field.entries);
      for (const e of field.entries) done.add(e);
      if (field.kind === "snapshot" && answer.turn !== undefined) nextTurn = Math.max(nextTurn ?? 0, answer.turn + 1);
    }
    return backoff === undefined ? { type: "now" } : { type: "backoff", reason: backoff };
  }

  /** A typed error: the item is refused. A batch of records names its bad item; the others go again. */
  function refuseField(field: Field, answer: ReturnType<typeof answerOf>, done: Set<Entry>): void {
    const message = describeAnswer(answer);
    if (field.kind === "records" && field.entries.length > 1 && !(answer.typename === "NotFoundError" && answer.entity === "Chat")) {
      // A server whose MAX_BATCH_ITEMS is below ours says its limit: batches shrink to it.
      const limit = /holds \d+ items; the limit is (\d+)/.exec(answer.message ?? "")?.[1];
      if (limit !== undefined && Number(limit) >= 1 && Number(limit) < field.entries.length) {
        maxRecords = Number(limit);
        return;
      }
      const bad = failedItemOf(answer);
      const entry = bad === undefined ? undefined : field.entries[bad];
      if (entry) rejectAll([entry], message, done);
      else isolate = Math.max(isolate, field.entries.length);
      return;
    }
    if (field.kind === "snapshot" && answer.typename === "ConflictError" && !field.entries[0].explicitTurn) nextTurn = undefined;
    rejectAll(field.entries, message, done);
  }

  function countAttempt(entries: readonly Entry[], reason: string, done: Set<Entry>): void {
    for (const e of entries) {
      e.attempts++;
      if (e.attempts >= o.maxItemAttempts) rejectAll([e], `gave up after ${e.attempts} attempts: ${reason}`, done);
    }
  }

  function rejectAll(entries: readonly Entry[], message: string, done?: Set<Entry>): void {
    const settled = done ?? new Set<Entry>();
    for (const e of entries) {
      if (settled.has(e)) continue;
      reporter.rejected(e, message);
      settled.add(e);
    }
    if (!done) queue.remove(settled);
  }

  async function createChat(): Promise<Next> {
    const input: Record<string, string> = {};
    if (o.chat.title !== undefined) input.title = o.chat.title;
    if (o.chat.workspace !== undefined) input.workspace = o.chat.workspace;
    const outcome = await o.transport.post({
      query: `mutation TracedeckSdkCreateChat($input: CreateChatInput) { createChat(input: $input) { __typename ... on Chat { uuid nextTurn } ... on Error { message } ... on ValidationError { issues { path message } } } }`,
      variables: { input },
    });
    if (closed) return { type: "now" };
    if (outcome.type === "retry" || outcome.type === "server_error") return { type: "backoff", reason: outcome.reason };
    if (outcome.type !== "answered") return failChat(outcome.reason);
    const chat = outcome.body.data?.createChat as { __typename?: string; uuid?: string; nextTurn?: number } | undefined;
    if (chat?.__typename === "Chat" && chat.uuid) {
      chatId = chat.uuid;
      nextTurn = chat.nextTurn;
      return { type: "now" };
    }
    const answer = answerOf(outcome.body, "createChat");
    if (!chat && answer.errors.every(isRetryableFieldError) && answer.errors.length > 0) return { type: "backoff", reason: answer.errors[0]!.message };
    return failChat(`the chat could not be created: ${describeAnswer(answer)}`);
  }

  function failChat(message: string): Next {
    chatFailure = message;
    rejectAll(queue.entries(), message);
    return { type: "now" };
  }

  /** The chat's open turn, before a snapshot without a turn is pinned to it. */
  async function lookUpTurn(id: string): Promise<Next> {
    const outcome = await o.transport.post({ query: `query TracedeckSdkChat($id: ID!) { chat(id: $id) { nextTurn } }`, variables: { id } });
    if (closed) return { type: "now" };
    if (outcome.type === "retry" || outcome.type === "server_error") return { type: "backoff", reason: outcome.reason };
    const chat = outcome.type === "answered" ? (outcome.body.data?.chat as { nextTurn?: number } | null | undefined) : undefined;
    if (typeof chat?.nextTurn === "number") nextTurn = chat.nextTurn;
    else turnUnknowable = true; // no such chat, or a refusal: the snapshot goes as it is and the server answers it
    return { type: "now" };
  }

  function settleWaiters(): void {
    for (const waiter of waiters) if (!queue.holdsUpTo(waiter.mark)) waiter.done(true);
  }

  return {
    schedule,
    get chatId() {
      return chatId;
    },

    flush(timeoutMs: number): Promise<boolean> {
      const mark = queue.lastSeq();
      if (!queue.holdsUpTo(mark)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        // Not unref'd: whoever awaits a flush wants the process to wait for it, up to the timeout.
        const timer = setTimeout(() => waiter.done(false), timeoutMs);
        const waiter = {
          mark,
          done(settled: boolean) {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(settled);
          },
        };
        waiters.add(waiter);
        schedule(true);
      });
    },

    /** Stops for good: timers cleared, the request under way cut, what is left counted as dropped. */
    close(dropRest: (entry: Entry) => void): void {
      closed = true;
      if (flushTimer) clearTimeout(flushTimer);
      if (backoffTimer) clearTimeout(backoffTimer);
      flushTimer = backoffTimer = undefined;
      o.transport.abortAll();
      const rest = new Set(queue.entries());
      for (const e of rest) dropRest(e);
      queue.remove(rest);
      for (const waiter of waiters) waiter.done(false);
    },

    get closed() {
      return closed;
    },
  };
}
