// The dashboard at / (server/http/dashboard.ts), over real HTTP, from a small fake build in a
// temporary DASHBOARD_DIR: index.html for / and for client routes, files with their content types
// and cache headers, no way out of the folder, the Host check, and a 503 page without a build.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../server/config.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const INDEX = `<!doctype html><html><head><title>Tracedeck</title><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>`;
const SECRET = "secret outside the dashboard folder";

let db: TestDatabase;
let built: TestApp;
let unbuilt: TestApp;
let base: string;
let dist: string;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "tracedeck-dashboard-"));
  dist = join(base, "dist");
  mkdirSync(join(dist, "assets"), { recursive: true });
  writeFileSync(join(dist, "index.html"), INDEX);
  writeFileSync(join(dist, "assets", "index-abc123.js"), "console.log('dashboard');\n");
  writeFileSync(join(dist, "assets", "index-def456.css"), "body { color: black }\n");
  writeFileSync(join(dist, "favicon.svg"), `<svg xmlns="http://www.w3.org/2000/svg"/>`);
  writeFileSync(join(base, "secret.txt"), SECRET);
  writeFileSync(join(base, "package.json"), SECRET);
  symlinkSync(join(base, "secret.txt"), join(dist, "linked.txt"));
  symlinkSync(base, join(dist, "assets", "escape"));

  db = await createTestDatabase();
  built = await startTestApp(db, { env: { DASHBOARD_DIR: dist } });
  unbuilt = await startTestApp(db, { env: { DASHBOARD_DIR: join(base, "no-such-build") } });
});

afterAll(async () => {
  await unbuilt?.stop();
  await built?.stop();
  await db?.destroy();
  rmSync(base, { recursive: true, force: true });
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the path exactly as given (fetch and URL would normalise "..") and the given headers. */
function raw(app: TestApp, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  const url = new URL(app.url);
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const BROWSER = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };

describe("the build", () => {
  test("/ is index.html, revalidated, with a content security policy", async () => {
    for (const headers of [BROWSER, { accept: "*/*" }, {}]) {
      const response = await raw(built, "/", { headers });
      expect(response.status).toBe(200);
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(response.body).toBe(INDEX);
      expect(response.headers["cache-control"]).toBe("no-cache");
      expect(response.headers["x-content-type-options"]).toBe("nosniff");
      expect(response.headers["content-security-policy"]).toContain("default-src 'self'");
      expect(response.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    }
  });

  test("client routes a browser navigates to get index.html (history mode)", async () => {
    const uuid = "3f2a1c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
    for (const path of [`/chats/${uuid}`, `/chats/${uuid}/events`, "/events", "/events?x=1", "/?q=build", "/chats/", "/some/unknown/route"]) {
      const response = await raw(built, path, { headers: BROWSER });
      expect(response.status, path).toBe(200);
      expect(response.headers["content-type"], path).toBe("text/html; charset=utf-8");
      expect(response.body, path).toBe(INDEX);
    }
  });

  test("a path that is not a page, asked for without text/html, is still 404 (clients, curl)", async () => {
    const response = await raw(built, "/nothing-here", { headers: { accept: "*/*" } });
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body).errors[0].extensions.code).toBe("NOT_FOUND");
  });

  test("files are served with their content type; /assets/ with a year's immutable cache", async () => {
    const js = await raw(built, "/assets/index-abc123.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["content-length"]).toBe(String(Buffer.byteLength("console.log('dashboard');\n")));
    expect(js.body).toBe("console.log('dashboard');\n");

    const css = await raw(built, "/assets/index-def456.css", { headers: BROWSER });
    expect(css.status).toBe(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");

    const svg = await raw(built, "/favicon.svg");
    expect(svg.status).toBe(200);
    expect(svg.headers["content-type"]).toBe("image/svg+xml");
    expect(svg.headers["cache-control"]).toBe("no-cache");
  });

  test("a missing file is 404, never index.html, even for a browser", async () => {
    for (const path of ["/assets/index-old999.js", "/assets/", "/favicon.ico", "/robots.txt"]) {
      const response = await raw(built, path, { headers: BROWSER });
      expect(response.status, path).toBe(404);
      expect(response.body, path).not.toContain("<html");
    }
  });

  test("HEAD answers the headers only; a matching ETag gets 304", async () => {
    const head = await raw(built, "/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(head.headers["content-length"]).toBe(String(Buffer.byteLength(INDEX)));
    const etag = head.headers.etag as string;
    expect(etag).toMatch(/^W\/"/);
    const again = await raw(built, "/assets/index-abc123.js");
    const cached = await raw(built, "/assets/index-abc123.js", { headers: { "if-none-match": again.headers.etag as string } });
    expect(cached.status).toBe(304);
    expect(cached.body).toBe("");
  });

  test("other methods are refused with 405", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const response = await raw(built, "/chats/x", { method, headers: { "content-type": "application/json" } });
      expect(response.status, method).toBe(405);
      expect(response.headers.allow).toBe("GET, HEAD");
    }
  });

  test("the other endpoints keep their paths: /graphql, /healthz, /graphiql-assets/", async () => {
    const graphiql = await raw(built, "/graphql", { headers: BROWSER });
    expect(graphiql.status).toBe(200);
    expect(graphiql.body).toContain("Tracedeck GraphiQL");
    expect(graphiql.body).not.toBe(INDEX);
    const health = await raw(built, "/healthz", { headers: BROWSER });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).status).toBe("ok");
    expect((await raw(built, "/graphiql-assets/graphiql.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    for (const path of ["/graphql/", "/graphql/anything", "/healthz/x", "/graphiql-assets/nope"]) {
      const response = await raw(built, path, { headers: BROWSER });
      expect(response.status, path).toBe(404);
      expect(response.body, path).not.toBe(INDEX);
    }
  });
});

describe("no way out of the folder", () => {
  const attempts = [
    "/../package.json",
    "/../secret.txt",
    "/%2e%2e/package.json",
    "/%2E%2E/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/assets/../../secret.txt",
    "/assets/%2e%2e/%2e%2e/secret.txt",
    "/assets/..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/%5c..%5csecret.txt",
    "/.%2e/secret.txt",
    "/./index.html",
    "/index.html%00.js",
    "/linked.txt",
    "/assets/escape/secret.txt",
    "/assets/escape/package.json",
    `/${"../".repeat(12)}etc/passwd`,
    "//etc/passwd",
  ];
  test.each(attempts)("%s is refused and shows nothing outside", async (path) => {
    for (const headers of [{}, BROWSER]) {
      const response = await raw(built, path, { headers });
      expect(response.body).not.toContain(SECRET);
      expect(response.body).not.toContain("root:");
      if (path === "//etc/passwd" && headers === BROWSER) {
        // An empty segment is harmless: a client route to a browser, inside the folder.
        expect(response.status).toBe(200);
        expect(response.body).toBe(INDEX);
      } else expect([400, 404], `${path} ${JSON.stringify(headers)}`).toContain(response.status);
    }
  });

  test("a malformed percent-encoding is a 400, not a 500", async () => {
    const response = await raw(built, "/%E0%A4%A", { headers: BROWSER });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).errors[0].extensions.code).toBe("BAD_REQUEST");
  });
});

describe("the Host check applies to the dashboard too", () => {
  test.each(["/", "/chats/abc", "/assets/index-abc123.js", "/favicon.svg"])("GET %s under a foreign Host: 403", async (path) => {
    const response = await raw(built, path, { headers: { ...BROWSER, host: "rebind.example:4000" } });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body).errors[0].extensions.code).toBe("HOST_NOT_ALLOWED");
    expect(response.body).not.toContain("<html");
  });

  test("under the server's own names it answers", async () => {
    const port = new URL(built.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      expect((await raw(built, "/", { headers: { host } })).status).toBe(200);
    }
  });
});

