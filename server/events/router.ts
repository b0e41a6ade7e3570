import { randomUUID } from "node:crypto";
import type { Logger } from "../logger.js";
import type { EventBus } from "./pubsub.js";
import { CHAT_EVENTS, type ChatEventMessage, isProbe } from "./topics.js";

export type ChatEventListener = (event: ChatEventMessage) => void;

/**
 * The process's one subscription to the chat-events channel, routing each event to the listeners
 * of its chat (and to listeners of every chat). Subscriptions listen here, never on the bus itself.
 */
export interface ChatEventRouter {
  listen(chatId: string, listener: ChatEventListener): () => void;
  listenAll(listener: ChatEventListener): () => void;
  close(): Promise<void>;
}

/**
 * Subscribes once and confirms the subscription with a probe round trip: Redis's SUBSCRIBE is not
 * awaited by the event target, so without the probe the first events after boot could be missed.
 */
export async function startChatEventRouter(bus: EventBus, log: Logger, probeTimeoutMs = 10_000): Promise<ChatEventRouter> {
  const byChat = new Map<string, Set<ChatEventListener>>();
  const everyChat = new Set<ChatEventListener>();
  const probes = new Map<string, () => void>();
  const iterator = bus.subscribe(CHAT_EVENTS)[Symbol.asyncIterator]();

  const pump = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const message = next.value;
      if (isProbe(message)) {
        probes.get(message.probe)?.();
        continue;
      }
      for (const listener of [...(byChat.get(message.chatId) ?? []), ...everyChat]) {
        try {
          listener(message);
        } catch (error) {
          log.error("events.listener_failed", { error, chatId: message.chatId, seq: message.seq });
        }
      }
    }
  })();

  const nonce = randomUUID();
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => {
      clearInterval(retry);
      probes.delete(nonce);
      reject(new Error(`The event channel did not deliver a probe within ${probeTimeoutMs} ms`));
    }, probeTimeoutMs);
    const send = () => bus.publish(CHAT_EVENTS, { probe: nonce });
    const retry = setInterval(send, 200);
    probes.set(nonce, () => {
      clearTimeout(deadline);
      clearInterval(retry);
      probes.delete(nonce);
      resolve();
    });
    send();
  });
  log.debug("events.router_ready");

  return {
    listen(chatId, listener) {
      const set = byChat.get(chatId) ?? new Set();
      set.add(listener);
      byChat.set(chatId, set);
      return () => {
        set.delete(listener);
        if (set.size === 0 && byChat.get(chatId) === set) byChat.delete(chatId);
      };
    },
    listenAll(listener) {
      everyChat.add(listener);
      return () => everyChat.delete(listener);
    },
    async close() {
      await iterator.return?.();
      await pump.catch(() => {});
    },
  };
}
