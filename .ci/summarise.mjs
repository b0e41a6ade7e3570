// Adds up vitest JSON reports and prints the closing line CI reads: "N passed, N failed, N skipped".
import { readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
let missing = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    console.log(`${file}: no report (the run did not finish)`);
    missing++;
    continue;
  }
  const p = report.numPassedTests ?? 0;
  // A file that failed outside its tests (a failing beforeAll/afterAll, an import error) counts
  // once: its tests may all have passed or been skipped, and the run still failed.
  const failedFiles = (report.testResults ?? []).filter(
    (file) => file.status === "failed" && !(file.assertionResults ?? []).some((test) => test.status === "failed"),
  ).length;
  const f = (report.numFailedTests ?? 0) + Math.max(report.numRuntimeErrorTestSuites ?? 0, failedFiles);
  const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  console.log(`${file}: ${p} passed, ${f} failed, ${s} skipped`);
  // Name what failed, with the first line of its message, so the closing lines alone say what to fix.
  for (const result of report.testResults ?? []) {
    const failures = (result.assertionResults ?? []).filter((test) => test.status === "failed");
    for (const test of failures) console.log(`  FAILED ${result.name}: ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
    if (result.status === "failed" && failures.length === 0) console.log(`  FAILED ${result.name}: ${firstLine(result.message)}`);
  }
  passed += p;
  failed += f;
  skipped += s;
}
function firstLine(text) {
  return String(text ?? "").split("\n").find((line) => line.trim())?.trim().slice(0, 300) ?? "";
}

if (missing) failed += missing;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
