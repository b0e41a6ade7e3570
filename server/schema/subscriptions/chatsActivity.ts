import { GraphQLError } from "graphql";
import { Repeater } from "graphql-yoga";
import { UnboundedBuffer } from "../../events/pubsub.js";
import type { ChatEventMessage } from "../../events/topics.js";
import { builder } from "../builder.js";
import { ChatEventRef } from "../types/ChatEvent.js";

/** A chatsActivity subscriber this far behind is ended with an error (it re-subscribes and re-lists). */
const MAX_BEHIND = 10_000;

builder.subscriptionField("chatsActivity", (t) =>
  t.field({
    type: ChatEventRef,
    description:
      "Every chat's events as they are committed, for a live chat list: chat_created, chat_updated and chat_deleted, and activity (traces, snapshots) that moves lastActivityAt.",
    subscribe: (_root, _args, ctx) => {
      // Buffered: the router hands a burst over in one go (a 1,000-item batch is 2,000 events), more
      // than the 1,024 pending pushes an unbuffered Repeater allows before push throws.
      const buffer = new UnboundedBuffer<ChatEventMessage>();
      return new Repeater<ChatEventMessage>(async (push, stop) => {
        const unlisten = ctx.router.listenAll((event) => {
          if (buffer.length >= MAX_BEHIND) {
            stop(new GraphQLError(`chatsActivity fell more than ${MAX_BEHIND} events behind; subscribe again`, { extensions: { code: "SUBSCRIBER_TOO_SLOW" } }));
          } else push(event).catch(() => {});
        });
        await stop;
        unlisten();
      }, buffer);
    },
    resolve: (event) => event,
  }),
);
