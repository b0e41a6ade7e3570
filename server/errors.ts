/** The expected failures of Tracedeck: each becomes a typed result in the GraphQL schema. */
export abstract class TracedeckError extends Error {
  abstract readonly code: "NOT_FOUND" | "CONFLICT" | "VALIDATION" | "AGENT_DISABLED";
}

export class NotFoundError extends TracedeckError {
  override name = "NotFoundError";
  readonly code = "NOT_FOUND" as const;
  constructor(
    readonly entity: string,
    readonly id: string,
    message = `${entity} ${id} was not found`,
  ) {
    super(message);
  }
}

export class ConflictError extends TracedeckError {
  override name = "ConflictError";
  readonly code = "CONFLICT" as const;
  constructor(
    message: string,
    readonly entity?: string,
    readonly id?: string,
  ) {
    super(message);
  }
}

export interface FieldIssue {
  /** Where the bad value is, from the input's root, e.g. ["items", 3, "tokens", "input"]. */
  path: (string | number)[];
  message: string;
}

export class ValidationError extends TracedeckError {
  override name = "ValidationError";
  readonly code = "VALIDATION" as const;
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; "));
  }

  /** The same issues, under a prefix: a batch names the item that failed. */
  prefixed(prefix: (string | number)[]): ValidationError {
    return new ValidationError(this.issues.map((i) => ({ path: [...prefix, ...i.path], message: i.message })));
  }
}

/** Tracedeck's agent is off on this server (AGENT_ENABLED, or a non-loopback HOST): the message says why. */
export class AgentDisabledError extends TracedeckError {
  override name = "AgentDisabledError";
  readonly code = "AGENT_DISABLED" as const;
}
