import { createRedisEventTarget } from "@graphql-yoga/redis-event-target";
import { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import { createEventBus, type EventBus } from "./pubsub.js";

/** The event bus over Redis: every server process sees every chat's events. */
export function createRedisEventBus(url: string, log: Logger): { bus: EventBus; close(): Promise<void> } {
  const options = { maxRetriesPerRequest: null, lazyConnect: false } as const;
  const publishClient = new Redis(url, options);
  const subscribeClient = new Redis(url, options);
  for (const [role, client] of [["publish", publishClient], ["subscribe", subscribeClient]] as const) {
    client.on("error", (error: Error) => log.warn("redis.error", { role, error: error.message }));
  }
  const bus = createEventBus(createRedisEventTarget({ publishClient, subscribeClient }));
  return {
    bus,
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
