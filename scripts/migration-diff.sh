#!/usr/bin/env bash
# Prints the SQL that takes the database from one schema.prisma to another.
# Prisma 7's migrate commands need a native engine that cannot be downloaded on our machines;
# Prisma 6.19's WebAssembly engine writes the same SQL offline, from a scratch folder outside the repo.
#   scripts/migration-diff.sh                      # from empty to prisma/schema.prisma
#   scripts/migration-diff.sh old.prisma           # from old.prisma to prisma/schema.prisma
# The engine opens (but does not change) a connection: DIFF_DATABASE_URL, default the local server.
# Then: mkdir prisma/migrations/<UTC timestamp>_<name> and save the output there as migration.sql.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=${PRISMA6_SCRATCH:-/tmp/tracedeck-prisma6}
if [ ! -x "$scratch/node_modules/.bin/prisma" ]; then
  mkdir -p "$scratch" && (cd "$scratch" && npm init -y >/dev/null && npm install --ignore-scripts prisma@6.19.3 @prisma/adapter-pg@6.19.3 >/dev/null)
fi
to_prisma6() { # the wasm engine wants a url in the datasource and the classic generator
  sed -e 's/^datasource db {/datasource db {\n  url = env("DATABASE_URL")/' \
      -e '/^generator pothos/,/^}/d' \
      -e '/^generator client/,/^}/c\generator client {\n  provider = "prisma-client-js"\n}' "$1"
}
to_prisma6 "$root/prisma/schema.prisma" > "$scratch/to.prisma"
cat > "$scratch/prisma.config.ts" <<'CFG'
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";
export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "to.prisma",
  adapter: async () => new PrismaPg({ connectionString: process.env.DIFF_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" }),
} as never);
CFG
from=(--from-empty)
if [ $# -ge 1 ]; then to_prisma6 "$1" > "$scratch/from.prisma"; from=(--from-schema-datamodel from.prisma); fi
cd "$scratch" && DATABASE_URL=postgresql://unused PRISMA_QUERY_ENGINE_LIBRARY=/bin/false \
  npx --no-install prisma migrate diff "${from[@]}" --to-schema-datamodel to.prisma --script
