// Coalesced refreshes: many requests in a burst (a stream of live events) make one run, at most one
// run is under way at a time, and a request made during a run makes one more run after it.

export interface Coalescer {
  /** Asks for a run within `delayMs` (the first request of a burst sets the time). */
  request(): void;
  /** Runs now (or right after the current run). */
  flush(): Promise<void>;
  /** Forgets pending requests (a run under way still finishes). */
  cancel(): void;
  readonly running: boolean;
}

export function coalesce(run: () => Promise<unknown>, delayMs = 300, timers: Pick<typeof globalThis, "setTimeout" | "clearTimeout"> = globalThis): Coalescer {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | null = null;
  let again = false;

  const start = (): Promise<void> => {
    if (timer !== undefined) {
      timers.clearTimeout(timer);
      timer = undefined;
    }
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        await run();
      } catch {
        // The run reports its own errors.
      } finally {
        inFlight = null;
        if (again) {
          again = false;
          schedule();
        }
      }
    })();
    return inFlight;
  };

  const schedule = () => {
    if (timer !== undefined) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      void start();
    }, delayMs);
  };

  return {
    request() {
      if (inFlight) again = true;
      else schedule();
    },
    flush: start,
    cancel() {
      again = false;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
    },
    get running() {
      return inFlight !== null;
    },
  };
}
