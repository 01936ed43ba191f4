import { isoTime } from './aws-time';
import { cleanText, type RootEvent, type SkipReason } from './cloudtrail-record';
import { FLAG_MESSAGES, knownMfaChange, matchPasswordChanges, ownFlags, type FlagCode } from './custody-rules';
import type { BreakGlassSession, CheckoutWindow, CustodyChange, CustodyTimeline, Half } from './custody-timeline';
import { MAX_SKIPPED_LISTED, type AccountSpan, type ScanTotals, type SkippedRecord } from './log-scan';
import type { BreakGlassRef, CheckoutRef, CustodyChangeRef, Finding, ReconcileReport, Verdict } from './report';

/** The default allowance for clock skew between the custody machine and AWS. */
export const DEFAULT_SLACK_MS = 5 * 60_000;

export interface ReconcileOptions {
  readonly slackMs: number;
  readonly journal: { readonly kind: 'bundle' | 'server-export'; readonly path: string; readonly devices: number };
  readonly workers: number;
}

interface AccountWindows {
  readonly password: CheckoutWindow[];
  readonly mfa: CheckoutWindow[];
  readonly breakGlass: BreakGlassSession[];
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** How far an instant is from a window (0 inside it). */
const distance = (t: number, from: number, to: number): number => (t < from ? from - t : t > to ? t - to : 0);

/**
 * Sets every root action against custody: explained when inside a window of the same account in
 * which both halves were out (each checkout widened by the slack at both ends), or inside a
 * break-glass session; half-explained when only one half was out; unexplained otherwise. Then the
 * rotation and MFA rules, checkouts nothing used, and what needs a reviewer.
 */
export function reconcile(timeline: CustodyTimeline, scan: ScanTotals, options: ReconcileOptions): ReconcileReport {
  const slack = options.slackMs;
  const windows = new Map<string, AccountWindows>();
  const windowsOf = (account: string): AccountWindows => {
    let w = windows.get(account);
    if (w === undefined) windows.set(account, (w = { password: [], mfa: [], breakGlass: [] }));
    return w;
  };
  for (const c of timeline.checkouts) windowsOf(c.account)[c.item].push(c);
  for (const s of timeline.breakGlass) windowsOf(s.account).breakGlass.push(s);

  const names = timeline.custodians;
  const checkoutRef = (c: CheckoutWindow): CheckoutRef => ({
    vault: c.vault,
    device: c.device,
    seq: c.seq,
    checkout: cleanText(c.checkout, 64),
    account: c.account,
    item: c.item,
    custodian: c.custodian === null ? null : cleanText(c.custodian),
    custodianName: c.custodian === null || !names.has(c.custodian) ? null : cleanText(names.get(c.custodian)),
    reason: cleanText(c.reason, 4096),
    ticket: c.ticket === null ? null : cleanText(c.ticket, 1024),
    hardwareToken: c.hardwareToken,
    openedAt: isoTime(c.openedAt),
    endedAt: isoTime(c.endedAt),
    ended: c.ended,
  });
  const sessionRef = (s: BreakGlassSession): BreakGlassRef => ({
    vault: s.vault,
    device: s.device,
    seq: s.seq,
    account: s.account,
    actor: s.actor === null ? null : cleanText(s.actor),
    reason: cleanText(s.reason, 4096),
    openedAt: isoTime(s.openedAt),
    endedAt: isoTime(s.endedAt),
    ended: s.ended,
  });
  const changeRef = (c: CustodyChange): CustodyChangeRef => ({
    vault: c.vault,
    device: c.device,
    seq: c.seq,
    account: c.account,
    type: cleanText(c.type, 128),
    time: isoTime(c.time),
    actor: c.actor === null ? null : cleanText(c.actor),
  });
  const aliasOf = (account: string): string | null => {
    const alias = timeline.accounts.get(account)?.alias ?? null;
    return alias === null ? null : cleanText(alias);
  };
  const covers = (from: number, to: number, t: number): boolean => t >= from - slack && t <= to + slack;

  // Root activity in an account the journal does not hold cannot be reconciled: reported per record.
  const skipped: SkippedRecord[] = [...scan.skipped];
  const byReason: Partial<Record<SkipReason, number>> = { ...scan.skippedByReason };
  const events: RootEvent[] = [];
  for (const e of scan.root) {
    if (timeline.accounts.has(e.account)) {
      events.push(e);
      continue;
    }
    byReason.ACCOUNT_NOT_IN_VAULT = (byReason.ACCOUNT_NOT_IN_VAULT ?? 0) + 1;
    if (skipped.length < MAX_SKIPPED_LISTED)
      skipped.push({
        file: e.file,
        record: e.record,
        eventId: e.eventId,
        reason: 'ACCOUNT_NOT_IN_VAULT',
        detail: `root ${e.name} in account ${e.account}, which no account of this journal is`,
      });
  }
  events.sort(
    (a, b) => a.time - b.time || compareText(a.eventId ?? '', b.eventId ?? '') || compareText(a.file, b.file) || a.record - b.record,
  );

  const nearestOf = (list: readonly CheckoutWindow[], t: number): { checkout: CheckoutRef; distanceMs: number } | null => {
    let best: CheckoutWindow | null = null;
    for (const c of list) if (best === null || distance(t, c.openedAt, c.endedAt) < distance(t, best.openedAt, best.endedAt)) best = c;
    return best === null ? null : { checkout: checkoutRef(best), distanceMs: distance(t, best.openedAt, best.endedAt) };
  };

  const findingOf = (e: RootEvent): Finding => {
    const w = windowsOf(e.account);
    const session = w.breakGlass.find((s) => covers(s.openedAt, s.endedAt, e.time)) ?? null;
    const out = (half: Half): CheckoutWindow | null => w[half].find((c) => covers(c.openedAt, c.endedAt, e.time)) ?? null;
    const password = out('password');
    const mfa = out('mfa');
    const verdict: Verdict =
      session !== null || (password !== null && mfa !== null)
        ? 'explained'
        : password !== null || mfa !== null
          ? 'half-explained'
          : 'unexplained';
    const missing = verdict === 'half-explained' ? w[password === null ? 'password' : 'mfa'] : [...w.password, ...w.mfa];
    return {
      eventId: e.eventId,
      time: isoTime(e.time),
      account: e.account,
      accountAlias: aliasOf(e.account),
      region: e.region,
      eventSource: e.source,
      eventName: e.name,
      sourceIp: e.sourceIp,
      userAgent: e.userAgent,
      outcome: e.outcome,
      errorCode: e.errorCode,
      mfa: e.mfa,
      accessKey: e.accessKey,
      custodyEvent: e.custody,
      verdict,
      password: password === null ? null : checkoutRef(password),
      mfaHalf: mfa === null ? null : checkoutRef(mfa),
      breakGlass: session === null ? null : sessionRef(session),
      nearest: verdict === 'explained' ? null : nearestOf(missing, e.time),
      matches: null,
      flags: ownFlags(e).map(flag),
      file: e.file,
      record: e.record,
    };
  };
  const flag = (code: FlagCode): Finding['flags'][number] => ({ code, message: FLAG_MESSAGES[code] });

  const findings = new Map<RootEvent, Finding>();
  const eventsOf = new Map<string, RootEvent[]>();
  for (const e of events) {
    findings.set(e, findingOf(e));
    const list = eventsOf.get(e.account);
    if (list === undefined) eventsOf.set(e.account, [e]);
    else list.push(e);
  }

  // The rotation rule, per account: successful password changes against pending rotations.
  const rotationsNotSeen: ReconcileReport['rotationsNotSeen'] = [];
  const spans = new Map(scan.coverage.map((s) => [s.account, s]));
  for (const account of timeline.accounts.keys()) {
    const changes = (eventsOf.get(account) ?? []).filter((e) => e.custody === 'password-change' && e.outcome === 'success');
    const rotations = timeline.passwordRotations.filter((r) => r.account === account);
    const { confirms, unconfirmed } = matchPasswordChanges(changes, rotations, slack);
    for (const [change, rotation] of confirms) {
      const finding = findings.get(change)!;
      if (rotation === null) finding.flags.push(flag('PASSWORD_CHANGE_WITHOUT_ROTATION'));
      else finding.matches = changeRef(rotation);
    }
    const span = spans.get(account);
    // Covered: the logs run from before the rotation to after it, so a change at AWS would be in them.
    for (const r of unconfirmed)
      rotationsNotSeen.push({ rotation: changeRef(r), covered: span !== undefined && span.from <= r.time && span.to >= r.time });
  }
  // The MFA rule: a device enabled or removed at AWS that custody has no MFA change for.
  for (const e of events) {
    if ((e.custody !== 'mfa-enabled' && e.custody !== 'mfa-removed') || e.outcome !== 'success') continue;
    const known = knownMfaChange(e, timeline.mfaChanges, slack);
    const finding = findings.get(e)!;
    if (known === null) finding.flags.push(flag('MFA_CHANGE_UNKNOWN_TO_CUSTODY'));
    else finding.matches = changeRef(known);
  }

  const unusedCheckouts = timeline.checkouts
    .filter((c) => !(eventsOf.get(c.account) ?? []).some((e) => covers(c.openedAt, c.endedAt, e.time)))
    .map((c) => ({ checkout: checkoutRef(c), coverage: coverageOf(spans.get(c.account), c) }));

  const all = [...findings.values()];
  const failed = all.filter((f) => f.outcome === 'failure' && f.eventName === 'ConsoleLogin');
  const actions = all.filter((f) => !(f.outcome === 'failure' && f.eventName === 'ConsoleLogin'));
  const countOf = (list: readonly Finding[], v: Verdict): number => list.filter((f) => f.verdict === v).length;
  const summary = {
    explained: countOf(actions, 'explained'),
    halfExplained: countOf(actions, 'half-explained'),
    unexplained: countOf(actions, 'unexplained'),
    failedSignIns: failed.length,
    failedSignInsUnexplained: failed.length - countOf(failed, 'explained'),
    flagged: all.filter((f) => f.flags.length > 0).length,
    unusedCheckouts: unusedCheckouts.length,
    rotationsNotSeen: rotationsNotSeen.filter((r) => r.covered).length,
  };
  const skippedCount = Object.values(byReason).reduce((n, v) => n + (v ?? 0), 0);
  const attention = attentionLines(summary, scan, skippedCount);

  return {
    ok: attention.length === 0,
    journal: {
      kind: options.journal.kind,
      path: options.journal.path,
      entries: timeline.entries,
      devices: options.journal.devices,
      accounts: [...timeline.accounts.keys()]
        .map((account) => ({ account, alias: aliasOf(account) }))
        .sort((a, b) => compareText(a.account, b.account)),
      checkouts: timeline.checkouts.length,
      breakGlassSessions: timeline.breakGlass.length,
    },
    slackSeconds: Math.round(slack / 1000),
    counts: {
      files: scan.files,
      filesRead: scan.filesRead,
      filesBad: scan.filesBad,
      filesIgnored: scan.filesIgnored,
      digestFiles: scan.digestFiles,
      records: scan.records,
      otherRecords: scan.otherRecords,
      rootRecords: scan.rootRecords,
      rootEvents: scan.root.length,
      duplicateRootRecords: scan.duplicateRootRecords,
      skippedRecords: skippedCount,
      workers: options.workers,
    },
    skippedByReason: (Object.entries(byReason) as [SkipReason, number][])
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => ({ reason, count: n }))
      .sort((a, b) => compareText(a.reason, b.reason)),
    summary,
    attention,
    findings: actions,
    failedSignIns: failed,
    unusedCheckouts,
    rotationsNotSeen,
    coverage: scan.coverage.map((s) => ({ account: s.account, from: isoTime(s.from), to: isoTime(s.to) })),
    badFiles: [...scan.badFiles],
    ignoredFiles: [...scan.ignoredFiles],
    skippedRecords: skipped.sort((a, b) => compareText(a.file, b.file) || a.record - b.record),
  };
}

