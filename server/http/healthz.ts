import type { Database } from "../db/client.js";
import type { MigrationFile } from "../db/migrate.js";
import { checkHealth } from "../health.js";
import type { Logger } from "../logger.js";
import { sendJson } from "./refusal.js";
import type { Endpoint } from "./routes.js";

/** GET /healthz: 200 when the database answers and its migrations are the code's, else 503. */
export function healthzEndpoint(db: Database, log: Logger, migrationFiles?: MigrationFile[]): Endpoint {
  return {
    path: "/healthz",
    // For load balancers and uptime checks, without a key; it tells the database's state, no data.
    scope: "public",
    methods: ["GET", "HEAD"],
    async handle(_req, res) {
      const report = await checkHealth(db, log, migrationFiles);
      sendJson(res, report.status === "ok" ? 200 : 503, report);
    },
  };
}
