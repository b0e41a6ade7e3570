import { createPubSub, type PubSub, Repeater } from "graphql-yoga";
import type { TypedEventTarget } from "@graphql-yoga/typed-event-target";
import { CHAT_EVENTS, type ChatEventMessage, type Topics } from "./topics.js";

export type EventBus = PubSub<Topics>;

/**
 * A Repeater buffer without a bound: push never waits and never throws. A Repeater without a buffer
 * allows 1,024 pending pushes and then throws RepeaterOverflowError from push. Events are published
 * synchronously, one per call (a 1,000-item batch publishes 2,000), and Redis hands a whole socket
 * read of messages over in one go, so a listener that pushes into an unbuffered Repeater throws from
 * inside the event target's dispatch: an uncaught exception that ends the process. `length` lets a
 * consumer bound it itself.
 */
export class UnboundedBuffer<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get empty(): boolean {
    return this.head === this.items.length;
  }
  get full(): boolean {
    return false;
  }
  get length(): number {
    return this.items.length - this.head;
  }
  add(value: T): void {
    this.items.push(value);
  }
  remove(): T {
    if (this.empty) throw new Error("UnboundedBuffer is empty");
    const value = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }
}

/**
 * In-process by default; the Redis event target makes every process see every event. Publishing is
 * Yoga's; each subscription gets its own unbounded buffer (see UnboundedBuffer), so a burst of any
 * size is queued for the subscriber instead of overflowing.
 */
export function createEventBus(eventTarget?: TypedEventTarget<CustomEvent>): EventBus {
  const target: TypedEventTarget<CustomEvent> = eventTarget ?? new EventTarget();
  const pubsub = createPubSub<Topics>({ eventTarget: target });
  const subscribe = (routingKey: string, id?: string | number) => {
    const topic = id === undefined ? routingKey : `${routingKey}:${id}`;
    return new Repeater<unknown>((push, stop) => {
      const listener = (event: CustomEvent) => {
        push(event.detail).catch(() => {});
      };
      target.addEventListener(topic, listener);
      void stop.then(() => target.removeEventListener(topic, listener));
    }, new UnboundedBuffer<unknown>());
  };
  return { publish: pubsub.publish, subscribe: subscribe as unknown as EventBus["subscribe"] };
}

/** Called by services after commit, never inside a transaction. */
export function publishChatEvents(bus: EventBus, events: readonly ChatEventMessage[]): void {
  for (const event of events) bus.publish(CHAT_EVENTS, event);
}
