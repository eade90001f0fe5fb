// Prints the one closing line of `npm test`, from vitest's JSON report:
//   tests: N passed, M failed[, K skipped]
// Exits non-zero when the report is missing or unreadable, so a run whose tests never
// reported can't pass. Usage: node scripts/summary.mjs [REPORT …] (.test-results/vitest.json), summed.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

const reportPaths = process.argv.length > 2 ? process.argv.slice(2) : [".test-results/vitest.json"];

function readReport(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const reason = error.code === "ENOENT" ? "missing" : `unreadable (${error.message})`;
    console.log(`tests: no results, ${path} is ${reason}; vitest did not finish (see its output above)`);
    process.exit(1);
  }
}

const reports = reportPaths.map(readReport);
const count = (field) => reports.reduce((n, report) => n + (Number.isInteger(report[field]) ? report[field] : 0), 0);

const passed = count("numPassedTests");
const failed = count("numFailedTests");
const skipped = count("numPendingTests") + count("numTodoTests");

// A test file that fails to load (syntax error, failing import, error in a hook) fails the run
// without failing a single test; name it so "0 failed" is not mistaken for a green run.
const brokenFiles = reports
  .flatMap((report) => report.testResults ?? [])
  .filter(
    (file) => file.status === "failed" && (file.assertionResults ?? []).every((test) => test.status !== "failed"),
  );
if (brokenFiles.length > 0) {
  const names = brokenFiles.map((file) => relative(process.cwd(), file.name));
  console.log(`test files that failed outside any test: ${names.join(", ")}`);
}

console.log(`tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
