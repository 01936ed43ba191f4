import { cleanText } from './cloudtrail-record';
import type { CheckoutRef, Finding, ReconcileReport } from './report';

/** Explained actions, ignored files and skipped records listed in text before pointing to --json. */
const TEXT_LIST_LIMIT = 200;

const n = (value: number): string => value.toLocaleString('en-US');
const plural = (count: number, one: string, many = `${one}s`): string => `${n(count)} ${count === 1 ? one : many}`;

/** A distance in time for people: "42 s", "7 min", "3 h 5 min", "2 d 4 h". */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A path for the terminal: a file name can hold control characters. */
const shownPath = (path: string): string => cleanText(path, 4096);

const who = (c: CheckoutRef): string =>
  c.custodian === null ? 'the device' : c.custodianName === null ? c.custodian : `${c.custodianName} (${c.custodian})`;

/** One line about a checkout: seq, half, who, why, and its window. */
export function checkoutLine(c: CheckoutRef): string {
  const ticket = c.ticket === null ? '' : ` [${c.ticket}]`;
  const token = c.hardwareToken ? ' hardware token' : '';
  return `seq ${c.seq} ${c.item}${token} checkout by ${who(c)} "${c.reason}"${ticket}, ${c.openedAt} to ${c.endedAt} (${c.ended})`;
}

function actionLine(f: Finding): string {
  const alias = f.accountAlias === null ? '' : ` (${f.accountAlias})`;
  const result = f.outcome === 'success' ? '' : ` FAILED${f.errorCode === null ? '' : ` ${f.errorCode}`}`;
  const key = f.accessKey === 'long-term' ? ', long-term access key' : '';
  return `${f.time} account ${f.account}${alias}: ${f.eventSource} ${f.eventName}${result}, MFA ${f.mfa}${key}, from ${f.sourceIp || '?'}, region ${f.region || '?'}, eventID ${f.eventId ?? '(none)'}`;
}

/** The lines under a finding: user agent, what explains it or what is nearest, matches and flags. */
function detailLines(f: Finding): string[] {
  const lines = [`    user agent: ${f.userAgent || '(none)'}`, `    read from ${shownPath(f.file)} record ${f.record}`];
  if (f.breakGlass !== null)
    lines.push(
      `    break-glass session seq ${f.breakGlass.seq} by ${f.breakGlass.actor ?? 'the device'}, ${f.breakGlass.openedAt} to ${f.breakGlass.endedAt} (${f.breakGlass.ended})`,
    );
  if (f.password !== null) lines.push(`    password out: ${checkoutLine(f.password)}`);
  if (f.mfaHalf !== null) lines.push(`    MFA out: ${checkoutLine(f.mfaHalf)}`);
  if (f.nearest !== null)
    lines.push(
      `    nearest ${f.verdict === 'half-explained' ? 'checkout of the missing half' : 'checkout'}: ${checkoutLine(f.nearest.checkout)}, ${humanDuration(f.nearest.distanceMs)} away`,
    );
  else if (f.verdict !== 'explained')
    lines.push(`    no ${f.verdict === 'half-explained' ? 'checkout of the missing half' : 'checkout'} of this account in the journal`);
  if (f.matches !== null) lines.push(`    matches custody ${f.matches.type} seq ${f.matches.seq} at ${f.matches.time}`);
  for (const flag of f.flags) lines.push(`    FLAG ${flag.code}: ${flag.message}`);
  return lines;
}

function section(title: string, findings: readonly Finding[], lines: string[], limit = Infinity): void {
  if (findings.length === 0) return;
  lines.push('', `${title} (${n(findings.length)}):`);
  for (const f of findings.slice(0, limit)) lines.push(`  ${actionLine(f)}`, ...detailLines(f));
  if (findings.length > limit) lines.push(`  … and ${n(findings.length - limit)} more (use --json for all)`);
}

