import { encodeGlobalID } from "@pothos/plugin-relay";
import type { AgentSnapshotRevision } from "../../db/generated/prisma/client.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { writeErrors } from "../types/Errors.js";

const DeleteSnapshotPayload = builder.objectRef<AgentSnapshotRevision>("DeleteSnapshotPayload").implement({
  fields: (t) => ({
    deletedRevisionId: t.id({ resolve: (r) => encodeGlobalID("SnapshotRevision", r.id) }),
    deletedUuid: t.exposeString("id"),
    turn: t.exposeInt("turn"),
  }),
});

builder.mutationField("deleteSnapshot", (t) =>
  t.field({
    type: DeleteSnapshotPayload,
    description: "Deletes one revision. Deleting the current one is a conflict.",
    errors: { types: writeErrors, directResult: true },
    args: { revisionId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.snapshots.deleteRevision(parseId(String(args.revisionId), "SnapshotRevision", ["revisionId"])),
  }),
);
