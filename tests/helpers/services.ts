import { writeConcurrencyOf } from "../../server/db/client.js";
import { defaultLimits, type Limits } from "../../server/config.js";
import { createEventBus, type EventBus } from "../../server/events/pubsub.js";
import { CHAT_EVENTS, type ChatEventMessage, isProbe } from "../../server/events/topics.js";
import { silentLogger } from "../../server/logger.js";
import { createServices, type Services } from "../../server/services/index.js";
import type { Database } from "../../server/db/client.js";

/** Everything published on a real event bus, collected by a real subscriber. */
export interface PublishedEvents {
  readonly events: ChatEventMessage[];
  /** Lets the subscriber drain what was published so far. */
  settle(): Promise<ChatEventMessage[]>;
  stop(): void;
}

export function recordPublished(bus: EventBus): PublishedEvents {
  const events: ChatEventMessage[] = [];
  const iterator = bus.subscribe(CHAT_EVENTS)[Symbol.asyncIterator]();
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const next = await iterator.next();
      if (next.done) return;
      if (!isProbe(next.value)) events.push(next.value);
    }
  })();
  return {
    events,
    async settle() {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      return events;
    },
    stop() {
      stopped = true;
      void iterator.return?.();
    },
  };
}

export interface ServiceHarness {
  services: Services;
  bus: EventBus;
  published: PublishedEvents;
}

export function createServiceHarness(db: Database, limits: Partial<Limits> = {}): ServiceHarness {
  const bus = createEventBus();
  const published = recordPublished(bus);
  // As the app builds them: the hot writes on the database's own statement path.
  const services = createServices({
    prisma: db.prisma,
    bus,
    limits: { ...defaultLimits, ...limits },
    log: silentLogger,
    writeSql: db.writeSql,
    writeConcurrency: writeConcurrencyOf(db),
  });
  return { services, bus, published };
}
