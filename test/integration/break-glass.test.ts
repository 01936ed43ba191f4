import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../shared/api/result';
import type { BreakGlassSession } from '../../shared/api/channels/break-glass';
import type { SignedEntry } from '../../shared/journal/entry';
import { verifyEntries } from '../../shared/journal/verifier';
import { isBreakGlass } from '../../server/ingest';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { HALF_PASSWORD, HALF_SEED, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';

// The break-glass ceremony through the real router and app services, on a real vault (SQLite file,
// OS keychain through build/with-keyring.sh, Argon2id, libsodium): each custodian becomes the actor
// by their own passphrase, as in the app, and the journal is verified with the shared verifier.
const NEW_SEED = 'KRUGS4ZANFZSAYJAORSXG5BAONSWKZBA';
const INCIDENT = { reference: 'INC-4711', reason: 'SCP denies every admin role after a bad deploy', severity: 'critical' } as const;

let f: CustodyFixture;
let services: AppServices;
let router: ApiRouter;
let accounts: string[] = [];

type Name = 'admin' | 'pat' | 'mia' | 'max';

async function call(channel: string, payload: unknown): Promise<ApiResult<Record<string, unknown>>> {
  return (await router.call(channel, payload, { adapter: 'test' })) as ApiResult<Record<string, unknown>>;
}
async function value<T = Record<string, unknown>>(channel: string, payload: unknown): Promise<T> {
  const result = await call(channel, payload);
  if (!result.ok) throw new Error(`${channel} failed: ${result.error.code} ${result.error.message}`);
  return result.value as T;
}
/** `name` types their passphrase: they become the actor, present for 60 s, and everyone else is locked. */
const as = (name: Name) => value('custodian:unlock', { custodianId: f.ids[name], passphrase: PASSPHRASES[name] });
const journal = (type?: string): SignedEntry[] => services.vault.current()?.journal.query(type === undefined ? {} : { type }) ?? [];

beforeAll(async () => {
  f = await openCustodyFixture({ only: ['pat', 'mia', 'max'] });
  accounts = [await f.fullAccount(), await f.fullAccount(), await f.fullAccount()];
  // One writer per vault: the app services open it from its folder, so the fixture lets it go.
  await f.custody.close();
  f.vault.close();
  services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
  router = createRouter(createHandlerTable(services));
}, 300_000);

afterAll(async () => {
  await services?.close();
  await f?.close();
});

describe('break-glass through the router', () => {
  it('runs the whole ceremony, two people for two halves, then tracks both rotations to done; the journal verifies', async () => {
    const accountId = accounts[0]!;
    await as('pat');
    const opened = await value<BreakGlassSession>('break-glass:open', { by: f.ids.pat, accountId, incident: INCIDENT });
    expect(opened).toMatchObject({
      accountId,
      state: 'opened',
      next: 'use-password',
      reference: 'INC-4711',
      severity: 'critical',
      leaseMinutes: 60,
    });
    const sessionId = opened.sessionId;
    // A second session on the same account while this one is open is refused, naming the first.
    expect(await call('break-glass:open', { by: f.ids.pat, accountId, incident: INCIDENT })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', message: expect.stringContaining(sessionId) },
    });
    // Out of order: the MFA step before the password step.
    expect(await call('break-glass:use-mfa', { by: f.ids.pat, sessionId })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', message: expect.stringMatching(/password half comes first/) },
    });

    const pw = await value<{ session: BreakGlassSession; checkoutId: string; password: string; expiresAt: number }>(
      'break-glass:use-password',
      { by: f.ids.pat, sessionId, seconds: 30 },
    );
    expect(pw.password).toBe(HALF_PASSWORD);
    expect(pw.session).toMatchObject({ state: 'password-used', next: 'use-mfa', password: { custodianId: f.ids.pat, checkoutOpen: true } });
    // The checkout is flagged break-glass and names the session: what the server's review queue recognises.
    const checkoutEntry = journal('checkout.opened').find((e) => e.data.checkout === pw.checkoutId);
    expect(checkoutEntry?.data).toMatchObject({ breakGlass: true, breakGlassSession: sessionId, item: 'password' });
    expect(isBreakGlass(checkoutEntry!)).toBe(true);
    // The step is not repeated: the password is revealed again on its checkout.
    expect(await call('break-glass:use-password', { by: f.ids.pat, sessionId })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await value('custody:reveal', { by: f.ids.pat, checkoutId: pw.checkoutId, seconds: 10 })).toMatchObject({
      password: HALF_PASSWORD,
    });

    await as('mia');
    const mfa = await value<{ session: BreakGlassSession; checkoutId: string; code: string; remainingMs: number }>('break-glass:use-mfa', {
      by: f.ids.mia,
      sessionId,
    });
    expect(mfa.code).toMatch(/^\d{6}$/);
    expect(mfa.remainingMs).toBeGreaterThan(0);
    expect(mfa.session).toMatchObject({ state: 'mfa-used', next: 'close', mfa: { custodianId: f.ids.mia, checkoutOpen: true } });
    // Live codes come from the same checkout.
    expect(await value('custody:totp-code', { by: f.ids.mia, checkoutId: mfa.checkoutId })).toMatchObject({
      code: expect.stringMatching(/^\d{6}$/),
    });
    expect((await value<{ accounts: { accountId: string; bothOut: boolean }[] }>('custody:state', {})).accounts).toContainEqual(
      expect.objectContaining({ accountId, bothOut: true }),
    );

    // Resolved only once both halves are used; Mia closes; her own checkout is checked in with it.
    const closed = await value<BreakGlassSession>('break-glass:close', {
      by: f.ids.mia,
      sessionId,
      outcome: 'resolved',
      note: 'break-glass role created, SCP fixed, signed out',
    });
    expect(closed).toMatchObject({
      state: 'closed',
      outcome: 'resolved',
      closedBy: f.ids.mia,
      next: 'rotate',
      rotation: { password: 'due', mfa: 'due', done: false, doneAt: null },
      mfa: { checkoutOpen: false },
      password: { checkoutOpen: true },
    });
    expect(await call('break-glass:close', { by: f.ids.mia, sessionId, outcome: 'aborted', note: 'again' })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', message: expect.stringMatching(/already closed/) },
    });
    // Closed but awaiting rotation: still in the default listing.
    expect((await value<{ sessions: BreakGlassSession[] }>('break-glass:list', {})).sessions.map((s) => s.sessionId)).toContain(sessionId);

    // Rotation of both halves, two-phase: pending, then confirmed by the half's custodian and approved by the other.
    await as('pat');
    await value('custody:checkin', { by: f.ids.pat, checkoutId: pw.checkoutId });
    await value('custody:rotate', { by: f.ids.pat, accountId, item: 'password' });
    expect((await value<BreakGlassSession>('break-glass:get', { sessionId })).rotation).toMatchObject({ password: 'pending', mfa: 'due' });
    const pwConfirm = await value<{ proposal: { id: string } }>('custody:rotation-confirm', { by: f.ids.pat, accountId, item: 'password' });
    await value('proposal:approve', { by: f.ids.mia, proposalId: pwConfirm.proposal.id, passphrase: PASSPHRASES.mia });
    expect((await value<BreakGlassSession>('break-glass:get', { sessionId })).rotation).toMatchObject({ password: 'done', mfa: 'due' });
    await value('custody:rotate', { by: f.ids.mia, accountId, item: 'mfa', seed: NEW_SEED });
    const mfaConfirm = await value<{ proposal: { id: string } }>('custody:rotation-confirm', { by: f.ids.mia, accountId, item: 'mfa' });
    await value('proposal:approve', { by: f.ids.pat, proposalId: mfaConfirm.proposal.id, passphrase: PASSPHRASES.pat });
    const rotated = await value<BreakGlassSession>('break-glass:get', { sessionId });
    expect(rotated).toMatchObject({ next: 'done', rotation: { password: 'done', mfa: 'done', done: true, doneAt: expect.any(Number) } });
    await value('break-glass:get', { sessionId });
    expect((await value<{ sessions: BreakGlassSession[] }>('break-glass:list', {})).sessions.map((s) => s.sessionId)).not.toContain(
      sessionId,
    );

    // The journal: every step once, in order, signed by the device and (but for the device's own note) the custodian acting.
    const steps = journal()
      .filter((e) => e.type.startsWith('break-glass.') && e.data.session === sessionId)
      .map((e) => [e.type, e.actor]);
    expect(steps).toEqual([
      ['break-glass.opened', f.ids.pat],
      ['break-glass.password-used', f.ids.pat],
      ['break-glass.mfa-used', f.ids.mia],
      ['break-glass.closed', f.ids.mia],
      ['break-glass.rotated', null],
    ]);
    for (const e of journal().filter((x) => x.data.session === sessionId)) {
      expect(e.sigs.length, e.type).toBe(e.actor === null ? 1 : 2);
      expect(e.data.account).toBe(accountId);
    }
    const closedEntry = journal('break-glass.closed').find((e) => e.data.session === sessionId);
    expect(closedEntry?.data).toMatchObject({
      outcome: 'resolved',
      rotationDue: ['password', 'mfa'],
      checkedIn: [mfa.checkoutId],
      stillOut: [pw.checkoutId],
    });
    const all = journal();
    const text = JSON.stringify(all);
    for (const secret of [HALF_PASSWORD, HALF_SEED, NEW_SEED]) expect(text).not.toContain(secret);
    const report = verifyEntries(all);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
  }, 180_000);

  it('one person cannot use both halves: the MFA step refuses the password custodian, the password step the MFA custodian', async () => {
    const accountId = accounts[1]!;
    await as('mia');
    const { sessionId } = await value<BreakGlassSession>('break-glass:open', { by: f.ids.mia, accountId, incident: INCIDENT });
    const miaPassword = await call('break-glass:use-password', { by: f.ids.mia, sessionId });
    expect(miaPassword).toMatchObject({
      ok: false,
      error: { code: 'POLICY_REFUSED', message: expect.stringMatching(/holds the MFA half .* not the password half/) },
    });
    await as('pat');
    await value('break-glass:use-password', { by: f.ids.pat, sessionId });
    // Pat, present, knows the password now; the MFA step is not for him.
    const patMfa = await call('break-glass:use-mfa', { by: f.ids.pat, sessionId });
    expect(patMfa).toMatchObject({
      ok: false,
      error: {
        code: 'POLICY_REFUSED',
        message: expect.stringMatching(/used the password half in this session, so cannot also use the MFA half/),
      },
    });
    // Nor can Pat act as Mia without her passphrase: she was locked when he unlocked.
    expect(await call('break-glass:use-mfa', { by: f.ids.mia, sessionId })).toMatchObject({
      ok: false,
      error: { code: 'CUSTODIAN_LOCKED' },
    });
    const refusals = journal('break-glass.refused').filter((e) => e.data.session === sessionId);
    expect(refusals.map((e) => [e.actor, e.data.step])).toEqual([
      [f.ids.mia, 'use-password'],
      [f.ids.pat, 'use-mfa'],
    ]);
    expect((await value<BreakGlassSession>('break-glass:get', { sessionId })).state).toBe('password-used');
    // Max holds neither half of this account: he may not close it (journaled), Pat may abort it.
    await as('max');
    expect(await call('break-glass:close', { by: f.ids.max, sessionId, outcome: 'aborted', note: 'not mine' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/takes no part/) },
    });
    expect(await call('break-glass:open', { by: f.ids.max, accountId: accounts[2], incident: INCIDENT })).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/holds neither half/) },
    });
    await as('pat');
    expect(await call('break-glass:close', { by: f.ids.pat, sessionId, outcome: 'resolved', note: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', message: expect.stringMatching(/cannot be closed as resolved: the MFA half has not been used/) },
    });
    const aborted = await value<BreakGlassSession>('break-glass:close', {
      by: f.ids.pat,
      sessionId,
      outcome: 'aborted',
      note: 'MFA custodian unreachable',
    });
    // Only the half that was used needs rotating; Pat's own checkout was checked in by closing.
    expect(aborted).toMatchObject({
      outcome: 'aborted',
      rotation: { password: 'due', mfa: 'not-needed', done: false },
      password: { checkoutOpen: false },
    });
    expect(verifyEntries(journal()).ok).toBe(true);
  }, 120_000);

  it('refuses bad payloads with the field named, and stores nothing', async () => {
    const accountId = accounts[2]!;
    await as('pat');
    const before = journal().length;
    const base = { by: f.ids.pat, accountId, incident: INCIDENT };
    const cases: [string, unknown, string, RegExp][] = [
      ['break-glass:open', { ...base, incident: { ...INCIDENT, reference: '  ' } }, 'incident.reference', /required/],
      ['break-glass:open', { ...base, incident: { ...INCIDENT, severity: 'urgent' } }, 'incident.severity', /critical/],
      ['break-glass:open', { ...base, incident: { ...INCIDENT, reason: 'a\u0007b' } }, 'incident.reason', /control characters/],
      ['break-glass:open', { ...base, incident: { ...INCIDENT, reason: 'x'.repeat(1001) } }, 'incident.reason', /at most 1000/],
      ['break-glass:open', { ...base, incident: { reference: 'R', reason: 'r' } }, 'incident.severity', /./],
      ['break-glass:open', { ...base, leaseMinutes: 1 }, 'leaseMinutes', /at least 5 minutes/],
      ['break-glass:open', { ...base, accountId: '1234' }, 'accountId', /12 digits/],
      ['break-glass:open', { ...base, breakGlass: true }, 'payload', /breakGlass|unrecognized/i],
      ['break-glass:use-password', { by: f.ids.pat, sessionId: 'nope' }, 'sessionId', /32 lowercase hex/],
      ['break-glass:use-password', { by: f.ids.pat, sessionId: 'a'.repeat(32), seconds: 601 }, 'seconds', /./],
      ['break-glass:close', { by: f.ids.pat, sessionId: 'a'.repeat(32), outcome: 'done', note: 'n' }, 'outcome', /resolved/],
      ['break-glass:close', { by: f.ids.pat, sessionId: 'a'.repeat(32), outcome: 'aborted', note: '' }, 'note', /required/],
      ['break-glass:list', { limit: 0 }, 'limit', /./],
    ];
    for (const [channel, payload, field, issue] of cases) {
      const result = await call(channel, payload);
      expect(result, `${channel} ${field}`).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field } } });
      expect(result.ok ? '' : result.error.message, `${channel} ${field}`).toMatch(issue);
    }
    expect(await call('break-glass:get', { sessionId: 'b'.repeat(32) })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await call('break-glass:open', { ...base, accountId: '999999999999' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    expect((await value<{ sessions: BreakGlassSession[] }>('break-glass:list', { accountId, open: false })).sessions).toEqual([]);
    expect(journal().length).toBe(before);
  }, 60_000);
});
