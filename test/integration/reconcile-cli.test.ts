import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseOf } from '../../shared/api/contract';
import { sodiumReady } from '../../shared/sodium';
import { RECONCILE_CSV_COLUMNS } from '../../shared/reconcile/report-csv';
import { expectFixtureFindings, gzippedCopy, INPUTS } from '../fixtures/cloudtrail/expected-findings';
import { writeFixtureBundle } from '../fixtures/cloudtrail/fixture-journal';
import { halfkeyIn } from '../support/halfkey-cli';

// `halfkey reconcile` as a reviewer runs it: the real CLI process (build/halfkey.mjs), a real
// journal bundle exported from a real signed journal, and the hand-written CloudTrail fixture
// gzipped as AWS writes it to S3. The findings must be exactly the hand-worked ones.

let work: string;
const halfkey = halfkeyIn(() => work);
const F7 =
  'logs/AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/03/111111111111_CloudTrail_us-east-1_20260103T0315Z_Wd5hFq6RsT7uVw8X.json.gz';

beforeAll(async () => {
  await sodiumReady();
  work = mkdtempSync(join(tmpdir(), 'halfkey-reconcile-cli-'));
  gzippedCopy(work);
  writeFixtureBundle(join(work, 'journal.hkj'));
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('halfkey reconcile', () => {
  it('reconciles gzipped logs, lookup-events output and malformed files against a bundle: exact findings, --json, --csv and --pdf, exit 1', async () => {
    const run = await halfkey([
      'reconcile',
      '--journal',
      'journal.hkj',
      '--cloudtrail',
      ...INPUTS,
      '--json',
      '--csv',
      'findings.csv',
      '--pdf',
      'findings.pdf',
    ]);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as ResponseOf<'reconcile:run'>;
    expectFixtureFindings(report, work);
    expect(report.journal).toMatchObject({
      kind: 'bundle',
      path: join(work, 'journal.hkj'),
      devices: 1,
      checkouts: 6,
      breakGlassSessions: 1,
    });
    expect(report.written).toEqual({ csv: join(work, 'findings.csv'), pdf: join(work, 'findings.pdf') });
    expect(run.stderr).toBe(`wrote ${join(work, 'findings.csv')}\nwrote ${join(work, 'findings.pdf')}\n`);

    const csv = readFileSync(join(work, 'findings.csv'), 'utf8').trimEnd().split('\r\n');
    expect(csv[0]).toBe(RECONCILE_CSV_COLUMNS.join(','));
    // 14 root actions, 2 failed sign-ins, 1 unused checkout, 1 rotation not seen.
    expect(csv).toHaveLength(1 + 14 + 2 + 1 + 1);
    expect(csv.filter((l) => l.startsWith('unexplained,')).map((l) => l.split(',')[13])).toEqual([
      '5e1c0a7e-0008-4c1e-9d2a-000000000008',
      '5e1c0a7e-0012-4c1e-9d2a-000000000012',
    ]);

    const pdf = readFileSync(join(work, 'findings.pdf'));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = execFileSync('pdftotext', ['-layout', join(work, 'findings.pdf'), '-'], { encoding: 'utf8' });
    expect(text).toContain('Result: NEEDS REVIEW');
    expect(text).toContain('5e1c0a7e-0012-4c1e-9d2a-000000000012');
  });

  it('prints the counts and the verdict for people, and exits 0 when every root action is explained and everything was read', async () => {
    const clean = await halfkey(['reconcile', '--journal', 'journal.hkj', '--cloudtrail', F7, '--slack', '5m']);
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/^Files: 1 \(1 read, 0 bad, 0 ignored of which 0 digest\)/m);
    expect(clean.stdout).toMatch(/^Records: 1; root records 1 \(1 distinct, 0 duplicate\); other principals 0; skipped 0$/m);
    expect(clean.stdout).toMatch(/^Root actions: 1 explained, 0 half-explained, 0 unexplained/m);
    expect(clean.stdout).toContain('break-glass session');
    expect(clean.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Result: CLEAN/);

    const text = await halfkey(['reconcile', '--journal', 'journal.hkj', '--cloudtrail', ...INPUTS]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('Unexplained root actions (2):');
    expect(text.stdout).toContain('FLAG PASSWORD_CHANGE_WITHOUT_ROTATION');
    expect(text.stdout).toContain('Skipped records (6):');
  });

  it('widens or narrows every window by --slack', async () => {
    // The failed sign-in at 09:58 is 8 minutes after B's check-in: with 10 minutes of slack both halves were out.
    const wide = JSON.parse(
      (await halfkey(['reconcile', '--journal', 'journal.hkj', '--cloudtrail', 'logs', '--slack', '10m', '--json'])).stdout,
    ) as ResponseOf<'reconcile:run'>;
    expect(wide.slackSeconds).toBe(600);
    expect(wide.failedSignIns.find((f) => f.eventId === '5e1c0a7e-0004-4c1e-9d2a-000000000004')?.verdict).toBe('explained');
    const none = JSON.parse(
      (await halfkey(['reconcile', '--journal', 'journal.hkj', '--cloudtrail', 'logs', '--slack', '0', '--json'])).stdout,
    ) as ResponseOf<'reconcile:run'>;
    expect(none.failedSignIns.find((f) => f.eventId === '5e1c0a7e-0004-4c1e-9d2a-000000000004')?.verdict).toBe('half-explained');
  });

  it('exits 2 for bad arguments, a missing file, the wrong journal kind, or a journal that does not verify, and says why', async () => {
    const bundle = readFileSync(join(work, 'journal.hkj'), 'utf8');
    writeFileSync(join(work, 'tampered.hkj'), bundle.replace('quarterly root check', 'quarterly root chekc'));
    writeFileSync(join(work, 'not-a-journal.hkj'), '{"format":"something-else"}\n');
    const cases: [string[], RegExp][] = [
      [['reconcile', '--cloudtrail', 'logs'], /give exactly one of --journal BUNDLE and --server-export FILE/],
      [['reconcile', '--journal', 'journal.hkj', '--server-export', 'x', '--cloudtrail', 'logs'], /give exactly one of/],
      [['reconcile', '--journal', 'journal.hkj'], /--cloudtrail is required/],
      [['reconcile', '--journal', 'journal.hkj', 'logs'], /unexpected argument 'logs': CloudTrail paths follow --cloudtrail/],
      [['reconcile', '--server-export', 'journal.hkj', '--cloudtrail', 'logs'], /pass --server-key HEX once/],
      [['reconcile', '--journal', 'journal.hkj', '--cloudtrail', 'logs', '--slack', 'soon'], /--slack must look like 300, 90s, 5m or 1h/],
      [['reconcile', '--journal', 'journal.hkj', '--cloudtrail', 'logs', '--csv', 'out.txt'], /--csv must name a .csv file/],
      [['reconcile', '--journal', 'journal.hkj', '--cloudtrail', 'logs', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['reconcile', '--journal', 'missing.hkj', '--cloudtrail', 'logs'], /There is no journal file at .*missing\.hkj/],
      [['reconcile', '--journal', 'journal.hkj', '--cloudtrail', 'logs', 'nowhere'], /There is no CloudTrail file or folder at .*nowhere/],
      [
        ['reconcile', '--journal', 'not-a-journal.hkj', '--cloudtrail', 'logs'],
        /is not a device journal bundle: its first line names no Halfkey journal format/,
      ],
      [
        ['reconcile', '--server-export', 'journal.hkj', '--server-key', 'ab'.repeat(32), '--cloudtrail', 'logs'],
        /is not a server export: it is a device journal bundle: pass it with --journal/,
      ],
      [
        ['reconcile', '--journal', 'tampered.hkj', '--cloudtrail', 'logs'],
        /does not verify \(\d+ failures?; first at seq \d+: .*nothing was reconciled against it/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await halfkey(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stdout, args.join(' ')).toBe('');
    }
  });
});
