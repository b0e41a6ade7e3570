// Shared by scripts/ensure-dashboard.mjs and scripts/dev.mjs: the repository root and the local
// binaries they run with this Node (no npx, no shell).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));

/** The JavaScript file behind a package's bin, or undefined when the package is not installed. */
export function binOf(pkg, name) {
  try {
    const manifest = require.resolve(`${pkg}/package.json`);
    const { bin } = JSON.parse(readFileSync(manifest, "utf8"));
    const file = typeof bin === "string" ? bin : bin?.[name];
    return file ? join(dirname(manifest), file) : undefined;
  } catch {
    return undefined;
  }
}

export const viteBin = () => binOf("vite", "vite");
export const codegenBin = () => binOf("@graphql-codegen/cli", "graphql-codegen");
