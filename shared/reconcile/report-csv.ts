import type { CheckoutRef, Finding, ReconcileReport } from './report';

/** Columns of the reconciliation CSV: one row per root action, failed sign-in, unused checkout or unconfirmed rotation. */
export const RECONCILE_CSV_COLUMNS = [
  'category',
  'time',
  'account',
  'alias',
  'event_source',
  'event_name',
  'outcome',
  'error_code',
  'mfa',
  'access_key',
  'custody_event',
  'source_ip',
  'user_agent',
  'event_id',
  'flags',
  'explained_by',
  'nearest',
  'matches',
  'file',
  'record',
  'detail',
] as const;

/**
 * A CSV field (RFC 4180). A field a spreadsheet would run as a formula gets a leading quote:
 * CloudTrail's user agent and the journal's reasons are free text written by others.
 */
function field(value: string | number | null): string {
  const raw = value === null ? '' : String(value);
  const safe = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

type Column = (typeof RECONCILE_CSV_COLUMNS)[number];
const row = (cells: Partial<Record<Column, string | number | null>>): string =>
  `${RECONCILE_CSV_COLUMNS.map((c) => field(cells[c] ?? null)).join(',')}\r\n`;
const ref = (c: CheckoutRef): string => `${c.item} seq ${c.seq} ${c.custodianName ?? c.custodian ?? 'device'}: ${c.reason}`;

function findingRow(category: string, f: Finding): string {
  return row({
    category,
    time: f.time,
    account: f.account,
    alias: f.accountAlias,
    event_source: f.eventSource,
    event_name: f.eventName,
    outcome: f.outcome,
    error_code: f.errorCode,
    mfa: f.mfa,
    access_key: f.accessKey,
    custody_event: f.custodyEvent,
    source_ip: f.sourceIp,
    user_agent: f.userAgent,
    event_id: f.eventId,
    flags: f.flags.map((x) => x.code).join(' '),
    explained_by:
      f.breakGlass !== null
        ? `break-glass seq ${f.breakGlass.seq}`
        : [f.password, f.mfaHalf]
            .filter((c) => c !== null)
            .map(ref)
            .join('; '),
    nearest: f.nearest === null ? null : `${ref(f.nearest.checkout)} (${Math.round(f.nearest.distanceMs / 1000)} s away)`,
    matches: f.matches === null ? null : `${f.matches.type} seq ${f.matches.seq}`,
    file: f.file,
    record: f.record,
  });
}

/** The whole report as CSV text (findings by time, then failed sign-ins, unused checkouts, unconfirmed rotations). */
export function reportCsv(r: ReconcileReport): string {
  const out = [`${RECONCILE_CSV_COLUMNS.join(',')}\r\n`];
  for (const f of r.findings) out.push(findingRow(f.verdict, f));
  for (const f of r.failedSignIns) out.push(findingRow('failed-sign-in', f));
  for (const { checkout: c, coverage } of r.unusedCheckouts) {
    out.push(
      row({
        category: 'unused-checkout',
        time: c.openedAt,
        account: c.account,
        detail: `${ref(c)}, until ${c.endedAt} (${c.ended}); logs ${coverage}`,
      }),
    );
  }
  for (const { rotation: z, covered } of r.rotationsNotSeen) {
    out.push(
      row({
        category: 'rotation-not-seen',
        time: z.time,
        account: z.account,
        detail: `${z.type} seq ${z.seq}${covered ? '' : '; the logs end before it'}`,
      }),
    );
  }
  return out.join('');
}
