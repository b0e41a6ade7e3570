// The build of the demo workspace: checks every module under src/ and exits with 1 on a problem.
//   1. syntax: `node --check` on each file;
//   2. loading: each module is imported;
//   3. behaviour: each JSDoc line `@example call(args) // => expected` is evaluated with the
//      module's exports and compared (deep equality) with the expected value.
// Problems are printed as `file:line: message`; "build ok" when there is none.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect, isDeepStrictEqual } from "node:util";

const root = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.join(root, "src");
const EXAMPLE = /@example\s+(.+?)\s*\/\/\s*=>\s*(.+?)\s*$/;

const problems = [];
const report = (file, line, message) => problems.push(`${path.relative(root, file)}${line ? `:${line}` : ""}: ${message}`);
const show = (value) => inspect(value, { depth: 4, breakLength: Infinity });

/** `node --check`: null when the syntax is fine, else the line and node's message. */
function checkSyntax(file) {
  try {
    execFileSync(process.execPath, ["--check", file], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
    return null;
  } catch (error) {
    const stderr = String(error.stderr ?? error.message);
    const lines = stderr.split("\n");
    const where = lines[0]?.match(/:(\d+)$/);
    const message = lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.find((l) => l.trim() !== "") ?? "syntax error";
    const excerpt = lines.slice(1, 3).filter((l) => l.trim() !== "" && !/^\w*Error\b/.test(l));
    return { line: where ? Number(where[1]) : undefined, message: [message.trim(), ...excerpt.map((l) => `    ${l}`)].join("\n") };
  }
}

/** The line of `file` named by an error's stack, when there is one. */
function lineFromStack(error, file) {
  const href = pathToFileURL(file).href;
  const frame = String(error?.stack ?? "").split("\n").find((l) => l.includes(href) || l.includes(file));
  const match = frame?.match(/:(\d+):\d+\)?$/);
  return match ? Number(match[1]) : undefined;
}

function evaluate(expression, scope) {
  return new Function(...Object.keys(scope), `"use strict"; return (${expression});`)(...Object.values(scope));
}

const files = readdirSync(srcDir, { recursive: true })
  .map(String)
  .filter((name) => /\.m?js$/.test(name))
  .sort()
  .map((name) => path.join(srcDir, name));

let examples = 0;
for (const file of files) {
  const syntax = checkSyntax(file);
  if (syntax !== null) {
    report(file, syntax.line, syntax.message);
    continue;
  }
  let exports;
  try {
    exports = await import(pathToFileURL(file).href);
  } catch (error) {
    report(file, lineFromStack(error, file), `cannot be loaded: ${error?.name ?? "Error"}: ${error?.message ?? error}`);
    continue;
  }
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((text, index) => {
    const match = text.match(EXAMPLE);
    if (!match) return;
    examples += 1;
    const [, call, expectedText] = match;
    let expected;
    try {
      expected = evaluate(expectedText, exports);
    } catch (error) {
      report(file, index + 1, `the expected value of the example cannot be read: ${expectedText} (${error.message})`);
      return;
    }
    let actual;
    try {
      actual = evaluate(call, exports);
    } catch (error) {
      report(file, index + 1, `example failed: ${call} threw ${error?.name ?? "Error"}: ${error?.message ?? error}`);
      return;
    }
    if (!isDeepStrictEqual(actual, expected)) {
      report(file, index + 1, `example failed: ${call} returned ${show(actual)}, expected ${show(expected)}`);
    }
  });
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`build failed: ${problems.length} problem${problems.length === 1 ? "" : "s"} in ${files.length} module${files.length === 1 ? "" : "s"}`);
  process.exitCode = 1;
} else {
  console.log(`checked ${files.length} module${files.length === 1 ? "" : "s"} and ${examples} example${examples === 1 ? "" : "s"}`);
  console.log("build ok");
}
