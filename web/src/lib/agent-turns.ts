// Pure helpers for Tracedeck's own agent in the dashboard: keeping a chat's agent turns in step with
// live events (upsert by id, messages in order), and the marks the auto-fix loop leaves on a turn
// ("auto-fix 1/3", "build failed", "build passed after 1 attempt").
import type { AgentMessageFieldsFragment, AgentTurnFieldsFragment } from "../gql/graphql";

export type AgentTurnInfo = AgentTurnFieldsFragment;
export type AgentMessageInfo = AgentMessageFieldsFragment;

const byCreated = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** Messages merged by id (the later copy wins), in the order the server keeps them (createdAt, id). */
export function mergeMessages(a: readonly AgentMessageInfo[], b: readonly AgentMessageInfo[]): AgentMessageInfo[] {
  const map = new Map<string, AgentMessageInfo>();
  for (const m of a) map.set(m.id, m);
  for (const m of b) map.set(m.id, m);
  return [...map.values()].sort(byCreated);
}

/**
 * The turns with `turn` put in (by id; else by turn number), in turn order. An event carries the
 * turn as it stands now, so the given copy wins, except that an ended turn is never taken back to
 * running (a read that started before the turn ended may answer after its turn_finished event);
 * messages known here that the given copy lacks are kept either way.
 */
export function upsertTurn(turns: readonly AgentTurnInfo[], turn: AgentTurnInfo): AgentTurnInfo[] {
  const at = turns.findIndex((t) => t.id === turn.id || t.turnNumber === turn.turnNumber);
  const next = [...turns];
  if (at >= 0) {
    const known = turns[at]!;
    if (known.id !== turn.id) next[at] = turn;
    else {
      const stale = known.status !== "running" && turn.status === "running";
      next[at] = { ...(stale ? known : turn), messages: mergeMessages(known.messages, turn.messages) };
    }
  } else next.push(turn);
  return next.sort((x, y) => x.turnNumber - y.turnNumber);
}

/** The turns with the message added to its turn; null when no turn of that number is known yet. */
export function upsertMessage(turns: readonly AgentTurnInfo[], message: AgentMessageInfo): AgentTurnInfo[] | null {
  const at = turns.findIndex((t) => t.turnNumber === message.turnNumber);
  if (at < 0) return null;
  const next = [...turns];
  next[at] = { ...turns[at]!, messages: mergeMessages(turns[at]!.messages, [message]) };
  return next;
}

/** "auto-fix attempt 2 of 3": the attempt and the loop's limit as the fix message says them. */
export function fixAttemptOf(
  turn: Pick<AgentTurnInfo, "trigger" | "fixAttempt" | "prompt">,
  maxAttempts?: number | null,
): { attempt: number; of: number | null } | null {
  if (turn.trigger !== "autofix") return null;
  const said = /auto-fix attempt (\d+) of (\d+)/.exec(turn.prompt);
  const attempt = turn.fixAttempt ?? (said ? Number(said[1]) : null);
  if (attempt == null) return null;
  const of = said && Number(said[1]) === attempt ? Number(said[2]) : (maxAttempts ?? null);
  return { attempt, of };
}

/** "auto-fix 1/3" (or "auto-fix 1" when the limit is unknown); null for a user's turn. */
export function fixLabel(turn: Pick<AgentTurnInfo, "trigger" | "fixAttempt" | "prompt">, maxAttempts?: number | null): string | null {
  const fix = fixAttemptOf(turn, maxAttempts);
  if (!fix) return turn.trigger === "autofix" ? "auto-fix" : null;
  return fix.of ? `auto-fix ${fix.attempt}/${fix.of}` : `auto-fix ${fix.attempt}`;
}

export type MarkTone = "ok" | "error" | "warn" | "running" | "muted" | "fix";

export interface TurnMark {
  /** Stable key, also the data-mark attribute: fix, build, status. */
  kind: "fix" | "build" | "status";
  label: string;
  tone: MarkTone;
}

