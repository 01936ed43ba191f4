import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustodyTimelineBuilder } from '../../shared/reconcile/custody-timeline';
import { DEFAULT_SLACK_MS, reconcile } from '../../shared/reconcile/reconcile';
import type { Finding, ReconcileReport } from '../../shared/reconcile/report';
import { reportText } from '../../shared/reconcile/report-text';
import { scanCloudTrail } from '../../electron/reconcile/scan-pool';
import { FIXTURE_DIR, plainEntries } from '../fixtures/cloudtrail/fixture-journal';

// The hand-written fixture (test/fixtures/cloudtrail: CloudTrail records written from the
// documented format, a custody journal script, and the findings worked out by hand in
// expected.json) reconciled by the real reader and the pure reconciliation: the findings must be
// exactly the expected ones, read plain, gzipped as AWS delivers, on one thread or on workers.

type Expected = {
  counts: Record<string, number>;
  summary: Record<string, number>;
  ok: boolean;
  findings: (Record<string, unknown> & { why: string })[];
  failedSignIns: (Record<string, unknown> & { why: string })[];
  unusedCheckouts: unknown[];
  rotationsNotSeen: unknown[];
  checkoutEnds: Record<string, { endedAt: string; ended: string }>;
  skippedByReason: Record<string, number>;
  skippedRecords: { file: string; record: number; reason: string }[];
  badFiles: { path: string; reason: string }[];
  ignoredFiles: { path: string; reason: string }[];
};
const expected = JSON.parse(readFileSync(join(FIXTURE_DIR, 'expected.json'), 'utf8')) as Expected;
const INPUTS = ['logs', 'lookup', 'malformed'];

/** A finding in the terms expected.json writes it (checkouts by id, the session by its start). */
function projected(f: Finding): Record<string, unknown> {
  return {
    eventId: f.eventId, time: f.time, account: f.account, eventName: f.eventName, verdict: f.verdict, mfa: f.mfa,
    password: f.password?.checkout ?? null, mfaHalf: f.mfaHalf?.checkout ?? null, breakGlass: f.breakGlass?.openedAt ?? null,
    nearest: f.nearest === null ? null : { checkout: f.nearest.checkout.checkout, distanceMs: f.nearest.distanceMs },
    matches: f.matches === null ? null : { type: f.matches.type, time: f.matches.time },
    flags: f.flags.map((x) => x.code), custodyEvent: f.custodyEvent,
  };
}
const withoutWhy = (list: readonly (Record<string, unknown> & { why: string })[]): Record<string, unknown>[] => list.map(({ why: _why, ...rest }) => rest);

/** Compares a report with expected.json; `root` is the folder the inputs were read from. */
function expectFixtureFindings(report: ReconcileReport, root: string): void {
  const { workers: _workers, ...counts } = report.counts;
  expect(counts).toEqual(expected.counts);
  expect(report.summary).toEqual(expected.summary);
  expect(report.ok).toBe(expected.ok);
  expect(report.findings.map(projected)).toEqual(withoutWhy(expected.findings));
  expect(report.failedSignIns.map(projected)).toEqual(withoutWhy(expected.failedSignIns));
  expect(report.unusedCheckouts.map((u) => ({ checkout: u.checkout.checkout, coverage: u.coverage }))).toEqual(expected.unusedCheckouts);
  expect(report.rotationsNotSeen.map((r) => ({ account: r.rotation.account, type: r.rotation.type, time: r.rotation.time, covered: r.covered }))).toEqual(expected.rotationsNotSeen);
  expect(Object.fromEntries(report.skippedByReason.map((s) => [s.reason, s.count]))).toEqual(expected.skippedByReason);
  const rel = (path: string): string => relative(root, path).replace(/\.gz$/, '').replace(/\\/g, '/');
  expect(report.skippedRecords.map((s) => ({ file: rel(s.file), record: s.record, reason: s.reason }))).toEqual(expected.skippedRecords);
  const files = (list: readonly { path: string; reason: string }[], want: readonly { path: string; reason: string }[]): void => {
    expect(list.map((f) => rel(f.path))).toEqual(want.map((w) => w.path.replace(/\.gz$/, '')));
    list.forEach((f, i) => expect(f.reason).toContain(want[i]!.reason));
  };
  files(report.badFiles, expected.badFiles);
  files(report.ignoredFiles, expected.ignoredFiles);
  const all = [...report.findings, ...report.failedSignIns].flatMap((f) => [f.password, f.mfaHalf, f.nearest?.checkout ?? null]);
  for (const [id, end] of Object.entries(expected.checkoutEnds)) {
    const ref = all.find((c) => c !== null && c.checkout === id);
    expect(ref, id).toMatchObject(end);
  }
}

async function reconcileFixture(root: string, workers: number): Promise<ReconcileReport> {
  const builder = new CustodyTimelineBuilder();
  for (const entry of plainEntries()) builder.push(entry);
  const { totals } = await scanCloudTrail(INPUTS.map((p) => join(root, p)), { workers });
  return reconcile(builder.finish(), totals, { slackMs: DEFAULT_SLACK_MS, journal: { kind: 'bundle', path: 'fixture', devices: 1 }, workers });
}

/** A copy of the fixture with every file gzipped under its name + .gz, as CloudTrail writes to S3 (the malformed ones too, except the text notes and the fake .gz). */
function gzippedCopy(into: string): void {
  cpSync(FIXTURE_DIR, into, { recursive: true });
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json')) {
        writeFileSync(`${path}.gz`, gzipSync(readFileSync(path)));
        rmSync(path);
      }
    }
  };
  for (const input of INPUTS) walk(join(into, input));
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
    expect(text).toMatch(/^Root actions: 10 explained, 2 half-explained, 2 unexplained; failed sign-ins 2 \(2 outside custody\); flagged 4/m);
    for (const f of [...expected.findings, ...expected.failedSignIns].filter((x) => x.verdict !== 'explained' || (x.flags as string[]).length > 0)) expect(text).toContain(`eventID ${String(f.eventId)}`);
    expect(text).toContain('Result: NEEDS REVIEW');
  });
});
