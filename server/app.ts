import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Config, limitsFrom } from "./config.js";
import type { Database } from "./db/client.js";
import type { MigrationFile } from "./db/migrate.js";
import { createEventBus, type EventBus } from "./events/pubsub.js";
import { createRedisEventBus } from "./events/redis.js";
import { type ChatEventRouter, startChatEventRouter } from "./events/router.js";
import { checkHealth } from "./health.js";
import { BodyTooLargeError, isSimpleCrossSiteContentType, readBody } from "./http/body.js";
import { serveGraphiQLAsset } from "./http/graphiql.js";
import { originAllowed } from "./http/origins.js";
import { attachGraphQLWebSocket } from "./http/websocket.js";
import { createTracedeckYoga, type TracedeckYoga } from "./http/yoga.js";
import type { Logger } from "./logger.js";
import { createServices, type Services } from "./services/index.js";

export interface AppOptions {
  config: Config;
  /** An open, migrated database; its Prisma client must be the one set with setPrisma(). */
  db: Database;
  log: Logger;
  /** Overrides the event bus the configuration picks (in-process, or Redis with REDIS_URL). */
  bus?: EventBus;
  /** The migrations the health check compares with (tests pass their own). */
  migrationFiles?: MigrationFile[];
}

export interface App {
  services: Services;
  bus: EventBus;
  yoga: TracedeckYoga;
  /** Subscribes to the event channel and confirms it; start() does this, in-process tests call it. */
  ready(): Promise<void>;
  /** Listens on the configured HOST and PORT (0 picks a free port); resolves to the real URL. */
  start(port?: number): Promise<string>;
  stop(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
};

export function buildApp(options: AppOptions): App {
  const { config, db, log } = options;
  const redis = !options.bus && config.REDIS_URL ? createRedisEventBus(config.REDIS_URL, log) : undefined;
  const bus = options.bus ?? redis?.bus ?? createEventBus();
  const services = createServices({ prisma: db.prisma, bus, limits: limitsFrom(config), log });

  let router: ChatEventRouter | undefined;
  const routerProxy: ChatEventRouter = {
    listen: (chatId, listener) => requireRouter().listen(chatId, listener),
    listenAll: (listener) => requireRouter().listenAll(listener),
    close: async () => router?.close(),
  };
  function requireRouter(): ChatEventRouter {
    if (!router) throw new Error("The event router is not started: call app.ready() first");
    return router;
  }
  let readying: Promise<void> | undefined;
  const ready = () =>
    (readying ??= startChatEventRouter(bus, log).then((started) => {
      router = started;
    }));

  const yoga = createTracedeckYoga({ config, services, router: routerProxy, log });

  async function graphql(req: IncomingMessage, res: ServerResponse) {
    if (req.method === "POST" && isSimpleCrossSiteContentType(req.headers["content-type"])) {
      return json(res, 415, { errors: [{ message: "POST needs Content-Type: application/json (form, multipart and text/plain bodies are refused)" }] });
    }
    let body: Buffer | undefined;
    if (req.method !== "GET" && req.method !== "HEAD") {
      try {
        body = await readBody(req, config.MAX_BODY_BYTES);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          res.setHeader("connection", "close");
          return json(res, 413, { errors: [{ message: error.message }] });
        }
        throw error;
      }
    }
    // Yoga takes a body that was already read, as it does after Express's body parser.
    if (body && body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
    await yoga.requestListener(req, res);
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "/").split("?")[0]!;
    const fail = (error: unknown) => {
      log.error("http.failed", { error, path });
      if (!res.headersSent) json(res, 500, { errors: [{ message: "Unexpected error." }] });
      else res.destroy();
    };
    if (path === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
      checkHealth(db, log, options.migrationFiles)
        .then((report) => json(res, report.status === "ok" ? 200 : 503, report))
        .catch(fail);
      return;
    }
    if (path === yoga.graphqlEndpoint) {
      graphql(req, res).catch(fail);
      return;
    }
    if (serveGraphiQLAsset(path, res)) return;
    if (path === "/" && req.method === "GET") {
      res.writeHead(302, { location: yoga.graphqlEndpoint });
      return res.end();
    }
    json(res, 404, { errors: [{ message: `Nothing at ${path}: the API is at ${yoga.graphqlEndpoint}` }] });
  }

  const server = createServer(handle);
  // Longer than clients' and proxies' idle timeouts, so they close an idle connection first and never
  // send a request on one the server is closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const websocket = attachGraphQLWebSocket(server, yoga, {
    maxPayload: config.WS_MAX_PAYLOAD_BYTES,
    log,
    allowOrigin: originAllowed(config.CORS_ORIGINS),
  });
  let sweepTimer: NodeJS.Timeout | undefined;

  let sweeping: Promise<void> = Promise.resolve();
  function sweep(): Promise<void> {
    sweeping = services.traces.sweepAbandoned(config.ABANDON_RUNNING_AFTER_SECONDS * 1000).then(
      () => {},
      (error: unknown) => log.error("traces.sweep_failed", { error }),
    );
    return sweeping;
  }

  return {
    services,
    bus,
    yoga,
    ready,
    async start(port = config.PORT) {
      await ready();
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
    /** Stops taking requests, lets those under way finish (5 s at most), then closes the event channel. */
    async stop() {
      clearInterval(sweepTimer);
      await websocket.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
      if (!drained) {
        server.closeAllConnections();
        await closed;
      }
      await sweeping;
      await routerProxy.close();
      await redis?.close();
    },
  };
}
