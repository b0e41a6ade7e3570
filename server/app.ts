import { writeConcurrencyOf } from "./db/client.js";
import { liveRows } from "./schema/live-rows.js";
import type { AddressInfo } from "node:net";
import { type AgentRunner, createAgentRunner } from "./agent/runner.js";
import type { Sandbox } from "./agent/sandbox.js";
import { type AgentConfig, agentConfigFrom, type ClaudeCodeConfig, claudeCodeConfigFrom, type Config, limitsFrom, retentionConfigFrom } from "./config.js";
import { isDatabaseUnavailable } from "./db/availability.js";
import type { Database } from "./db/client.js";
import type { MigrationFile } from "./db/migrate.js";
import { createEventBus, type EventBus } from "./events/pubsub.js";
import { createRedisEventBus } from "./events/redis.js";
import { type ChatEventRouter, startChatEventRouter } from "./events/router.js";
import { claudeCodeHooksEndpoint } from "./http/claude-code-hooks.js";
import { chatExportResource } from "./http/chat-export.js";
import { chatResourcesEndpoint, restTracesResource } from "./http/rest-traces.js";
import { dashboardEndpoint } from "./http/dashboard.js";
import { type ClaudeCodeHooks, createClaudeCodeHooks } from "./ingest/claude-code/hooks.js";
import { graphiqlAssetsEndpoint } from "./http/graphiql.js";
import { graphqlEndpoint } from "./http/graphql.js";
import { healthzEndpoint } from "./http/healthz.js";
import { otlpTracesEndpoint } from "./http/otlp-traces.js";
import { createRequestPolicy } from "./http/request-policy.js";
import { createRouter } from "./http/routes.js";
import { createHttpServer } from "./http/server.js";
import { attachGraphQLWebSocket } from "./http/websocket.js";
import { createTracedeckYoga, type TracedeckYoga } from "./http/yoga.js";
import type { Logger } from "./logger.js";
import { type Authenticator, createAuthenticator } from "./auth/authenticator.js";
import { storeBootstrapKey } from "./auth/bootstrap.js";
import { authEnabled } from "./auth/mode.js";
import type { Endpoint } from "./http/routes.js";
import { createServices, type Services } from "./services/index.js";
import { scheduleRetention } from "./services/retention.js";

export interface AppOptions {
  config: Config;
  /** An open, migrated database; its Prisma client must be the one set with setPrisma(). */
  db: Database;
  log: Logger;
  /** Overrides the event bus the configuration picks (in-process, or Redis with REDIS_URL). */
  bus?: EventBus;
  /** The migrations the health check compares with (tests pass their own). */
  migrationFiles?: MigrationFile[];
  /** Tests: the agent's sandbox instead of detecting one, and settings over the configuration's. */
  agentSandbox?: Sandbox;
  agentConfig?: Partial<AgentConfig>;
  /** Tests: Claude Code ingest settings over the configuration's. */
  claudeCodeConfig?: Partial<ClaudeCodeConfig>;
}

export interface App {
  services: Services;
  bus: EventBus;
  yoga: TracedeckYoga;
  /** Tracedeck's agent; start() starts it, in-process tests call agent.start() themselves. */
  agent: AgentRunner;
  /** Claude Code's hooks (POST /hooks/claude-code). */
  claudeCode: ClaudeCodeHooks;
  /** API keys and scopes (auth/): whether they are required, and the checks. */
  auth: Authenticator;
  /** Every HTTP endpoint the router serves, in its order (tests enumerate them). */
  endpoints: readonly Endpoint[];
  /** Subscribes to the event channel and confirms it; start() does this, in-process tests call it. */
  ready(): Promise<void>;
  /** Listens on the configured HOST and PORT (0 picks a free port); resolves to the real URL. */
  start(port?: number): Promise<string>;
  stop(): Promise<void>;
}

