import { defineConfig } from "prisma/config";

// env() throws when DATABASE_URL is unset, even for `prisma generate`; the embedded
// database needs no URL, so read it with a fallback.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/tracedeck" },
});
