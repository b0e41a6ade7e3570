import { createReadStream, type Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { HttpRefusal, sendJson } from "./refusal.js";
import { hostOf } from "./request-policy.js";
import type { Endpoint } from "./routes.js";

/**
 * The Vue dashboard (web/dist, or DASHBOARD_DIR) at /, registered after every other endpoint:
 * - a file of the build is served with its content type; /assets/ (content-hashed by Vite) with a
 *   year's immutable cache, everything else revalidated (ETag);
 * - "/" and any other path a browser navigates to (Accept: text/html) that is not a file get
 *   index.html, so the dashboard's history-mode routes (/chats/…) load directly;
 * - other misses are 404 as before (a missing /assets/ file is never answered with HTML);
 * - paths are decoded, must not contain "..", backslashes or NUL, and must resolve (symlinks too)
 *   inside the folder;
 * - without a build, the dashboard's pages answer 503 saying to run `npm run build`.
 * The shared router has already applied the Host check.
 */
export function dashboardEndpoint(dir: string): Endpoint {
  const root = resolve(dir);
  return {
    path: "/",
    // The dashboard's static files: its data comes through /graphql, which asks for the key.
    scope: "public",
    prefix: true,
    methods: ["GET", "HEAD"],
    async handle(req, res) {
      const rawPath = (req.url ?? "/").split("?")[0]!;
      let path: string;
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        throw new HttpRefusal(400, "BAD_REQUEST", "The path is not valid percent-encoding");
      }
      if (RESERVED.some((prefix) => path.startsWith(prefix)) || !isSafe(path)) return notFound(res, rawPath);

      const file = resolve(root, `.${path}`);
      if (file !== root && !file.startsWith(root + sep)) return notFound(res, rawPath);
      const found = path.endsWith("/") ? undefined : await regularFile(root, file);
      if (found) return serveFile(req, res, found.path, found.stats, path.startsWith("/assets/") ? IMMUTABLE : REVALIDATE);

      // Not a file: a dashboard route, or nothing.
      const looksLikeFile = path.startsWith("/assets/") || /\.[a-z0-9]+$/i.test(path);
      if (looksLikeFile || !(path === "/" || acceptsHtml(req))) return notFound(res, rawPath);
      const index = await regularFile(root, resolve(root, "index.html"));
      if (!index) return notBuilt(req, res);
      return serveFile(req, res, index.path, index.stats, "no-cache", contentSecurityPolicy(req));
    },
  };
}

/** Paths with endpoints of their own: never the dashboard's, even with a suffix. */
const RESERVED = ["/graphql/", "/healthz/", "/graphiql-assets/"];

const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

/** No "..", backslash or NUL anywhere (decoded): nothing that could step out of the folder. */
function isSafe(path: string): boolean {
  if (!path.startsWith("/") || path.includes("\0") || path.includes("\\")) return false;
  return !path.split("/").some((segment) => segment === ".." || segment === ".");
}

/** The file if it is a regular file whose real path (symlinks resolved) is inside the folder. */
async function regularFile(root: string, file: string): Promise<{ path: string; stats: Stats } | undefined> {
  try {
    const [realRoot, real] = await Promise.all([realpath(root), realpath(file)]);
    if (!real.startsWith(realRoot + sep)) return undefined;
    const stats = await stat(real);
    return stats.isFile() ? { path: real, stats } : undefined;
  } catch {
    return undefined;
  }
}

function acceptsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").toLowerCase().includes("text/html");
}

const etagOf = (stats: Stats) => `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;

async function serveFile(req: IncomingMessage, res: ServerResponse, path: string, stats: Stats, cacheControl: string, csp?: string): Promise<void> {
  const etag = etagOf(stats);
  const headers: Record<string, string> = {
    "content-type": TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
    "cache-control": cacheControl,
    etag,
    "last-modified": stats.mtime.toUTCString(),
    "x-content-type-options": "nosniff",
  };
  if (csp) {
    headers["content-security-policy"] = csp;
    headers["x-frame-options"] = "DENY";
    headers["referrer-policy"] = "same-origin";
  }
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers["content-length"] = String(stats.size);
  res.writeHead(200, headers);
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  await pipeline(createReadStream(path), res);
}

/** Same-origin everything (the WebSocket to /graphql included), no inline scripts, no framing. */
function contentSecurityPolicy(req: IncomingMessage): string {
  const host = hostOf(req);
  const sockets = host ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function notFound(res: ServerResponse, path: string): void {
  sendJson(res, 404, { errors: [{ message: `Nothing at ${path}`, extensions: { code: "NOT_FOUND" } }] });
}

function notBuilt(req: IncomingMessage, res: ServerResponse): void {
  // The folder is not named: the page may be public, the server's file system is not.
  const message = `The dashboard is not built: its folder (web/dist, or DASHBOARD_DIR) has no index.html. Run \`npm run build\` (or restart with \`npm start\`, which builds it), then reload. The API works meanwhile: GraphiQL is at /graphql.`;
  if (!acceptsHtml(req)) {
    return sendJson(res, 503, { errors: [{ message, extensions: { code: "DASHBOARD_NOT_BUILT" } }] }, { "cache-control": "no-store" });
  }
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tracedeck: dashboard not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;color:#14181f;background:#f6f7f9;margin:0}main{max-width:640px;margin:12vh auto;padding:24px 28px;background:#fff;border:1px solid #d9dde3;border-radius:8px}code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#f1f3f6;padding:1px 5px;border-radius:4px}h1{font-size:20px;margin:0 0 8px}</style></head>
<body><main><h1>The dashboard is not built yet</h1>
<p>Tracedeck is running, but its dashboard folder (<code>web/dist</code>, or <code>DASHBOARD_DIR</code>) has no build.</p>
<p>Run <code>npm run build</code> in the Tracedeck folder (or restart with <code>npm start</code>, which builds it when needed), then reload this page.</p>
<p>The API works meanwhile: open <a href="/graphql">GraphiQL at /graphql</a>.</p></main></body></html>`;
  res.writeHead(503, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-length": String(Buffer.byteLength(body)), "x-content-type-options": "nosniff" });
  res.end(req.method === "HEAD" ? undefined : body);
}