/** What the build after a turn did, from fixFollows and the outcome the runner wrote. */
export function buildMark(turn: Pick<AgentTurnInfo, "fixFollows" | "outcome">): TurnMark | null {
  if (turn.fixFollows) return { kind: "build", label: "build failed", tone: "error" };
  const outcome = turn.outcome ?? "";
  const passed = /build passed(?: after \d+ attempts?)?/.exec(outcome);
  if (passed) return { kind: "build", label: passed[0], tone: "ok" };
  const failing = /build still failing after \d+ attempts?/.exec(outcome);
  if (failing) return { kind: "build", label: failing[0], tone: "error" };
  if (/build failed; auto-fix is off/.test(outcome)) return { kind: "build", label: "build failed", tone: "error" };
  if (/the build \(.*\) could not run/.test(outcome)) return { kind: "build", label: "build could not run", tone: "error" };
  if (/auto-fix stopped: the fix turn changed no files/.test(outcome)) return { kind: "build", label: "auto-fix stopped", tone: "warn" };
  return null;
}

/** Every mark of a turn, in reading order: the fix attempt, how it ended if not ok, the build. */
export function turnMarks(turn: AgentTurnInfo, maxAttempts?: number | null): TurnMark[] {
  const marks: TurnMark[] = [];
  const fix = fixLabel(turn, maxAttempts);
  if (fix) marks.push({ kind: "fix", label: fix, tone: "fix" });
  if (turn.status === "running") marks.push({ kind: "status", label: "agent running", tone: "running" });
  else if (turn.status !== "ok")
    marks.push({ kind: "status", label: `agent ${turn.status}`, tone: turn.status === "error" ? "error" : turn.status === "abandoned" ? "warn" : "muted" });
  const build = buildMark(turn);
  if (build) marks.push(build);
  return marks;
}

/** The running turn, if any: the latest one with status running. */
export function runningTurn(turns: readonly AgentTurnInfo[]): AgentTurnInfo | null {
  for (let i = turns.length - 1; i >= 0; i--) if (turns[i]!.status === "running") return turns[i]!;
  return null;
}

/** A typed error of an agent mutation (the union's error member), ready to show. */
export interface AgentActionError {
  type: "ConflictError" | "AgentDisabledError" | "ValidationError" | "NotFoundError" | "Error";
  message: string;
  issues: { path: string[]; message: string }[];
}

const TITLES: Record<AgentActionError["type"], string> = {
  ConflictError: "Conflict",
  AgentDisabledError: "The agent is off",
  ValidationError: "Not accepted",
  NotFoundError: "Not found",
  Error: "Failed",
};

export const actionErrorTitle = (error: AgentActionError) => TITLES[error.type] ?? "Failed";

/** The issues a ValidationError's message does not already say (the server's message often lists them). */
export function unsaidIssues(message: string, issues: readonly { path: readonly string[]; message: string }[]): { path: string[]; message: string }[] {
  return issues.filter((i) => !message.includes(i.message)).map((i) => ({ path: [...i.path], message: i.message }));
}

/** A refusal in one line: the message, then any issue it does not already say ("path: message"). */
export function refusalText(message: string, issues: readonly { path: readonly string[]; message: string }[]): string {
  const rest = unsaidIssues(message, issues).map((i) => `${i.path.join(".")}: ${i.message}`);
  return rest.length ? `${message} (${rest.join("; ")})` : message;
}

/** A mutation's union member as an AgentActionError, or null for the payload. */
export function typedError(
  result: { __typename?: string; message?: string; issues?: readonly { path: readonly string[]; message: string }[] } | null | undefined,
  success: string,
): AgentActionError | null {
  if (!result) return { type: "Error", message: "The server gave no answer.", issues: [] };
  if (result.__typename === success) return null;
  const type = (["ConflictError", "AgentDisabledError", "ValidationError", "NotFoundError"] as const).find((t) => t === result.__typename) ?? "Error";
  return { type, message: result.message ?? "The request was refused.", issues: (result.issues ?? []).map((i) => ({ path: [...i.path], message: i.message })) };
}
