// Group commit: concurrent writes are gathered and committed together, one statement for many
// callers. Nothing waits when the database is idle: a batch leaves as soon as a slot is free, and
// what arrives while every slot is busy forms the next batches (as PostgreSQL's own commit_delay
// would, without a fixed sleep). Each caller gets its own answer after its batch committed.

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface GroupCommitOptions {
  /** Batches in flight at once: 1 on PGlite (one connection), a few on PostgreSQL. */
  maxInFlight: number;
  /** A batch closes at this many items... */
  maxItems: number;
  /** ...or at this many bytes of its items' estimated size, so one batch's statement stays bounded. */
  maxBytes: number;
}

interface Waiting<I, O> {
  item: I;
  bytes: number;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Runs `commit` over batches of submitted items. `commit` answers every item of its batch, in
 * order: one item's failure is its own, the others' answers stand. An answer may still be under way
 * (an item sent on by another path): each caller is answered as soon as its own answer is, and the
 * batch's slot is free again once `commit` has returned.
 */
export function createGroupCommit<I, O>(commit: (items: I[]) => Promise<(Settled<O> | Promise<Settled<O>>)[]>, options: GroupCommitOptions) {
  const queue: Waiting<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;

  function take(share: number): Waiting<I, O>[] {
    let bytes = 0;
    let n = 0;
    const most = Math.min(share, options.maxItems);
    while (n < queue.length && n < most && (n === 0 || bytes + queue[n]!.bytes <= options.maxBytes)) bytes += queue[n++]!.bytes;
    return queue.splice(0, n);
  }

  async function run(batch: Waiting<I, O>[]) {
    try {
      const answers = await commit(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        void Promise.resolve(answers[i]).then(
          (answer) => {
            if (!answer) w.reject(new Error("group commit: no answer for an item"));
            else if (answer.ok) w.resolve(answer.value);
            else w.reject(answer.error);
          },
          (error: unknown) => w.reject(error),
        );
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      inFlight--;
      pump();
    }
  }

  // What waits is shared among the free slots: a few writers each get their own statement (and
  // connection); only when every slot is busy do the writers behind them share one.
  function pump() {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const share = Math.ceil(queue.length / (options.maxInFlight - inFlight));
      inFlight++;
      void run(take(share));
    }
  }

  return {
    submit(item: I, bytes = 0): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, bytes, resolve, reject });
        // Requests read in the same turn of the event loop go out together.
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            pump();
          });
        }
      });
    },
    /** Items waiting for a batch: for tests. */
    get waiting() {
      return queue.length;
    },
  };
}
