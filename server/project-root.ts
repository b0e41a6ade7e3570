// The project's root folder (the one with package.json), from wherever this module runs: server/
// under tsx, dist/server/ once compiled. Files the server reads at run time that are not compiled
// (prisma/migrations, web/dist, demo/scripts, schema.graphql) are found from here, not from the
// module's own folder, so the source and the build read the same ones.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return resolve(from, ".."); // not in a package: server/'s parent
  }
}

export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the project root. */
export const fromProjectRoot = (...parts: string[]) => join(projectRoot, ...parts);
