// Sums vitest's and Playwright's JSON reports into one closing line for people and CI:
//   tests: N passed, N failed, N skipped
// and lists every skipped test with its reason, so a skip is never mistaken for a pass.
import { existsSync, readFileSync } from 'node:fs';

const [vitestFile, playwrightFile] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const skips = [];

if (vitestFile && existsSync(vitestFile)) {
  const report = JSON.parse(readFileSync(vitestFile, 'utf8'));
  for (const file of report.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') failed++;
      else {
        skipped++;
        skips.push(`vitest: ${t.fullName} (${t.status})`);
      }
    }
    if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') failed++;
  }
} else {
  console.error('test-summary: no vitest report (the unit tests did not run)');
  failed++;
}

const walk = (suite, titles) => {
  for (const s of suite.suites ?? []) walk(s, [...titles, s.title]);
  for (const spec of suite.specs ?? []) {
    for (const t of spec.tests ?? []) {
      const results = t.results ?? [];
      const last = results[results.length - 1];
      const outcome =
        t.status === 'skipped' || last?.status === 'skipped'
          ? 'skipped'
          : t.status === 'expected' || t.status === 'flaky'
            ? 'passed'
            : 'failed';
      if (outcome === 'passed') passed++;
      else if (outcome === 'failed') failed++;
      else {
        skipped++;
        const reason = (t.annotations ?? []).find((a) => a.type === 'skip')?.description ?? 'no reason given';
        skips.push(`playwright [${t.projectName}]: ${[...titles, spec.title].filter(Boolean).join(' › ')} — skipped: ${reason}`);
      }
    }
  }
};
if (playwrightFile && existsSync(playwrightFile)) {
  const report = JSON.parse(readFileSync(playwrightFile, 'utf8'));
  for (const s of report.suites ?? []) walk(s, []);
  for (const e of report.errors ?? []) {
    console.error(`playwright error: ${e.message ?? e}`);
    failed++;
  }
} else {
  console.error('test-summary: no Playwright report (the end-to-end tests did not run)');
  failed++;
}

console.log('');
for (const s of skips) console.log(`skipped: ${s}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 ? 1 : 0;
