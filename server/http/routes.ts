import type { IncomingMessage, ServerResponse } from "node:http";
import { type Authenticator, AuthRefusal } from "../auth/authenticator.js";
import { keyFromAuthorization } from "../auth/credentials.js";
import type { Scope } from "../auth/scopes.js";
import type { Logger } from "../logger.js";
import { isSimpleCrossSiteContentType, readBody } from "./body.js";
import { HttpRefusal, sendJson, sendRefusal } from "./refusal.js";
import type { RequestPolicy } from "./request-policy.js";
import { hostOf, originOf } from "./request-policy.js";

/**
 * Who may call an endpoint when API keys are on: "public" (anyone: static files, /healthz), a
 * scope the key must hold, or "graphql" (the scope depends on the operation: auth/graphql-plugin.ts).
 */
export type EndpointScope = "public" | Scope | "graphql";

/** One HTTP endpoint: the server/http/ file that serves a path. */
export interface Endpoint {
  path: string;
  /** Unset: admin. An endpoint nobody thought about is closed, not open. */
  scope?: EndpointScope;
  /** Serve every path under `path` (which then ends in "/"), not just `path` itself. */
  prefix?: boolean;
  methods: readonly string[];
  /** A POST body arrives already read: bounded, decompressed and checked by the guard. */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined): Promise<void> | void;
}

export interface RouterOptions {
  endpoints: Endpoint[];
  policy: RequestPolicy;
  maxBodyBytes: number;
  log: Logger;
  /** API keys; without one (or with auth off) no key is asked for. */
  auth?: Authenticator;
}

/** A client that went away mid-request: its business, not a server fault. */
const isAbort = (req: IncomingMessage, error: unknown) =>
  req.destroyed || ["ECONNRESET", "ERR_STREAM_PREMATURE_CLOSE", "EPIPE"].includes((error as NodeJS.ErrnoException)?.code ?? "");

/**
 * Every request goes through the same guard before its endpoint: the Host check (DNS rebinding),
 * the API key and its scope (when auth is on), then for a POST the Origin check, the content-type
 * check (no form, multipart or text/plain) and the bounded body read. Endpoints to come are
 * covered by being registered here. The handler carries the endpoints it serves (tests list them).
 */
export function createRouter({ endpoints, policy, maxBodyBytes, log, auth }: RouterOptions) {
  const find = (path: string) => endpoints.find((e) => (e.prefix ? path.startsWith(e.path) : path === e.path));

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!policy.hostAllowed(hostOf(req))) {
      log.warn("http.host_refused", { host: req.headers.host, path: pathOf(req) });
      throw new HttpRefusal(403, "HOST_NOT_ALLOWED", `Host ${JSON.stringify(req.headers.host ?? "")} is not one of this server's names; set PUBLIC_URL or ALLOWED_HOSTS to serve it`);
    }
    const path = pathOf(req);
    const endpoint = find(path);
    if (!endpoint) {
      return sendJson(res, 404, { errors: [{ message: `Nothing at ${path}`, extensions: { code: "NOT_FOUND" } }] });
    }
    const method = req.method ?? "GET";
    if (!endpoint.methods.includes(method)) {
      res.setHeader("allow", endpoint.methods.join(", "));
      throw new HttpRefusal(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${path}; use ${endpoint.methods.join(" or ")}`);
    }
    const scope = endpoint.scope ?? "admin";
    if (auth?.enabled && scope !== "public" && scope !== "graphql") {
      // Before the body is read: a caller without a key gets nothing read or parsed.
      const outcome = await auth.check(keyFromAuthorization(req.headers.authorization), [scope], `${method} ${endpoint.path}`);
      if (outcome instanceof AuthRefusal) {
        if (outcome.status === 401) res.setHeader("www-authenticate", 'Bearer realm="tracedeck"');
        // The body stays unread on the socket: do not read another request from it.
        if (method === "POST") res.setHeader("connection", "close");
        throw new HttpRefusal(outcome.status, outcome.code, outcome.message);
      }
    }
    let body: Buffer | undefined;
    if (method === "POST") {
      const origin = originOf(req);
      if (!policy.originAllowed(origin, hostOf(req))) {
        log.warn("http.origin_refused", { origin, path });
        throw new HttpRefusal(403, "ORIGIN_NOT_ALLOWED", `Pages from ${JSON.stringify(origin)} may not call this server; list the origin in CORS_ORIGINS to allow it`);
      }
      if (isSimpleCrossSiteContentType(req.headers["content-type"])) {
        throw new HttpRefusal(415, "UNSUPPORTED_MEDIA_TYPE", "POST needs a Content-Type such as application/json (form, multipart and text/plain bodies are refused)");
      }
      body = await readBody(req, maxBodyBytes);
    }
    await endpoint.handle(req, res, body);
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof HttpRefusal) {
        if (!res.headersSent) return sendRefusal(res, error);
      } else if (isAbort(req, error)) {
        log.info("http.request_aborted", { path: pathOf(req) });
      } else {
        log.error("http.failed", { error, path: pathOf(req) });
        if (!res.headersSent) return sendJson(res, 500, { errors: [{ message: "Unexpected error." }] });
      }
      res.destroy();
    });
  };
  return Object.assign(handler, { endpoints: endpoints as readonly Endpoint[] });
}

const pathOf = (req: IncomingMessage) => (req.url ?? "/").split("?")[0]!;
