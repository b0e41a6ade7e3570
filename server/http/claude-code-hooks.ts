import { isDatabaseUnavailable } from "../db/availability.js";
import { ValidationError } from "../errors.js";
import type { ClaudeCodeHooks } from "../ingest/claude-code/hooks.js";
import type { Logger } from "../logger.js";
import { DATABASE_UNAVAILABLE } from "./database-errors.js";
import { HttpRefusal, sendJson } from "./refusal.js";
import type { Endpoint } from "./routes.js";

/**
 * POST /hooks/claude-code: the body of a Claude Code hook (an HTTP hook's POST, or the hook command
 * relaying a command hook's stdin). A recorded hook is answered 204 with no body: Claude Code reads
 * a 2xx body as a decision, and Tracedeck never blocks or changes a tool call. A malformed body is
 * 400 and writes nothing; Claude Code treats any non-2xx as a non-blocking error and goes on.
 */
export function claudeCodeHooksEndpoint(hooks: ClaudeCodeHooks, log: Logger): Endpoint {
  return {
    path: "/hooks/claude-code",
    scope: "ingest",
    methods: ["POST"],
    async handle(_req, res, body) {
      let parsed: unknown;
      try {
        parsed = JSON.parse((body ?? Buffer.alloc(0)).toString("utf8"));
      } catch {
        throw new HttpRefusal(400, "BAD_REQUEST", "The body is not JSON: send the hook's JSON input as it is");
      }
      try {
        await hooks.handle(parsed);
      } catch (error) {
        if (error instanceof ValidationError) {
          return sendJson(res, 400, { errors: [{ message: `Not a Claude Code hook body: ${error.message}`, extensions: { code: "VALIDATION", issues: error.issues } }] });
        }
        if (isDatabaseUnavailable(error)) {
          log.warn("claude_code.hook_unavailable", { error: (error as Error).message });
          return sendJson(res, 503, { errors: [{ message: "The database is unavailable; retry shortly", extensions: { code: DATABASE_UNAVAILABLE } }] }, { "retry-after": "1" });
        }
        throw error;
      }
      res.writeHead(204);
      res.end();
    },
  };
}
