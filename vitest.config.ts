import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

// Projects: `unit` needs no outside service (PGlite and in-process); `web` tests the dashboard's
// components in happy-dom; `postgres` runs the same
// database suites against the PostgreSQL server plus the multi-process tests; `redis` adds Redis;
// `fault` runs its own PostgreSQL clusters so it can stop and kill them.
const databaseSuites = ["tests/services/**/*.test.ts", "tests/db/**/*.test.ts", "tests/api/**/*.test.ts", "tests/subscriptions/**/*.test.ts", "tests/bad-input/**/*.test.ts"];

export default defineConfig({
  // One copy of graphql, as under Node: Vite would resolve our own `import "graphql"` to its
  // index.mjs (the "module" field) while Yoga, Pothos and graphql-ws load index.js, and the two
  // copies' GraphQLError and schema classes do not recognise each other (typed errors get masked
  // as "Unexpected error.", printSchema refuses the schema).
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["tests/**/*.test.ts"],
          exclude: ["tests/pg/**", "tests/redis/**", "tests/fault/**", "tests/web/**", "tests/e2e-browser/**", "tests/agent-sandbox/**"],
          globalSetup: ["tests/setup/pglite-template.ts"],
          env: { TEST_BACKEND: "pglite" },
        },
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: [...databaseSuites, "tests/pg/**/*.test.ts", "tests/agent/agent-session.test.ts"],
          globalSetup: ["tests/setup/postgres-template.ts"],
          env: { TEST_BACKEND: "postgresql" },
        },
      },
      {
        // The dashboard's components, in happy-dom (part of `npm test`: no browser needed).
        extends: true,
        plugins: [vue()],
        test: {
          name: "web",
          include: ["tests/web/**/*.test.ts"],
          environment: "happy-dom",
        },
      },
      {
        // The agent's command runner inside bubblewrap (npm run test:sandbox): needs bwrap.
        extends: true,
        test: { name: "sandbox", include: ["tests/agent-sandbox/**/*.test.ts"] },
      },
      {
        // Own throwaway PostgreSQL clusters that the tests stop, start and kill (npm run test:fault).
        extends: true,
        test: {
          name: "fault",
          include: ["tests/fault/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // The dashboard in real Chromium against one `npm start` server (npm run test:e2e).
        extends: true,
        test: {
          name: "e2e",
          include: ["tests/e2e-browser/**/*.test.ts"],
          globalSetup: ["tests/e2e-browser/global-setup.ts"],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Arrival in a real browser on a shared machine, not speed: polls wait up to 15 s.
          expect: { poll: { timeout: 15_000, interval: 100 } },
        },
      },
      {
        extends: true,
        test: {
          name: "redis",
          include: ["tests/redis/**/*.test.ts"],
          globalSetup: ["tests/setup/postgres-template.ts"],
          env: { TEST_BACKEND: "postgresql" },
        },
      },
    ],
  },
});
