import { AgentDisabledError, ConflictError, type FieldIssue, NotFoundError, TracedeckError, ValidationError } from "../../errors.js";
import { builder } from "../builder.js";

/** Every expected failure a mutation can return, as a typed result in the schema. */
export const ErrorInterface = builder.interfaceRef<TracedeckError>("Error").implement({
  fields: (t) => ({
    message: t.exposeString("message"),
  }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  description: "The chat, trace or snapshot named by the input does not exist.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    entity: t.exposeString("entity"),
    id: t.exposeString("id"),
  }),
});

builder.objectType(ConflictError, {
  name: "ConflictError",
  description: "The write disagrees with what is stored, e.g. a second, different finish of a trace.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    entity: t.exposeString("entity", { nullable: true }),
    id: t.exposeString("id", { nullable: true }),
  }),
});

const FieldIssueRef = builder.objectRef<FieldIssue>("FieldIssue").implement({
  fields: (t) => ({
    path: t.stringList({ description: "Where the bad value is, from the input's root", resolve: (issue) => issue.path.map(String) }),
    message: t.exposeString("message"),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  description: "The input is malformed or out of bounds; nothing was written.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    issues: t.field({ type: [FieldIssueRef], resolve: (error) => error.issues }),
  }),
});

builder.objectType(AgentDisabledError, {
  name: "AgentDisabledError",
  description: "Tracedeck's agent is off on this server; the message says why (AGENT_ENABLED, or a server listening beyond loopback).",
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

/** The errors every write can return. */
export const writeErrors = [ValidationError, NotFoundError, ConflictError];
