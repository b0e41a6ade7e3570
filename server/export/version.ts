import { readFileSync } from "node:fs";
import { fromProjectRoot } from "../project-root.js";

let version: string | undefined;

/** Tracedeck's version (package.json), named in exports. */
export function tracedeckVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(fromProjectRoot("package.json"), "utf8")) as { version?: unknown }).version ?? "unknown");
    } catch {
      version = "unknown";
    }
  }
  return version;
}