export function buildApp(options: AppOptions): App {
  const { config, db, log } = options;
  const redis = !options.bus && config.REDIS_URL ? createRedisEventBus(config.REDIS_URL, log) : undefined;
  const bus = options.bus ?? redis?.bus ?? createEventBus();
  const services = createServices({
    prisma: db.prisma,
    bus,
    limits: limitsFrom(config),
    log,
    writeSql: db.writeSql,
    writeConcurrency: writeConcurrencyOf(db),
    // This process's live frames show the committed rows without reading them again.
    onTracesCommitted: (committed) => {
      const rows = liveRows(db.prisma);
      for (const { trace, seq } of committed) rows.prime("trace", trace, trace.chatId, seq);
    },
  });

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
      // Live frames share a row read among the subscribers of the chat's latest event (live-rows.ts).
      started.listenAll((event) => liveRows(db.prisma).heard(event.chatId, event.seq));
    }));

  const agent = createAgentRunner({
    services,
    config: { ...agentConfigFrom(config), ...options.agentConfig },
    log,
    snapshotMaxBytes: config.SNAPSHOT_STATE_MAX_BYTES,
    sandbox: options.agentSandbox,
  });
  const claudeCode = createClaudeCodeHooks({ services, config: { ...claudeCodeConfigFrom(config), ...options.claudeCodeConfig }, log });
  const auth = createAuthenticator({ enabled: authEnabled(config), apiKeys: services.apiKeys });
  const yoga = createTracedeckYoga({ config, services, router: routerProxy, agent, log, databaseKind: db.kind, auth });

  const policy = createRequestPolicy(config);
  // Every endpoint is registered here, behind the one guard (Host, Origin, content type, body limit).
  const handle = createRouter({
    endpoints: [
      healthzEndpoint(db, log, options.migrationFiles),
      graphqlEndpoint(yoga),
      claudeCodeHooksEndpoint(claudeCode, log),
      chatResourcesEndpoint(restTracesResource(yoga, log), chatExportResource(db.prisma, log)),
      otlpTracesEndpoint({ services, prisma: db.prisma, limits: limitsFrom(config), log }),
      graphiqlAssetsEndpoint,
      dashboardEndpoint(config.DASHBOARD_DIR),
    ],
    policy,
    maxBodyBytes: config.MAX_BODY_BYTES,
    log,
    auth,
  });
  const http = createHttpServer(handle);
  const server = http.server;
  const websocket = attachGraphQLWebSocket(server, yoga, { maxPayload: config.WS_MAX_PAYLOAD_BYTES, log, policy, auth, authRecheckMs: config.WS_AUTH_RECHECK_SECONDS * 1000 });
  let sweepTimer: NodeJS.Timeout | undefined;
  // The pruner (TRACE_RETENTION_DAYS): configured here, scheduled by start(); off by default.
  services.retention.configure(retentionConfigFrom(config, db.kind));
  let retention: { stop(): Promise<void> } | undefined;

  let sweeping: Promise<void> = Promise.resolve();
  function sweep(): Promise<void> {
    sweeping = services.traces.sweepAbandoned(config.ABANDON_RUNNING_AFTER_SECONDS * 1000).then(
      () => {},
      (error: unknown) =>
        isDatabaseUnavailable(error)
          ? log.warn("traces.sweep_skipped", { reason: "database unavailable" })
          : log.error("traces.sweep_failed", { error }),
    );
    return sweeping;
  }

  return {
    services,
    bus,
    yoga,
    agent,
    claudeCode,
    auth,
    endpoints: handle.endpoints,
    ready,
    async start(port = config.PORT) {
      await ready();
      await storeBootstrapKey({ config, apiKeys: services.apiKeys, enabled: auth.enabled, log });
      await sweep();
      await agent.start();
      sweepTimer = setInterval(() => void sweep(), config.SWEEP_INTERVAL_SECONDS * 1000);
      sweepTimer.unref();
      retention = scheduleRetention(services.retention, log);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, config.HOST, () => resolve());
      });
      const { port: actual } = server.address() as AddressInfo;
      const host = config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
      return `http://${host}:${actual}`;
    },
    /**
     * Stops accepting, closes WebSockets with 1001, lets requests under way finish within
     * SHUTDOWN_GRACE_SECONDS (answering Connection: close), then closes the event channel.
     */
    async stop() {
      clearInterval(sweepTimer);
      const retentionStopped = retention?.stop();
      const graceMs = config.SHUTDOWN_GRACE_SECONDS * 1000;
      // Running turns are cancelled first: each saves its snapshot and ends as cancelled.
      await agent.stop(Math.min(graceMs, 5_000));
      const [cut] = await Promise.all([server.listening ? http.drain(graceMs) : 0, websocket.close(graceMs)]);
      if (cut > 0) log.warn("server.requests_cut", { count: cut, graceSeconds: config.SHUTDOWN_GRACE_SECONDS });
      await sweeping;
      await retentionStopped;
      await claudeCode.idle();
      await routerProxy.close();
      await redis?.close();
    },
  };
}
