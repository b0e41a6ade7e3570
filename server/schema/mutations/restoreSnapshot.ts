import type { AgentRestoreResult } from "../../agent/runner.js";
import { type FileRewindResult, UNTRACKED_NOTE } from "../../agent/file-rewind.js";
import { AgentDisabledError } from "../../errors.js";
import { builder } from "../builder.js";
import { parseId } from "../ids.js";
import { writeErrors } from "../types/Errors.js";
import { SnapshotRevisionRef } from "../types/SnapshotRevision.js";

const SkippedFileRef = builder.objectRef<{ path: string; reason: string }>("SkippedFile").implement({
  fields: (t) => ({ path: t.exposeString("path"), reason: t.exposeString("reason") }),
});

const FileRewindRef = builder.objectRef<FileRewindResult>("FileRewind").implement({
  description: "What a restore with rewindFiles did to the agent's workspace.",
  fields: (t) => ({
    rewritten: t.exposeStringList("rewritten", { description: "Files written back with their content at the end of the turn" }),
    deleted: t.exposeStringList("deleted", { description: "Files the agent created after the turn, removed" }),
    skipped: t.field({ type: [SkippedFileRef], resolve: (r) => r.skipped }),
    note: t.string({ resolve: () => UNTRACKED_NOTE }),
  }),
});

const RestoreSnapshotPayload = builder.objectRef<AgentRestoreResult>("RestoreSnapshotPayload").implement({
  fields: (t) => ({
    revision: t.field({ type: SnapshotRevisionRef, resolve: (r) => r.revision }),
    nextTurn: t.exposeInt("nextTurn", { description: "The turn the agent continues with" }),
    sessionId: t.exposeString("sessionId", { description: "The new session the restore started" }),
    files: t.field({ type: FileRewindRef, nullable: true, description: "Present when rewindFiles was asked", resolve: (r) => r.files }),
  }),
});

builder.mutationField("restoreSnapshot", (t) =>
  t.field({
    type: RestoreSnapshotPayload,
    description:
      "Makes a turn's revision current; later turns are superseded but stay restorable. The next message to the agent continues from it. With rewindFiles, the files the agent's write_file and edit_file changed after that turn are put back as they were.",
    errors: { types: [...writeErrors, AgentDisabledError], directResult: true },
    args: {
      chatId: t.arg.id({ required: true }),
      turn: t.arg.int({ required: true }),
      rewindFiles: t.arg.boolean({ required: false, defaultValue: false, description: "Also put the agent's workspace files back (Tracedeck's agent only)" }),
    },
    resolve: async (_root, args, ctx) => {
      const chatId = parseId(String(args.chatId), "Chat", ["chatId"]);
      const rewindFiles = args.rewindFiles ?? false;
      if (ctx.agent) return ctx.agent.restore({ chatId, turn: args.turn, rewindFiles });
      if (rewindFiles) throw new AgentDisabledError("this server runs no agent, so it has no files to rewind");
      return { ...(await ctx.services.snapshots.restore({ chatId, turn: args.turn })), files: null };
    },
  }),
);