describe("without a build", () => {
  test("a browser gets a 503 page saying to run npm run build", async () => {
    for (const path of ["/", "/chats/abc"]) {
      const response = await raw(unbuilt, path, { headers: BROWSER });
      expect(response.status, path).toBe(503);
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(response.headers["cache-control"]).toBe("no-store");
      expect(response.body).toContain("npm run build");
      expect(response.body).toContain('href="/graphql"');
      expect(response.body).not.toContain(base); // the server's folders are not shown
    }
  });

  test("a client gets 503 JSON with DASHBOARD_NOT_BUILT; the API is unaffected", async () => {
    const response = await raw(unbuilt, "/", { headers: { accept: "application/json" } });
    expect(response.status).toBe(503);
    const body = JSON.parse(response.body);
    expect(body.errors[0].extensions.code).toBe("DASHBOARD_NOT_BUILT");
    expect(body.errors[0].message).toContain("npm run build");
    expect((await raw(unbuilt, "/assets/index-abc123.js")).status).toBe(404);
    expect((await raw(unbuilt, "/healthz")).status).toBe(200);
    const query = await fetch(`${unbuilt.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`);
    expect(await query.json()).toEqual({ data: { __typename: "Query" } });
  });
});

test("DASHBOARD_DIR: a relative path is resolved from the working directory", () => {
  expect(loadConfig({ DASHBOARD_DIR: "some/build" }).DASHBOARD_DIR).toBe(resolve("some/build"));
  expect(loadConfig({ DASHBOARD_DIR: "" }).DASHBOARD_DIR).toBe(loadConfig({}).DASHBOARD_DIR);
});