function coverageOf(span: AccountSpan | undefined, c: CheckoutWindow): 'covered' | 'partly-covered' | 'not-covered' {
  if (span === undefined || span.to < c.openedAt || span.from > c.endedAt) return 'not-covered';
  return span.from <= c.openedAt && span.to >= c.endedAt ? 'covered' : 'partly-covered';
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Why the result is not clean, in the order docs/reconciliation.md explains the findings. */
function attentionLines(s: ReconcileReport['summary'], scan: ScanTotals, skipped: number): string[] {
  const lines: string[] = [];
  if (scan.filesRead === 0) lines.push('no CloudTrail log file was read from the paths given: nothing can be said about root activity');
  if (s.unexplained > 0) lines.push(`${plural(s.unexplained, 'root action')} no checkout explains`);
  if (s.halfExplained > 0)
    lines.push(`${plural(s.halfExplained, 'root action')} with only one half out (someone had the other half by other means)`);
  if (s.failedSignInsUnexplained > 0)
    lines.push(`${plural(s.failedSignInsUnexplained, 'failed root sign-in')} outside a checkout with both halves out`);
  if (s.flagged > 0)
    lines.push(`${plural(s.flagged, 'root action')} flagged (password, MFA or access-key changes custody does not account for)`);
  if (s.rotationsNotSeen > 0)
    lines.push(`${plural(s.rotationsNotSeen, 'password rotation')} in custody never seen as a password change at AWS`);
  if (scan.filesBad > 0) lines.push(`${plural(scan.filesBad, 'file')} could not be read: root activity in them is unknown`);
  if (skipped > 0) lines.push(`${plural(skipped, 'record')} skipped: root activity in them is unknown`);
  return lines;
}
