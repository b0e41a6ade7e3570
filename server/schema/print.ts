// `npm run schema:print` writes schema.graphql from the code; `--check` fails when the committed file differs.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printSchema } from "graphql";
import { schema } from "./index.js";

const target = fileURLToPath(new URL("../../schema.graphql", import.meta.url));
export const printed = `${printSchema(schema)}\n`;

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(target, "utf8");
  } catch {
    // missing: reported as drift below
  }
  if (committed !== printed) {
    process.stderr.write("schema.graphql is out of date with server/schema: run `npm run schema:print` and commit it.\n");
    process.exit(1);
  }
  process.stdout.write("schema.graphql is in sync with the code.\n");
} else {
  writeFileSync(target, printed);
  process.stdout.write(`wrote ${target}\n`);
}
