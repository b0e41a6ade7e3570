import { Repeater } from "graphql-yoga";
import type { ChatEventMessage } from "../../events/topics.js";
import { builder } from "../builder.js";
import { ChatEventRef } from "../types/ChatEvent.js";

builder.subscriptionField("chatsActivity", (t) =>
  t.field({
    type: ChatEventRef,
    description:
      "Every chat's events as they are committed, for a live chat list: chat_created, chat_updated and chat_deleted, and activity (traces, snapshots) that moves lastActivityAt.",
    subscribe: (_root, _args, ctx) =>
      new Repeater<ChatEventMessage>(async (push, stop) => {
        const unlisten = ctx.router.listenAll((event) => void push(event));
        await stop;
        unlisten();
      }),
    resolve: (event) => event,
  }),
);
