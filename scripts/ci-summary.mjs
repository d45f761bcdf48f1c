// Reads vitest's JSON report, fails on any skipped test (under CI a skip hides
// a missing service), adds the release rehearsal's checks when given its
// result file, and prints the plain closing line "N passed, M failed".
import { existsSync, readFileSync } from 'node:fs';

const [reportPath, statusArg, rehearsalPath] = process.argv.slice(2);
const runnerStatus = Number(statusArg ?? 1);
if (!reportPath || !existsSync(reportPath)) {
  console.log('test report missing: the test run did not finish');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const skipped = [];
for (const file of report.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    if (t.status === 'skipped' || t.status === 'pending' || t.status === 'todo') skipped.push(t.fullName ?? t.title);
  }
}
let passed = report.numPassedTests ?? 0;
let failed = report.numFailedTests ?? 0;
if (failed === 0 && runnerStatus !== 0) failed = 1; // a suite failed to load, or the runner crashed
if (skipped.length > 0) {
  console.log(`${skipped.length} tests were skipped; under CI that is a failure:`);
  for (const name of skipped.slice(0, 20)) console.log(`  - ${name}`);
  failed += skipped.length;
}
if (rehearsalPath !== undefined) {
  if (existsSync(rehearsalPath)) {
    const rehearsal = JSON.parse(readFileSync(rehearsalPath, 'utf8'));
    passed += rehearsal.passed;
    failed += rehearsal.failed;
    for (const r of rehearsal.results.filter((x) => !x.ok)) console.log(`release rehearsal failed: ${r.name}`);
  } else {
    console.log('release rehearsal result missing: the rehearsal did not finish');
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
