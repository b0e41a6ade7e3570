import type { RestoreResult } from "../../services/snapshots.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { writeErrors } from "../types/Errors.js";
import { SnapshotRevisionRef } from "../types/SnapshotRevision.js";

const RestoreSnapshotPayload = builder.objectRef<RestoreResult>("RestoreSnapshotPayload").implement({
  fields: (t) => ({
    revision: t.field({ type: SnapshotRevisionRef, resolve: (r) => r.revision }),
    nextTurn: t.exposeInt("nextTurn", { description: "The turn the agent continues with" }),
    sessionId: t.exposeString("sessionId", { description: "The new session the restore started" }),
  }),
});

builder.mutationField("restoreSnapshot", (t) =>
  t.field({
    type: RestoreSnapshotPayload,
    description: "Makes a turn's revision current; later turns are superseded but stay restorable.",
    errors: { types: writeErrors, directResult: true },
    args: { chatId: t.arg.id({ required: true }), turn: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.snapshots.restore({ chatId: parseId(String(args.chatId), "Chat", ["chatId"]), turn: args.turn }),
  }),
);
