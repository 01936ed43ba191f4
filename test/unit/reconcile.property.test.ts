import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CustodyTimelineBuilder } from '../../shared/reconcile/custody-timeline';
import { ScanFold, scanLog } from '../../shared/reconcile/log-scan';
import { reconcile } from '../../shared/reconcile/reconcile';

// Random checkout windows, break-glass sessions and root events, through the whole pure path
// (journal entries → timeline, CloudTrail records → scan → reconciliation), against an oracle
// that knows nothing of intervals: it paints every second each half (or a session) covers,
// widened by the slack, onto a strip per account, and reads the strip at each event.

const T0 = Date.parse('2026-03-01T00:00:00Z');
const A = '111111111111';
const B = '222222222222';
const STRIP = 8_000;
const at = (sec: number): number => T0 + sec * 1000;

const windowArb = fc.record({
  half: fc.constantFrom('password' as const, 'mfa' as const),
  open: fc.integer({ min: 0, max: 3600 }),
  dur: fc.integer({ min: 0, max: 900 }),
  close: fc.constantFrom('checked-in' as const, 'lease-expired' as const, 'open' as const),
  lateSweep: fc.integer({ min: 0, max: 3000 }),
});
const sessionArb = fc.record({ open: fc.integer({ min: 0, max: 4000 }), dur: fc.integer({ min: 0, max: 600 }), closed: fc.boolean() });
const eventArb = fc.record({ t: fc.integer({ min: 0, max: 5000 }), account: fc.constantFrom(A, A, A, B), login: fc.boolean() });
const caseArb = fc.record({
  slack: fc.integer({ min: 0, max: 300 }),
  windows: fc.array(windowArb, { maxLength: 6 }),
  sessions: fc.array(sessionArb, { maxLength: 2 }),
  events: fc.array(eventArb, { minLength: 1, maxLength: 12 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** The journal entries custody would have written for the case, in time order. */
type PlainEntry = { time: number; type: string; actor: string | null; data: Record<string, unknown> };
function entriesOf(c: Case): PlainEntry[] {
  const out: PlainEntry[] = [
    { time: at(0) - 60_000, type: 'account.added', actor: 'ada', data: { account: A, alias: 'a' } },
    { time: at(0) - 60_000, type: 'account.added', actor: 'ada', data: { account: B, alias: 'b' } },
  ];
  c.windows.forEach((w, i) => {
    const checkout = `co${i}`;
    const end = at(w.open + w.dur);
    out.push({
      time: at(w.open),
      type: 'checkout.opened',
      actor: `c${i}`,
      data: { account: A, checkout, item: w.half, reason: 'r', ticket: null, leaseUntil: w.close === 'checked-in' ? end + 3_600_000 : end },
    });
    if (w.close === 'checked-in')
      out.push({ time: end, type: 'checkout.closed', actor: `c${i}`, data: { account: A, checkout, item: w.half } });
    if (w.close === 'lease-expired')
      out.push({
        time: end + w.lateSweep * 1000,
        type: 'lease.expired',
        actor: null,
        data: { account: A, checkout, item: w.half, leaseUntil: end },
      });
  });
  c.sessions.forEach((s, i) => {
    out.push({ time: at(s.open), type: 'break-glass.opened', actor: 'ada', data: { account: A, session: `bg${i}`, reason: 'r' } });
    if (s.closed) out.push({ time: at(s.open + s.dur), type: 'break-glass.closed', actor: 'ada', data: { account: A, session: `bg${i}` } });
  });
  return out.sort((x, y) => x.time - y.time);
}

/** The oracle: strips of seconds painted by each half and by sessions, for account A (B has no custody at all). */
function oracle(c: Case): {
  verdict: (e: Case['events'][number]) => { password: boolean; mfa: boolean; session: boolean };
  unused: Set<string>;
} {
  const strip = (): boolean[] => Array.from({ length: STRIP }, () => false);
  const painted = { password: strip(), mfa: strip(), session: strip() };
  const paint = (line: boolean[], from: number, to: number): void => {
    for (let s = Math.max(0, from - c.slack); s <= Math.min(STRIP - 1, to + c.slack); s++) line[s] = true;
  };
  // Every kind of close ends the window at open + dur: the check-in, the lease end (however late the sweep), the lease of a checkout still open.
  for (const w of c.windows) paint(painted[w.half], w.open, w.open + w.dur);
  const lastEntry = Math.max(...entriesOf(c).map((e) => (e.time - T0) / 1000));
  for (const s of c.sessions) paint(painted.session, s.open, s.closed ? s.open + s.dur : Math.max(lastEntry, s.open));
  const unused = new Set<string>();
  c.windows.forEach((w, i) => {
    const line = strip();
    paint(line, w.open, w.open + w.dur);
    if (!c.events.some((e) => e.account === A && line[e.t])) unused.add(`co${i}`);
  });
  return {
    verdict: (e) =>
      e.account === B
        ? { password: false, mfa: false, session: false }
        : { password: painted.password[e.t]!, mfa: painted.mfa[e.t]!, session: painted.session[e.t]! },
    unused,
  };
}

function run(c: Case) {
  const builder = new CustodyTimelineBuilder();
  entriesOf(c).forEach((e, seq) => builder.push({ v: 1, vault: 'ab'.repeat(16), device: 'cd'.repeat(32), seq, ...e }));
  const records = c.events.map((e, i) => ({
    eventVersion: '1.09',
    userIdentity: { type: 'Root', accountId: e.account, arn: `arn:aws:iam::${e.account}:root` },
    eventTime: new Date(at(e.t)).toISOString(),
    eventSource: e.login ? 'signin.amazonaws.com' : 'iam.amazonaws.com',
    eventName: e.login ? 'ConsoleLogin' : 'ListUsers',
    responseElements: e.login ? { ConsoleLogin: 'Success' } : null,
    additionalEventData: e.login ? { MFAUsed: 'Yes' } : undefined,
    eventID: `ev${i}`,
    recipientAccountId: e.account,
  }));
  const fold = new ScanFold();
  fold.add(scanLog('memory.json', { Records: records }));
  return reconcile(builder.finish(), fold.totals(), {
    slackMs: c.slack * 1000,
    journal: { kind: 'bundle', path: 'memory', devices: 1 },
    workers: 0,
  });
}

describe('reconciliation against an independent oracle', () => {
  it('classifies every root action as the painted strips say, and finds the same unused checkouts', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const report = run(c);
        const o = oracle(c);
        const byId = new Map(report.findings.map((f) => [f.eventId, f]));
        expect(byId.size).toBe(c.events.length);
        c.events.forEach((e, i) => {
          const f = byId.get(`ev${i}`)!;
          const want = o.verdict(e);
          const verdict =
            want.session || (want.password && want.mfa) ? 'explained' : want.password || want.mfa ? 'half-explained' : 'unexplained';
          expect(
            { verdict: f.verdict, password: f.password !== null, mfa: f.mfaHalf !== null, session: f.breakGlass !== null },
            `event ${i} at ${e.t}`,
          ).toEqual({ verdict, ...want });
          if (verdict !== 'explained')
            expect(f.nearest === null).toBe(
              e.account === B ||
                c.windows.length === 0 ||
                (verdict === 'half-explained' && !c.windows.some((w) => w.half === (want.password ? 'mfa' : 'password'))),
            );
        });
        expect(new Set(report.unusedCheckouts.map((u) => u.checkout.checkout))).toEqual(o.unused);
        expect(report.summary.explained + report.summary.halfExplained + report.summary.unexplained).toBe(c.events.length);
      }),
      { numRuns: 400 },
    );
  });
});
