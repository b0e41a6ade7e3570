import { createReadStream, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { sendJson } from "./refusal.js";
import type { Endpoint } from "./routes.js";

/**
 * GraphiQL served from @graphql-yoga/graphiql's own files: Yoga's default page loads them from a
 * public CDN, which leaves it blank offline and on machines without internet.
 */
export const GRAPHIQL_ASSETS = "/graphiql-assets/";

const dist = join(dirname(createRequire(import.meta.url).resolve("@graphql-yoga/graphiql/package.json")), "dist");
const files: Record<string, string> = {
  "graphiql.css": "text/css; charset=utf-8",
  "yoga-graphiql.umd.js": "text/javascript; charset=utf-8",
  "monacoeditorwork/editor.worker.bundle.js": "text/javascript; charset=utf-8",
  "monacoeditorwork/json.worker.bundle.js": "text/javascript; charset=utf-8",
  "monacoeditorwork/graphql.worker..bundle.js": "text/javascript; charset=utf-8",
};

/** GraphiQL's own files, under /graphiql-assets/. */
export const graphiqlAssetsEndpoint: Endpoint = {
  path: GRAPHIQL_ASSETS,
  // GraphiQL's own static files: its queries go to /graphql, which asks for the key.
  scope: "public",
  prefix: true,
  methods: ["GET", "HEAD"],
  handle(req, res) {
    const name = (req.url ?? "").split("?")[0]!.slice(GRAPHIQL_ASSETS.length);
    const type = files[name];
    if (!type || !existsSync(join(dist, name))) {
      return sendJson(res, 404, { errors: [{ message: `No GraphiQL file ${name}`, extensions: { code: "NOT_FOUND" } }] });
    }
    res.writeHead(200, { "content-type": type, "cache-control": "public, max-age=86400" });
    createReadStream(join(dist, name)).pipe(res);
  },
};

const escapeJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

export function renderGraphiQLPage(options: Record<string, unknown>): string {
  const asset = (name: string) => `${GRAPHIQL_ASSETS}${name}`;
  const workers = {
    editorWorkerService: asset("monacoeditorwork/editor.worker.bundle.js"),
    json: asset("monacoeditorwork/json.worker.bundle.js"),
    graphql: asset("monacoeditorwork/graphql.worker..bundle.js"),
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tracedeck GraphiQL</title>
<link rel="stylesheet" href="${asset("graphiql.css")}"></head>
<body id="body" class="no-focus-outline"><div id="root">Loading GraphiQL…</div>
<script>
const workerUrls = ${escapeJson(workers)};
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => workerUrls[label] || workerUrls.editorWorkerService };
</script>
<script src="${asset("yoga-graphiql.umd.js")}"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(root, ${escapeJson(options)});</script>
</body></html>`;
}
