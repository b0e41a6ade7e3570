// Child process of server/db/pglite-open.ts: creates a new PGlite data folder (initdb) and exits.
//
//   node server/db/pglite-initdb.mjs <folder>
//
// initdb runs a second PostgreSQL instance inside PGlite; in the server's own process it left about
// 800 MB resident that WebAssembly never gives back. Here the memory goes with the process, and
// the server opens the finished folder as it does on any later start (~300 MB, not ~950 MB).
// Plain JavaScript on purpose: the same file serves `node --import tsx server/...` and the compiled
// `node dist/server/...` without a loader or a build step.
import { PGlite } from "@electric-sql/pglite";

const folder = process.argv[2];
if (!folder) {
  process.stderr.write("usage: node server/db/pglite-initdb.mjs <folder>\n");
  process.exit(2);
}
try {
  const db = await PGlite.create(folder);
  await db.query("SELECT 1");
  await db.close();
} catch (error) {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
}
