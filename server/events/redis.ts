import { createRequire } from "node:module";
import { createRedisEventTarget } from "@graphql-yoga/redis-event-target";
import type { Redis as RedisClient } from "ioredis";
import type { Logger } from "../logger.js";
import { createEventBus, type EventBus } from "./pubsub.js";

/**
 * The event bus over Redis: every server process sees every chat's events. `ioredis` is loaded here,
 * on the first call, so a server without REDIS_URL never loads it.
 */
export function createRedisEventBus(url: string, log: Logger): { bus: EventBus; close(): Promise<void> } {
  const { Redis } = createRequire(import.meta.url)("ioredis") as { Redis: typeof RedisClient };
  const options = { maxRetriesPerRequest: null, lazyConnect: false } as const;
  const publishClient = new Redis(url, options);
  const subscribeClient = new Redis(url, options);
  for (const [role, client] of [["publish", publishClient], ["subscribe", subscribeClient]] as const) {
    client.on("error", (error: Error) => log.warn("redis.error", { role, error: error.message }));
  }
  // The event target does not await its PUBLISH: a failed one (Redis down, or closing at shutdown)
  // would be an unhandled rejection, which ends the process. Log it instead; the events are in the
  // log, and subscribers' gap and idle checks read them from there.
  const publish = publishClient.publish.bind(publishClient) as (channel: string, message: string) => Promise<number>;
  (publishClient as unknown as { publish: typeof publish }).publish = (channel, message) =>
    publish(channel, message).catch((error: Error) => {
      log.warn("redis.publish_failed", { channel, error: error.message });
      return 0;
    });
  const bus = createEventBus(createRedisEventTarget({ publishClient, subscribeClient }));
  return {
    bus,
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
