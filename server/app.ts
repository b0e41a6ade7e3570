import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Config, limitsFrom } from "./config.js";
import type { Database } from "./db/client.js";
import type { MigrationFile } from "./db/migrate.js";
import { createEventBus, type EventBus } from "./events/pubsub.js";
import { checkHealth } from "./health.js";
import type { Logger } from "./logger.js";
import { createServices, type Services } from "./services/index.js";

export interface AppOptions {
  config: Config;
  /** An open, migrated database. */
  db: Database;
  log: Logger;
  bus?: EventBus;
  /** The migrations the health check compares with (tests pass their own). */
  migrationFiles?: MigrationFile[];
}

export interface App {
  services: Services;
  bus: EventBus;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Listens on the configured HOST and PORT (0 picks a free port); resolves to the real URL. */
  start(port?: number): Promise<string>;
  stop(): Promise<void>;
}

export function buildApp(options: AppOptions): App {
  const { config, db, log } = options;
  const bus = options.bus ?? createEventBus();
  const services = createServices({ prisma: db.prisma, bus, limits: limitsFrom(config), log });

  async function health(res: ServerResponse) {
    const report = await checkHealth(db, log, options.migrationFiles);
    res.writeHead(report.status === "ok" ? 200 : 503, { "content-type": "application/json" });
    res.end(JSON.stringify(report));
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
      health(res).catch((error: unknown) => {
        log.error("health.failed", { error });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "not found" }));
  }

  const server = createServer(handle);
  let sweepTimer: NodeJS.Timeout | undefined;

  async function sweep() {
    try {
      await services.traces.sweepAbandoned(config.ABANDON_RUNNING_AFTER_SECONDS * 1000);
    } catch (error) {
      log.error("traces.sweep_failed", { error });
    }
  }

  return {
    services,
    bus,
    handle,
    async start(port = config.PORT) {
      await sweep();
      sweepTimer = setInterval(() => void sweep(), config.SWEEP_INTERVAL_SECONDS * 1000);
      sweepTimer.unref();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, config.HOST, () => resolve());
      });
      const { port: actual } = server.address() as AddressInfo;
      const host = config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
      return `http://${host}:${actual}`;
    },
    async stop() {
      clearInterval(sweepTimer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
