import type { IncomingMessage } from "node:http";
import { HttpRefusal } from "./refusal.js";
import type { Endpoint } from "./routes.js";
import type { TracedeckYoga } from "./yoga.js";

/** /graphql over HTTP: Yoga, handed the body the guard already read (as after a body parser). */
export function graphqlEndpoint(yoga: TracedeckYoga): Endpoint {
  return {
    path: yoga.graphqlEndpoint,
    // Each operation's root fields decide (auth/graphql-plugin.ts); GraphiQL's page runs none.
    scope: "graphql",
    methods: ["GET", "POST", "HEAD", "OPTIONS"],
    async handle(req, res, body) {
      if (req.method === "GET") checkQueryJson(req);
      if (body && body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
      await yoga.requestListener(req, res);
    },
  };
}

/** Yoga parses a GET's `variables` and `extensions` unguarded: a malformed one would be a 500. */
function checkQueryJson(req: IncomingMessage): void {
  const params = new URL(req.url ?? "/", "http://localhost").searchParams;
  for (const name of ["variables", "extensions"]) {
    const value = params.get(name);
    if (value === null) continue;
    try {
      JSON.parse(value);
    } catch {
      throw new HttpRefusal(400, "BAD_REQUEST", `The ${name} parameter is not valid JSON`);
    }
  }
}