/** The report as a person reads it: counts first (always), then every finding that needs a look, then the verdict. */
export function reportText(r: ReconcileReport): string {
  const c = r.counts;
  const s = r.summary;
  const lines = [
    `Reconciling root activity at AWS against the ${r.journal.kind === 'bundle' ? 'journal bundle' : 'server export'} ${shownPath(r.journal.path)}`,
    `Journal: verified; ${plural(r.journal.entries, 'entry', 'entries')} from ${plural(r.journal.devices, 'device')}; ${plural(r.journal.accounts.length, 'account')}, ${plural(r.journal.checkouts, 'checkout')}, ${plural(r.journal.breakGlassSessions, 'break-glass session')}`,
    `Files: ${n(c.files)} (${n(c.filesRead)} read, ${n(c.filesBad)} bad, ${n(c.filesIgnored)} ignored of which ${n(c.digestFiles)} digest), read on ${plural(c.workers, 'worker thread')}`,
    `Records: ${n(c.records)}; root records ${n(c.rootRecords)} (${n(c.rootEvents)} distinct, ${n(c.duplicateRootRecords)} duplicate); other principals ${n(c.otherRecords)}; skipped ${n(c.skippedRecords)}`,
  ];
  if (r.skippedByReason.length > 0)
    lines.push(`Skipped records by reason: ${r.skippedByReason.map((x) => `${x.reason} ${n(x.count)}`).join(', ')}`);
  for (const span of r.coverage) lines.push(`Logs cover account ${span.account} from ${span.from} to ${span.to}`);
  lines.push(
    `Slack for clock skew: ${n(r.slackSeconds)} s`,
    `Root actions: ${n(s.explained)} explained, ${n(s.halfExplained)} half-explained, ${n(s.unexplained)} unexplained; failed sign-ins ${n(s.failedSignIns)} (${n(s.failedSignInsUnexplained)} outside custody); flagged ${n(s.flagged)}; checkouts with no root activity ${n(s.unusedCheckouts)}`,
  );
  section(
    'Unexplained root actions',
    r.findings.filter((f) => f.verdict === 'unexplained'),
    lines,
  );
  section(
    'Half-explained root actions (only one half was out)',
    r.findings.filter((f) => f.verdict === 'half-explained'),
    lines,
  );
  section(
    'Flagged root actions (explained by custody, but see the flag)',
    r.findings.filter((f) => f.verdict === 'explained' && f.flags.length > 0),
    lines,
  );
  section('Failed root sign-ins', r.failedSignIns, lines);
  section(
    'Explained root actions',
    r.findings.filter((f) => f.verdict === 'explained' && f.flags.length === 0),
    lines,
    TEXT_LIST_LIMIT,
  );
  if (r.unusedCheckouts.length > 0) {
    lines.push('', `Checkouts with no root activity (${n(r.unusedCheckouts.length)}):`);
    for (const u of r.unusedCheckouts) lines.push(`  account ${u.checkout.account}: ${checkoutLine(u.checkout)}; logs: ${u.coverage}`);
  }
  if (r.rotationsNotSeen.length > 0) {
    lines.push('', `Password rotations in custody no password change at AWS confirmed (${n(r.rotationsNotSeen.length)}):`);
    for (const x of r.rotationsNotSeen)
      lines.push(
        `  account ${x.rotation.account}: ${x.rotation.type} seq ${x.rotation.seq} at ${x.rotation.time} by ${x.rotation.actor ?? 'the device'}; ${x.covered ? 'the logs cover the time after it' : 'the logs end before it'}`,
      );
  }
  const listed = <T>(title: string, items: readonly T[], total: number, line: (item: T) => string, limit = TEXT_LIST_LIMIT): void => {
    if (total === 0) return;
    const shown = items.slice(0, limit);
    lines.push('', `${title} (${n(total)}):`, ...shown.map((item) => `  ${line(item)}`));
    if (total > shown.length)
      lines.push(
        `  … and ${n(total - shown.length)} more${items.length > shown.length ? ` (the JSON report lists the first ${n(items.length)})` : ''}`,
      );
  };
  listed('Bad files (nothing in them was read)', r.badFiles, c.filesBad, (f) => `${shownPath(f.path)}: ${f.reason}`);
  listed('Ignored files', r.ignoredFiles, c.filesIgnored, (f) => `${shownPath(f.path)}: ${f.reason}`);
  listed(
    'Skipped records',
    r.skippedRecords,
    c.skippedRecords,
    (x) => `${shownPath(x.file)} record ${x.record}${x.eventId === null ? '' : ` (eventID ${x.eventId})`}: ${x.reason}: ${x.detail}`,
  );
  lines.push('');
  if (r.ok)
    lines.push(
      'Result: CLEAN: every root action at AWS in these logs is explained by a checkout with both halves out or a break-glass session.',
    );
  else lines.push('Result: NEEDS REVIEW (docs/reconciliation.md says what to do about each):', ...r.attention.map((a) => `  - ${a}`));
  return `${lines.join('\n')}\n`;
}
