import { createPubSub, type PubSub } from "graphql-yoga";
import type { TypedEventTarget } from "@graphql-yoga/typed-event-target";
import { CHAT_EVENTS, type ChatEventMessage, type Topics } from "./topics.js";

export type EventBus = PubSub<Topics>;

/** In-process by default; the Redis event target makes every process see every event. */
export function createEventBus(eventTarget?: TypedEventTarget<CustomEvent>): EventBus {
  return createPubSub<Topics>(eventTarget ? { eventTarget } : undefined);
}

/** Called by services after commit, never inside a transaction. */
export function publishChatEvents(bus: EventBus, events: readonly ChatEventMessage[]): void {
  for (const event of events) bus.publish(CHAT_EVENTS, event);
}
