// The dashboard's build (web/dist, served by the Tracedeck server at /) and its dev server
// (`npm run dev`: hot reload on http://127.0.0.1:5173, with /graphql over HTTP and WebSocket,
// /healthz and /graphiql-assets proxied to the Tracedeck server at TRACEDECK_DEV_API).
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

const api = process.env.TRACEDECK_DEV_API ?? "http://127.0.0.1:4000";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [vue()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 600,
  },
  server: {
    host: "127.0.0.1",
    port: Number(process.env.TRACEDECK_DEV_PORT ?? 5173),
    // The Host and Origin the browser sends (localhost:5173) are kept: both are loopback names the
    // server answers, and the Origin matches the Host, so no CORS_ORIGINS entry is needed.
    proxy: {
      "/graphql": { target: api, ws: true },
      "/healthz": { target: api },
      "/graphiql-assets": { target: api },
    },
  },
});
