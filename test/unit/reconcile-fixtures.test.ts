import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustodyTimelineBuilder } from '../../shared/reconcile/custody-timeline';
import { DEFAULT_SLACK_MS, reconcile } from '../../shared/reconcile/reconcile';
import type { ReconcileReport } from '../../shared/reconcile/report';
import { reportText } from '../../shared/reconcile/report-text';
import { scanCloudTrail } from '../../electron/reconcile/scan-pool';
import { expected, expectFixtureFindings, gzippedCopy, INPUTS } from '../fixtures/cloudtrail/expected-findings';
import { FIXTURE_DIR, plainEntries } from '../fixtures/cloudtrail/fixture-journal';

// The hand-written fixture (test/fixtures/cloudtrail: CloudTrail records written from the
// documented format, a custody journal script, and the findings worked out by hand in
// expected.json) reconciled by the real reader and the pure reconciliation: the findings must be
// exactly the expected ones, read plain, gzipped as AWS delivers, on one thread or on workers.

async function reconcileFixture(root: string, workers: number): Promise<ReconcileReport> {
  const builder = new CustodyTimelineBuilder();
  for (const entry of plainEntries()) builder.push(entry);
  const { totals } = await scanCloudTrail(
    INPUTS.map((p) => join(root, p)),
    { workers },
  );
  return reconcile(builder.finish(), totals, {
    slackMs: DEFAULT_SLACK_MS,
    journal: { kind: 'bundle', path: 'fixture', devices: 1 },
    workers,
  });
}

let gzipped: string;
beforeAll(() => {
  gzipped = mkdtempSync(join(tmpdir(), 'halfkey-ct-fixture-'));
  gzippedCopy(gzipped);
});
afterAll(() => rmSync(gzipped, { recursive: true, force: true }));

describe('reconciling the hand-written CloudTrail fixture', () => {
  it('finds exactly the expected findings in the plain JSON files, on this thread', async () => {
    expectFixtureFindings(await reconcileFixture(FIXTURE_DIR, 0), FIXTURE_DIR);
  });

  it('finds the same in gzipped files read by worker threads', async () => {
    expectFixtureFindings(await reconcileFixture(gzipped, 2), gzipped);
  });

  it('prints every count and every finding that needs review in the text report', async () => {
    const text = reportText(await reconcileFixture(FIXTURE_DIR, 0));
    expect(text).toMatch(/^Files: 14 \(10 read, 2 bad, 2 ignored of which 1 digest\)/m);
    expect(text).toMatch(/^Records: 32; root records 18 \(17 distinct, 1 duplicate\); other principals 9; skipped 6$/m);
    expect(text).toMatch(
      /^Root actions: 10 explained, 2 half-explained, 2 unexplained; failed sign-ins 2 \(2 outside custody\); flagged 4/m,
    );
    for (const f of [...expected.findings, ...expected.failedSignIns].filter(
      (x) => x.verdict !== 'explained' || (x.flags as string[]).length > 0,
    ))
      expect(text).toContain(`eventID ${String(f.eventId)}`);
    expect(text).toContain('Result: NEEDS REVIEW');
  });
});
