import type { Endpoint } from "./routes.js";

/** / leads to GraphiQL until the dashboard is served there. */
export function rootEndpoint(graphqlPath: string): Endpoint {
  return {
    path: "/",
    methods: ["GET", "HEAD"],
    handle(_req, res) {
      res.writeHead(302, { location: graphqlPath });
      res.end();
    },
  };
}
