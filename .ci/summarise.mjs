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
  passed += p;
  failed += f;
  skipped += s;
}
if (missing) failed += missing;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
