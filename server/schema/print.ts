// `npm run schema:print` writes schema.graphql from the code; `--check` fails when the committed file differs.
// Importing this module has no side effect: tests import printedSchema() and schemaFile.
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printSchema } from "graphql";
import { fromProjectRoot } from "../project-root.js";
import { schema } from "./index.js";

export const schemaFile = fromProjectRoot("schema.graphql");

/** The schema as schema.graphql holds it: printed from the code (sorted by toSchema), with a final newline. */
export function printedSchema(): string {
  return `${printSchema(schema)}\n`;
}

function main(args: string[]): void {
  const printed = printedSchema();
  if (args.includes("--check")) {
    let committed = "";
    try {
      committed = readFileSync(schemaFile, "utf8");
    } catch {
      // missing: reported as drift below
    }
    if (committed !== printed) {
      process.stderr.write("schema.graphql is out of date with server/schema: run `npm run schema:print` and commit it.\n");
      process.exit(1);
    }
    process.stdout.write("schema.graphql is in sync with the code.\n");
  } else {
    writeFileSync(schemaFile, printed);
    process.stdout.write(`wrote ${schemaFile}\n`);
  }
}

const isEntryPoint = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (isEntryPoint) main(process.argv.slice(2));
