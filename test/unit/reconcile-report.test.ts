import { describe, expect, it } from 'vitest';
import { CustodyTimelineBuilder } from '../../shared/reconcile/custody-timeline';
import { ScanFold, scanLog } from '../../shared/reconcile/log-scan';
import { reconcile } from '../../shared/reconcile/reconcile';
import { reportCsv, RECONCILE_CSV_COLUMNS } from '../../shared/reconcile/report-csv';
import { humanDuration, reportText } from '../../shared/reconcile/report-text';

// The report as people and spreadsheets get it: free text from others cannot become a formula
// or break a row, and the counts are printed even when there is nothing to count.

const ACCOUNT = '123456789012';
function reportOf(records: unknown[], entries: unknown[] = []) {
  const builder = new CustodyTimelineBuilder();
  builder.push({
    v: 1,
    vault: 'ab'.repeat(16),
    device: 'cd'.repeat(32),
    seq: 1,
    time: 0,
    type: 'account.added',
    actor: 'ada',
    data: { account: ACCOUNT, alias: '=alias' },
  });
  entries.forEach((e) => builder.push(e));
  const fold = new ScanFold();
  if (records.length > 0) fold.add(scanLog('/logs/x.json', { Records: records }));
  return reconcile(builder.finish(), fold.totals(), {
    slackMs: 300_000,
    journal: { kind: 'bundle', path: '/j.hkj', devices: 1 },
    workers: 0,
  });
}

describe('the reconciliation report', () => {
  it('writes CSV that a spreadsheet cannot run: formulas quoted off, commas, quotes and line breaks kept inside their field', () => {
    const csv = reportCsv(
      reportOf([
        {
          userIdentity: { type: 'Root', accountId: ACCOUNT },
          eventTime: '2026-01-02T03:04:05Z',
          eventSource: 'iam.amazonaws.com',
          eventName: 'ListUsers',
          eventID: '+1',
          userAgent: '=HYPERLINK("http://x","a,b")',
          sourceIPAddress: '@1\n2',
        },
      ]),
    );
    const [header, row] = csv.split('\r\n');
    expect(header).toBe(RECONCILE_CSV_COLUMNS.join(','));
    expect(row).toContain(`"'=HYPERLINK(""http://x"",""a,b"")"`);
    expect(row).toContain(",'=alias,");
    expect(row).toContain(",'+1,");
    // The line break in the address was cleaned to U+FFFD before it reached the report.
    expect(row).toContain("'@1\uFFFD2");
    expect(row.startsWith('unexplained,2026-01-02T03:04:05Z,123456789012,')).toBe(true);
  });

  it('prints every count even when nothing was found, and says it could not conclude without any log', () => {
    const text = reportText(reportOf([]));
    expect(text).toContain('Files: 0 (0 read, 0 bad, 0 ignored of which 0 digest), read on 0 worker threads');
    expect(text).toContain('Records: 0; root records 0 (0 distinct, 0 duplicate); other principals 0; skipped 0');
    expect(text).toContain(
      'Root actions: 0 explained, 0 half-explained, 0 unexplained; failed sign-ins 0 (0 outside custody); flagged 0; checkouts with no root activity 0',
    );
    expect(text).toMatch(/Result: NEEDS REVIEW[^\n]*\n {2}- no CloudTrail log file was read from the paths given/);
  });

  it('says distances in time the way people do', () => {
    expect([0, 42_000, 7 * 60_000, 3 * 3_600_000, 3 * 3_600_000 + 5 * 60_000, 50 * 3_600_000].map(humanDuration)).toEqual([
      '0 s',
      '42 s',
      '7 min',
      '3 h',
      '3 h 5 min',
      '2 d 2 h',
    ]);
  });
});
