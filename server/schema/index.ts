// Imports every type file, then builds the schema.
import { builder } from "./builder.js";
import "./roots.js";
import "./scalars.js";
import "./types/Errors.js";
import "./types/Chat.js";
import "./types/ToolTrace.js";
import "./types/SnapshotRevision.js";
import "./types/ChatStats.js";
import "./types/ChatEvent.js";
import "./types/ChatTurn.js";
import "./types/ModelStep.js";
import "./mutations/createChat.js";
import "./mutations/renameChat.js";
import "./mutations/deleteChat.js";
import "./mutations/startToolTrace.js";
import "./mutations/finishToolTrace.js";
import "./mutations/recordToolTraces.js";
import "./mutations/saveSnapshot.js";
import "./mutations/restoreSnapshot.js";
import "./mutations/deleteSnapshot.js";
import "./subscriptions/chatEvents.js";
import "./subscriptions/liveTraces.js";
import "./subscriptions/chatsActivity.js";

export const schema = builder.toSchema({ sortSchema: true });
