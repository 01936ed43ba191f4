import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, ResponseOf } from '../../shared/api/contract';
import { HalfkeyError } from '../../shared/api/result';
import { canonicalize } from '../../shared/journal/canonical';
import { checkAwsRootPassword } from '../../shared/password/generator';
import type { Clipboard } from '../../electron/custody/clipboard';
import { createRouter, type ApiRouter, type HandlerTable } from '../../electron/app/router';
import { custodyHandlers } from '../../electron/custody/custody-handlers';
import { PRESENCE_WINDOW_MS } from '../../electron/vault/custodians';
import { CustodyService } from '../../electron/custody/custody-service';
import { halfAad } from '../../electron/custody/sealing';
import type { CustodyItem } from '../../shared/policy/four-eyes';
import { enrolCustodian } from '../support/roster';
import {
  freshAccountId,
  refusal,
  HALF_PASSWORD,
  HALF_SEED,
  PASSPHRASES,
  openCustodyFixture,
  routed,
  type AccountOptions,
  type CustodyFixture,
  type FixtureCustodian,
} from '../support/custody-fixture';

// Real vault, real keychain (run under build/with-keyring.sh), real Argon2id, real SQLite.
const PASSWORD = HALF_PASSWORD;
const SEED = HALF_SEED;
const ANN = 'walnut harbour gathers dusk 31';
const secretsShown: string[] = [PASSWORD, SEED];

let f: CustodyFixture;
/** The real router over this file's custody service: where every adapter's input is checked. */
let router: ApiRouter;

beforeAll(async () => {
  f = await openCustodyFixture();
  router = createRouter(custodyHandlers(() => f.custody) as HandlerTable);
}, 120_000);

afterAll(async () => {
  await f?.close();
});

const addAccount = (options: AccountOptions = {}): Promise<string> => f.addAccount(options);
const fullAccount = (options: AccountOptions = {}): Promise<string> => f.fullAccount(options);
const proposeAssign = (id: string, item: CustodyItem, name: FixtureCustodian): string => f.proposeAssign(item, id, name);

const refusedCount = (account: string) => f.vault.journal.query({ type: 'custody.refused', account }).length;
const checkoutRows = (account: string) =>
  (f.vault.db.prepare('SELECT count(*) AS n FROM custody_checkouts WHERE account_id = ?').get(account) as { n: number }).n;

/** Calls a custody channel through the router, as every adapter does; a failure is thrown as its HalfkeyError. */
async function viaRouter(channel: Channel, payload: unknown): Promise<unknown> {
  const result = await router.call(channel, payload, { adapter: 'test' });
  if (!result.ok) throw new HalfkeyError(result.error.code, result.error.message, result.error.detail);
  return result.value;
}

const oathtool = (args: string[]) => execFileSync('oathtool', args, { encoding: 'utf8' }).trim().split('\n');

describe('accounts', () => {
  it('validates the account id and root e-mail with clear errors, and stores nothing on error', async () => {
    const bad = [
      [{ accountId: '12345678901' }, /accountId: an AWS account id is exactly 12 digits/],
      [{ accountId: '12345678901a' }, /accountId/],
      [{ rootEmail: 'not-an-email' }, /rootEmail: the root e-mail must look like/],
      [{ phone: '07700 900000' }, /phone: the phone number must be in international form/],
    ] as const;
    const before = f.custody.accounts.list(routed('custody:account-list', { limit: 10_000 })).total;
    for (const [change, message] of bad) {
      const input = { accountId: freshAccountId(), alias: 'x', rootEmail: 'root@example.com', organisation: 'Customer', ...change };
      await expect(viaRouter('custody:account-add', { by: f.ids.admin, ...input })).rejects.toThrow(message);
    }
    expect(f.custody.accounts.list(routed('custody:account-list', { limit: 10_000 })).total).toBe(before);
    await f.as('pat');
    const pat = () =>
      f.custody.accounts.add(
        routed('custody:account-add', {
          by: f.ids.pat,
          accountId: freshAccountId(),
          alias: 'x',
          rootEmail: 'root@example.com',
          organisation: 'Customer',
        }),
      );
    expect(pat).toThrow(/Only an admin can add accounts/);
  });

  it('lists and searches by id, alias, e-mail and organisation, with halves and assignments', async () => {
    const id = await fullAccount();
    const found = f.custody.accounts.list(routed('custody:account-list', { search: `acct-${id}` }));
    expect(found.total).toBe(1);
    const [summary] = found.accounts;
    expect(summary).toMatchObject({ accountId: id, rootEmail: `root+${id}@example.com`, rotationDue: false, openCheckouts: 0 });
    expect(summary?.password).toMatchObject({ kind: 'password', generation: 1 });
    expect(summary?.mfa).toMatchObject({ kind: 'totp', generation: 1 });
    expect(summary?.assignments).toEqual(
      expect.arrayContaining([
        { item: 'password', custodianId: f.ids.pat },
        { item: 'mfa', custodianId: f.ids.mia },
      ]),
    );
    expect(f.custody.accounts.list(routed('custody:account-list', { search: id.slice(0, 9) })).accounts.map((a) => a.accountId)).toContain(
      id,
    );
    expect(f.custody.accounts.list(routed('custody:account-list', { search: 'no-such-account-anywhere' })).total).toBe(0);
    // LIKE wildcards in the search text are literal.
    expect(f.custody.accounts.list(routed('custody:account-list', { search: '%' })).total).toBe(0);
  });
});

describe('the split at the crypto level', () => {
  it("an MFA custodian's key cannot open the password half, nor a password custodian's the MFA half", async () => {
    const id = await fullAccount();
    const blob = (item: 'password' | 'mfa', custodian: string) =>
      (
        f.vault.db
          .prepare('SELECT blob FROM custody_sealed WHERE account_id = ? AND item = ? AND custodian_id = ?')
          .get(id, item, custodian) as { blob: Uint8Array }
      ).blob;
    const passwordBox = f.vault.device.open(blob('password', f.ids.pat), halfAad(id, 'password', f.ids.pat, 1));
    const mfaBox = f.vault.device.open(blob('mfa', f.ids.mia), halfAad(id, 'mfa', f.ids.mia, 1));
    const mia = f.vault.custodians.unlocked(f.ids.mia);
    expect(() => mia.openSealed(passwordBox)).toThrow(/not sealed to mia/);
    // One actor at a time: pat unlocking locks mia, whose key then opens nothing at all.
    await f.as('pat');
    expect(() => mia.openSealed(mfaBox)).toThrow(/mia is locked/);
    const pat = f.vault.custodians.unlocked(f.ids.pat);
    expect(new TextDecoder().decode(pat.openSealed(passwordBox))).toBe(PASSWORD);
    expect(() => pat.openSealed(mfaBox)).toThrow(/not sealed to pat/);
    // Nothing was sealed to the other custodian at all.
    const count = f.vault.db
      .prepare(
        'SELECT count(*) AS n FROM custody_sealed WHERE account_id = ? AND ((item = ? AND custodian_id = ?) OR (item = ? AND custodian_id = ?))',
      )
      .get(id, 'password', f.ids.mia, 'mfa', f.ids.pat) as { n: number };
    expect(count.n).toBe(0);
    // The device layer binds the row: the password blob does not open under another row's AAD.
    expect(() => f.vault.device.open(blob('password', f.ids.pat), halfAad(id, 'password', f.ids.pat, 2))).toThrow();
    expect(() => f.vault.device.open(blob('password', f.ids.pat), halfAad(id, 'mfa', f.ids.pat, 1))).toThrow();
  });

  it('at the service level the MFA custodian is refused the password, and each refusal is journaled', async () => {
    const id = await fullAccount();
    const before = refusedCount(id);
    const error = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'password', reason: 'try', leaseSeconds: 60 }),
    );
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ item: 'password', accountId: id });
    await f.as('pat');
    const pwOut = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'incident 1', leaseSeconds: 60 });
    await f.as('mia');
    const notHers = await refusal(() => f.custody.checkouts.reveal({ by: f.ids.mia, checkoutId: pwOut.checkoutId, seconds: 10 }));
    expect(notHers.code).toBe('NOT_PERMITTED');
    await f.as('pat');
    const patMfa = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'mfa', reason: 'try', leaseSeconds: 60 }),
    );
    expect(patMfa.code).toBe('POLICY_REFUSED');
    expect(refusedCount(id)).toBe(before + 3);
    const entries = f.vault.journal.query({ type: 'custody.refused', account: id });
    expect(entries.at(-1)).toMatchObject({ actor: f.ids.pat, data: { item: 'mfa', action: 'checkout' } });
    expect(entries.at(-1)?.sigs).toHaveLength(2);
  });

  it('refuses proposing one custodian both halves (rule 1 / role) at once: journaled, no proposal, nothing assigned', async () => {
    const id = await fullAccount();
    await f.as('admin');
    const before = refusedCount(id);
    const error = await refusal(() => proposeAssign(id, 'mfa', 'pat'));
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ item: 'mfa', accountId: id });
    expect(refusedCount(id)).toBe(before + 1);
    expect(f.vault.journal.query({ type: 'custody.refused', account: id }).at(-1)).toMatchObject({
      actor: f.ids.admin,
      data: { action: 'assign', custodian: f.ids.pat },
    });
    expect(f.vault.proposals.list({ state: 'open' }).filter((p) => p.account === id)).toEqual([]);
    expect(
      f.custody.accounts
        .get(id)
        .assignments.filter((a) => a.custodianId === f.ids.pat)
        .map((a) => a.item),
    ).toEqual(['password']);
  });
});

describe('recovery channels', () => {
  it('rule 4: one person may not hold both the root inbox and the recovery phone', async () => {
    const id = await addAccount();
    // Recovery channels go to admins, and no one proposes a change about themselves: a second admin is needed.
    const ann = await enrolCustodian(
      f.vault,
      { id: f.ids.admin, passphrase: PASSPHRASES.admin },
      { name: 'Ann Admin', organisation: 'Provider', role: 'admin', passphrase: ANN },
      { id: f.ids.pat, passphrase: PASSPHRASES.pat },
    );
    await f.as('admin');
    expect(
      await refusal(() => f.custody.assignments.proposeAssign({ by: f.ids.admin, accountId: id, item: 'email', custodianId: f.ids.admin })),
    ).toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/may not propose a change about themselves/),
    });
    const email = f.custody.assignments.proposeAssign({ by: f.ids.admin, accountId: id, item: 'email', custodianId: ann.id }).proposal;
    expect(email.summary).toBe(`Assign the root e-mail inbox of account ${id} to Ann Admin`);
    await f.approve(email.id, 'pat');
    expect(f.vault.journal.query({ type: 'custody.assigned', account: id }).at(-1)?.data).toMatchObject({
      item: 'email',
      custodian: ann.id,
      sealed: false,
      approval: { proposer: f.ids.admin, approver: f.ids.pat },
    });
    await f.as('admin');
    const error = await refusal(() =>
      f.custody.assignments.proposeAssign({ by: f.ids.admin, accountId: id, item: 'phone', custodianId: ann.id }),
    );
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 4, item: 'phone', accountId: id });
    expect(f.vault.journal.query({ type: 'custody.refused', account: id })).toHaveLength(1);
    expect(f.custody.accounts.get(id).assignments).toEqual([{ item: 'email', custodianId: ann.id }]);
  });
});

describe('checkout, reveal, codes', () => {
  it('reveals the password to its custodian under a checkout, and journals it without the secret', async () => {
    const id = await fullAccount();
    await f.as('pat');
    const out = f.custody.checkouts.open({
      by: f.ids.pat,
      accountId: id,
      item: 'password',
      reason: 'billing change',
      ticket: 'CHG-1',
      leaseSeconds: 300,
    });
    const shown = await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 20 });
    expect(shown).toEqual({ password: PASSWORD, expiresAt: f.clock.t + 20_000 });
    const opened = f.vault.journal.query({ type: 'checkout.opened', account: id });
    expect(opened.at(-1)?.data).toMatchObject({ checkout: out.checkoutId, reason: 'billing change', ticket: 'CHG-1' });
    expect(f.vault.journal.query({ type: 'secret.revealed', account: id })).toHaveLength(1);
    const copyError = await refusal(() => f.custody.checkouts.copy({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 10 }));
    expect(copyError.code).toBe('UNSUPPORTED');
    expect(copyError.message).toMatch(/desktop app only; use reveal/);
    expect(f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: out.checkoutId })).toEqual({
      checkoutId: out.checkoutId,
      rotationDue: false,
    });
    await expect(f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 20 })).rejects.toThrow(/is closed/);
  });

  it('copy puts the password on the clipboard from the main process and clears it after N seconds (recording clipboard stand-in)', async () => {
    const board = { kind: 'recording-stand-in', text: '', writes: 0 };
    const standIn: Clipboard = {
      kind: board.kind,
      writeText: async (text) => {
        board.writes += 1;
        board.text = text;
      },
      readText: async () => board.text,
      clear: async () => {
        board.text = '';
      },
    };
    const id = await fullAccount();
    const withClipboard = await CustodyService.open(f.vault, { clipboard: standIn, now: () => f.clock.t });
    try {
      await f.as('pat');
      const out = withClipboard.checkouts.open({
        by: f.ids.pat,
        accountId: id,
        item: 'password',
        reason: 'paste into console',
        leaseSeconds: 300,
      });
      const { clearsAt } = await withClipboard.checkouts.copy({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 1 });
      expect(clearsAt).toBe(f.clock.t + 1_000);
      expect(board).toMatchObject({ text: PASSWORD, writes: 1 });
      const copied = f.vault.journal.query({ type: 'secret.copied', account: id });
      expect(copied).toHaveLength(1);
      expect(copied[0]?.data).toMatchObject({ checkout: out.checkoutId, seconds: 1 });
      await new Promise((r) => setTimeout(r, 1_300));
      expect(board.text).toBe('');
      // A refused copy writes nothing to the clipboard.
      await f.as('mia');
      await expect(withClipboard.checkouts.copy({ by: f.ids.mia, checkoutId: out.checkoutId, seconds: 1 })).rejects.toMatchObject({
        code: 'NOT_PERMITTED',
      });
      expect(board.writes).toBe(1);
    } finally {
      await withClipboard.close();
    }
  });

  it('shows TOTP codes that match oathtool for the stored seed, and two consecutive enrolment codes', async () => {
    const id = await fullAccount();
    const out = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'console login', leaseSeconds: 300 });
    const at = f.clock.t;
    const shown = await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: out.checkoutId });
    expect(shown.code).toBe(oathtool(['--totp', '-b', SEED, '-N', `@${Math.floor(at / 1000)}`])[0]);
    expect(shown.remainingMs).toBe(30_000 - (at % 30_000));
    expect(shown).not.toHaveProperty('seed');
    const codes = await f.custody.checkouts.totpEnrolmentCodes({ by: f.ids.mia, checkoutId: out.checkoutId });
    expect([codes.first, codes.second]).toEqual(oathtool(['--totp', '-b', SEED, '-w', '1', '-N', `@${Math.floor(at / 1000)}`]));
    const shownEntries = f.vault.journal.query({ type: 'totp.code-shown', account: id });
    expect(shownEntries.map((e) => e.data.enrolment)).toEqual([false, true]);
  });

  it('SHA256, 8 digits, 60 s from an otpauth URI also match oathtool', async () => {
    const id = await addAccount();
    await f.assign('mfa', id, 'mia');
    await f.as('mia');
    f.custody.halves.set({
      by: f.ids.mia,
      accountId: id,
      item: 'mfa',
      secret: { kind: 'totp', seed: `otpauth://totp/AWS:root?secret=${SEED}&issuer=AWS&algorithm=SHA256&digits=8&period=60` },
    });
    const out = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'console login', leaseSeconds: 300 });
    const shown = await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: out.checkoutId });
    expect(shown).toMatchObject({ digits: 8, period: 60 });
    expect(shown.code).toBe(oathtool(['--totp=SHA256', '-d', '8', '-s', '60', '-b', SEED, '-N', `@${Math.floor(f.clock.t / 1000)}`])[0]);
  });

  it('checks input at the router, the one door every adapter goes through: no reason, no checkout', async () => {
    const id = await fullAccount();
    const error = await refusal(() =>
      viaRouter('custody:checkout', { by: f.ids.pat, accountId: id, item: 'password', reason: '  ', leaseSeconds: 60 }),
    );
    expect(error).toMatchObject({ code: 'INVALID_PAYLOAD', detail: { field: 'reason' } });
    const lease = await refusal(() =>
      viaRouter('custody:checkout', { by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 0 }),
    );
    expect(lease.detail).toMatchObject({ field: 'leaseSeconds' });
    const short = await refusal(() =>
      viaRouter('custody:half-set', { by: f.ids.pat, accountId: id, item: 'password', secret: { kind: 'password', password: 'short' } }),
    );
    expect(short.detail).toMatchObject({ field: 'secret.password' });
    expect(short.message).not.toContain('short');
    expect(checkoutRows(id)).toBe(0);
    expect(f.custody.accounts.get(id).password?.generation).toBe(1);
  });

  it('exclusive checkout: a second checkout of the same half is refused while one is open', async () => {
    const id = await fullAccount({ exclusive: true });
    // Pat approves, holds the password and is present, so he seals it to Pam while applying.
    await f.assign('password', id, 'pam', 'pat');
    const first = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    const before = refusedCount(id);
    await f.as('pam');
    const error = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.pam, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 }),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/already checked out by custodian .*one checkout at a time/);
    expect(error.detail).toMatchObject({ rule: 'exclusive-checkout', item: 'password' });
    expect(refusedCount(id)).toBe(before + 1);
    // The MFA half is a different half: not blocked.
    await f.as('mia');
    f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 300 });
    await f.as('pat');
    f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: first.checkoutId });
    await f.as('pam');
    const second = f.custody.checkouts.open({ by: f.ids.pam, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    expect((await f.custody.checkouts.reveal({ by: f.ids.pam, checkoutId: second.checkoutId, seconds: 5 })).password).toBe(PASSWORD);
  });

  it('without the exclusive option two custodians may hold checkouts of the same half', async () => {
    const id = await fullAccount();
    await f.assign('password', id, 'pam', 'pat');
    f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    await f.as('pam');
    f.custody.checkouts.open({ by: f.ids.pam, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    expect(f.custody.accounts.get(id).openCheckouts).toBe(2);
  });
});

describe('leases', () => {
  it('expire: use after the lease is refused, lease.expired is journaled by the device, the half is free again', async () => {
    const id = await fullAccount({ exclusive: true });
    await f.as('pat');
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    f.clock.t += 59_000;
    expect(f.custody.checkouts.sweepLeases()).toBe(0);
    f.clock.t += 1_000;
    await f.as('pat');
    await expect(f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 5 })).rejects.toThrow(
      /closed \(expired\)/,
    );
    const expired = f.vault.journal.query({ type: 'lease.expired', account: id });
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ actor: null, data: { checkout: out.checkoutId, custodian: f.ids.pat } });
    expect(expired[0]?.sigs).toHaveLength(1);
    const row = f.vault.db.prepare('SELECT close_kind FROM custody_checkouts WHERE id = ?').get(out.checkoutId) as { close_kind: string };
    expect(row.close_kind).toBe('expired');
    // Exclusive, but the expired lease no longer blocks.
    f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'again', leaseSeconds: 60 });
  });

  it('the periodic sweeper expires a lease without anyone calling', async () => {
    const id = await fullAccount();
    await f.as('pat');
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    // A second service on the same vault shares its clock: the latest one opened applies custody's proposals.
    const swept = await CustodyService.open(f.vault, { now: () => f.clock.t });
    try {
      swept.startLeaseSweeper(50);
      await new Promise((r) => setTimeout(r, 200));
      expect(f.vault.journal.query({ type: 'lease.expired', account: id })).toHaveLength(0);
      f.clock.t += 60_000;
      await new Promise((r) => setTimeout(r, 300));
      expect(f.vault.journal.query({ type: 'lease.expired', account: id }).map((e) => e.data.checkout)).toEqual([out.checkoutId]);
    } finally {
      await swept.close();
    }
  });

  it('leases that ran out while the app was closed expire when custody opens', async () => {
    const id = await fullAccount();
    await f.as('pat');
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    f.clock.t += 61_000;
    const reopened = await CustodyService.open(f.vault, { now: () => f.clock.t });
    await reopened.close();
    expect(f.vault.journal.query({ type: 'lease.expired', account: id }).map((e) => e.data.checkout)).toEqual([out.checkoutId]);
  });
});

describe('rotation', () => {
  const sealedGenerations = (id: string, table: 'custody_sealed' | 'custody_pending_sealed') =>
    (
      f.vault.db.prepare(`SELECT DISTINCT generation FROM ${table} WHERE account_id = ? AND item = 'password'`).all(id) as {
        generation: number;
      }[]
    ).map((r) => r.generation);

  it('is two-phase: the rotated password is pending, the old one in use, until a second custodian approves its confirmation', async () => {
    const id = await fullAccount({ rotate: true });
    await f.as('pat');
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'root login', leaseSeconds: 300 });
    await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 10 });
    expect(f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: out.checkoutId }).rotationDue).toBe(true);
    expect(f.custody.accounts.get(id).rotationDue).toBe(true);
    const before = refusedCount(id);
    const error = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'again', leaseSeconds: 300 }),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/due for rotation/);
    expect(refusedCount(id)).toBe(before + 1);

    const rotated = f.custody.rotations.rotate({ by: f.ids.pat, accountId: id, item: 'password', password: { length: 40 }, seconds: 30 });
    expect(rotated).toMatchObject({ generation: 2, retiredGeneration: 1 });
    const fresh = rotated.password ?? '';
    secretsShown.push(fresh);
    expect(fresh).toHaveLength(40);
    expect(fresh).not.toBe(PASSWORD);
    expect(checkAwsRootPassword(fresh, { accountName: `acct-${id}`, email: `root+${id}@example.com` })).toEqual([]);
    const pending = f.vault.journal.query({ type: 'rotation.pending', account: id }).at(-1);
    expect(pending?.data).toMatchObject({ item: 'password', generation: 2, retiredGeneration: 1, sealedTo: [f.ids.pat] });
    expect(canonicalize(pending)).not.toContain(fresh);
    // Pending: generation 1 is still the half, generation 2 waits beside it, the half is still due.
    expect(f.custody.accounts.get(id)).toMatchObject({ rotationDue: true, password: { generation: 1, pendingGeneration: 2 } });
    expect([sealedGenerations(id, 'custody_sealed'), sealedGenerations(id, 'custody_pending_sealed')]).toEqual([[1], [2]]);
    expect(await refusal(() => f.custody.rotations.rotate({ by: f.ids.pat, accountId: id, item: 'password', seconds: 30 }))).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/already pending/),
    });
    expect(
      await refusal(() =>
        f.custody.halves.set({
          by: f.ids.pat,
          accountId: id,
          item: 'password',
          secret: { kind: 'password', password: 'Another-Passw0rd!' },
        }),
      ),
    ).toMatchObject({ code: 'CONFLICT' });
    // Setting the new password at AWS needs the current one: with a rotation pending, the half
    // (still generation 1) can be checked out again although it is due.
    const current = f.custody.checkouts.open({
      by: f.ids.pat,
      accountId: id,
      item: 'password',
      reason: 'set it at AWS',
      leaseSeconds: 300,
    });
    expect((await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: current.checkoutId, seconds: 10 })).password).toBe(PASSWORD);
    f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: current.checkoutId });

    // The provider took the new password: Pat proposes the confirmation; he may not approve it himself.
    await f.as('pat');
    const { proposal } = f.custody.rotations.proposeConfirm({ by: f.ids.pat, accountId: id, item: 'password' });
    expect(proposal).toMatchObject({
      type: 'rotation.confirmed',
      summary: `Confirm the rotation of the password half of account ${id} to generation 2`,
    });
    await expect(f.approve(proposal.id, 'pat')).rejects.toMatchObject({ code: 'NOT_PERMITTED' });
    await f.approve(proposal.id, 'admin');
    expect(f.vault.journal.query({ type: 'rotation.confirmed', account: id }).at(-1)).toMatchObject({
      actor: f.ids.admin,
      data: {
        item: 'password',
        generation: 2,
        retiredGeneration: 1,
        rotatedBy: f.ids.pat,
        approval: { proposer: f.ids.pat, approver: f.ids.admin },
      },
    });
    expect(f.custody.accounts.get(id)).toMatchObject({ rotationDue: false, password: { generation: 2, pendingGeneration: null } });
    expect([sealedGenerations(id, 'custody_sealed'), sealedGenerations(id, 'custody_pending_sealed')]).toEqual([[2], []]);

    await f.as('pat');
    const again = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'after rotation', leaseSeconds: 300 });
    expect((await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: again.checkoutId, seconds: 5 })).password).toBe(fresh);
  });

  it('an abandoned rotation leaves the old password in use; only a custodian of the half or an admin abandons it', async () => {
    const id = await fullAccount();
    await f.as('pat');
    const rotated = f.custody.rotations.rotate({ by: f.ids.pat, accountId: id, item: 'password', seconds: 5 });
    secretsShown.push(rotated.password ?? '');
    await f.as('mia');
    expect(await refusal(() => f.custody.rotations.abandon({ by: f.ids.mia, accountId: id, item: 'password' }))).toMatchObject({
      code: 'NOT_PERMITTED',
      detail: { rule: 'half-custodian' },
    });
    expect(await refusal(() => f.custody.rotations.proposeConfirm({ by: f.ids.mia, accountId: id, item: 'password' }))).toMatchObject({
      code: 'NOT_PERMITTED',
    });
    await f.as('pat');
    expect(f.custody.rotations.abandon({ by: f.ids.pat, accountId: id, item: 'password' })).toEqual({
      accountId: id,
      item: 'password',
      generation: 2,
    });
    expect(f.vault.journal.query({ type: 'rotation.abandoned', account: id }).at(-1)).toMatchObject({
      actor: f.ids.pat,
      data: { item: 'password', generation: 2, rotatedBy: f.ids.pat },
    });
    expect(f.custody.accounts.get(id).password).toMatchObject({ generation: 1, pendingGeneration: null });
    expect(sealedGenerations(id, 'custody_pending_sealed')).toEqual([]);
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'after abandoning', leaseSeconds: 300 });
    expect((await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 5 })).password).toBe(PASSWORD);
    expect(await refusal(() => f.custody.rotations.abandon({ by: f.ids.pat, accountId: id, item: 'password' }))).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('rule 2 "seen both" holds until the rotation of the seen half is confirmed', async () => {
    const id = await fullAccount();
    // Roles fit items, so no custodian can see both halves through the API. A sighting from
    // before (e.g. an earlier role) is planted directly: a fault the API cannot cause for real.
    f.vault.db
      .prepare(
        "INSERT INTO custody_seen (account_id, item, custodian_id, generation, first_seen_at, how) VALUES (?, 'password', ?, 1, 0, 'planted-by-test')",
      )
      .run(id, f.ids.mia);
    const before = refusedCount(id);
    const open = () => f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    const error = await refusal(open);
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 2, item: 'mfa', accountId: id });
    expect(error.message).toMatch(/Rule 2 \(seen both\)/);
    expect(refusedCount(id)).toBe(before + 1);
    expect(checkoutRows(id)).toBe(0);

    await f.as('pat');
    const rotated = f.custody.rotations.rotate({ by: f.ids.pat, accountId: id, item: 'password', seconds: 5 });
    secretsShown.push(rotated.password ?? '');
    const seen = () =>
      f.vault.db.prepare("SELECT custodian_id, how FROM custody_seen WHERE account_id = ? AND item = 'password' ORDER BY how").all(id);
    // Pending is not rotated: Mia's sighting of the password still counts.
    expect(seen()).toEqual([
      { custodian_id: f.ids.mia, how: 'planted-by-test' },
      { custodian_id: f.ids.pat, how: 'set' },
    ]);
    await f.as('mia');
    expect(await refusal(open)).toMatchObject({ code: 'POLICY_REFUSED', detail: { rule: 2 } });
    await f.confirmRotation('password', id, 'pat', 'admin');
    expect(seen()).toEqual([{ custodian_id: f.ids.pat, how: 'rotate' }]);
    await f.as('mia');
    const out = open();
    expect((await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: out.checkoutId })).code).toMatch(/^\d{6}$/);
  });

  it('records each way of obtaining a half as seen, and a confirmed MFA rotation clears only the MFA sightings', async () => {
    const id = await fullAccount();
    await f.as('pat');
    const pw = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: pw.checkoutId, seconds: 5 });
    await f.as('mia');
    const mfa = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: mfa.checkoutId });
    const seen = () => f.vault.db.prepare('SELECT item, custodian_id, how FROM custody_seen WHERE account_id = ? ORDER BY item').all(id);
    expect(seen()).toEqual([
      { item: 'mfa', custodian_id: f.ids.mia, how: 'set' },
      { item: 'password', custodian_id: f.ids.pat, how: 'set' },
    ]);
    const NEW_SEED = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';
    secretsShown.push(NEW_SEED);
    f.custody.rotations.rotate({ by: f.ids.mia, accountId: id, item: 'mfa', seed: NEW_SEED, seconds: 5 });
    // Until the rotation is confirmed, the open checkout shows codes of the seed in use.
    const code = (seed: string) => oathtool(['--totp', '-b', seed, '-N', `@${Math.floor(f.clock.t / 1000)}`])[0];
    expect((await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: mfa.checkoutId })).code).toBe(code(SEED));
    await f.confirmRotation('mfa', id, 'mia', 'pat');
    expect(seen()).toEqual([
      { item: 'mfa', custodian_id: f.ids.mia, how: 'rotate' },
      { item: 'password', custodian_id: f.ids.pat, how: 'set' },
    ]);
    // The open checkout now shows codes of the new seed.
    await f.as('mia');
    expect((await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: mfa.checkoutId })).code).toBe(code(NEW_SEED));
  });
});

describe('hardware tokens', () => {
  it('are checked out one at a time and checked back in with their new location', async () => {
    const id = await addAccount();
    const mia = proposeAssign(id, 'mfa', 'mia');
    const max = proposeAssign(id, 'mfa', 'max');
    await f.approve(mia, 'pat');
    await f.approve(max, 'pat');
    await f.as('admin');
    f.custody.halves.set({
      by: f.ids.admin,
      accountId: id,
      item: 'mfa',
      secret: { kind: 'hardware-token', serial: 'GAKT000123', location: 'Safe A, shelf 2' },
    });
    await f.as('mia');
    const out = f.custody.checkouts.openToken({ by: f.ids.mia, accountId: id, reason: 'root login', leaseSeconds: 600 });
    expect(out).toMatchObject({ serial: 'GAKT000123', location: 'Safe A, shelf 2' });
    await f.as('max');
    const error = await refusal(() => f.custody.checkouts.openToken({ by: f.ids.max, accountId: id, reason: 'r', leaseSeconds: 600 }));
    expect(error.detail).toMatchObject({ rule: 'exclusive-checkout' });
    await f.as('mia');
    await expect(f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: out.checkoutId })).rejects.toThrow(/hardware token/);
    f.custody.checkouts.checkinToken({ by: f.ids.mia, checkoutId: out.checkoutId, location: 'Safe B, shelf 1' });
    expect(f.custody.accounts.get(id).mfa).toMatchObject({
      kind: 'hardware-token',
      tokenSerial: 'GAKT000123',
      tokenLocation: 'Safe B, shelf 1',
    });
    expect(f.vault.journal.query({ type: 'checkout.closed', account: id }).at(-1)?.data).toMatchObject({
      tokenLocation: 'Safe B, shelf 1',
    });
  });
});

describe('presence', () => {
  it('opening a half needs the passphrase within the presence window; an unlocked session only opens and closes checkouts', async () => {
    const id = await fullAccount();
    await f.as('pat');
    f.clock.t += PRESENCE_WINDOW_MS + 1_000;
    // Still unlocked (the idle lock is longer): opening a checkout and listing need no presence.
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'after a coffee', leaseSeconds: 600 });
    expect(f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id })).map((c) => c.checkoutId)).toEqual([out.checkoutId]);
    const revealed = f.vault.journal.query({ type: 'secret.revealed', account: id }).length;
    for (const open of [
      () => f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 5 }),
      () => f.custody.rotations.rotate({ by: f.ids.pat, accountId: id, item: 'password', seconds: 5 }),
      () =>
        f.custody.halves.set({
          by: f.ids.pat,
          accountId: id,
          item: 'password',
          secret: { kind: 'password', password: 'Another-Passw0rd!' },
        }),
    ]) {
      expect(await refusal(open)).toMatchObject({
        code: 'PRESENCE_REQUIRED',
        message: expect.stringMatching(/pat must enter their passphrase again/),
      });
    }
    expect(f.vault.journal.query({ type: 'secret.revealed', account: id })).toHaveLength(revealed);
    expect(f.custody.accounts.get(id).password?.generation).toBe(1);
    // Typing the passphrase again (one unlock) opens the window again.
    await f.as('pat');
    expect((await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: out.checkoutId, seconds: 5 })).password).toBe(PASSWORD);
    f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: out.checkoutId });
    // The same for the MFA half: codes need presence too.
    await f.as('mia');
    const mfa = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 600 });
    f.clock.t += PRESENCE_WINDOW_MS + 1_000;
    await expect(f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: mfa.checkoutId })).rejects.toMatchObject({
      code: 'PRESENCE_REQUIRED',
    });
    await expect(f.custody.checkouts.totpEnrolmentCodes({ by: f.ids.mia, checkoutId: mfa.checkoutId })).rejects.toMatchObject({
      code: 'PRESENCE_REQUIRED',
    });
    expect(f.custody.checkouts.checkin({ by: f.ids.mia, checkoutId: mfa.checkoutId })).toMatchObject({ rotationDue: false });
  });
});

describe('live custody state', () => {
  it('shows per account which halves are out, with whom, why and until when, and journals both halves out at once', async () => {
    const id = await fullAccount();
    const mine = async () =>
      ((await viaRouter('custody:state', {})) as ResponseOf<'custody:state'>).accounts.filter((a) => a.accountId === id);
    expect(await mine()).toEqual([]);
    await f.as('pat');
    const password = f.custody.checkouts.open({
      by: f.ids.pat,
      accountId: id,
      item: 'password',
      reason: 'billing change',
      ticket: 'CHG-9',
      leaseSeconds: 600,
    });
    expect(await mine()).toEqual([
      {
        accountId: id,
        alias: `acct-${id}`,
        out: [
          {
            item: 'password',
            checkoutId: password.checkoutId,
            custodianId: f.ids.pat,
            custodianName: 'pat',
            reason: 'billing change',
            ticket: 'CHG-9',
            openedAt: f.clock.t,
            leaseUntil: f.clock.t + 600_000,
            hardwareToken: false,
          },
        ],
        bothOut: false,
      },
    ]);
    expect(f.vault.journal.query({ type: 'custody.both-halves-out', account: id })).toEqual([]);
    await f.as('mia');
    const mfa = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'billing change', leaseSeconds: 300 });
    const [both] = await mine();
    expect(both).toMatchObject({
      bothOut: true,
      out: [
        { item: 'password', custodianId: f.ids.pat },
        { item: 'mfa', custodianId: f.ids.mia, checkoutId: mfa.checkoutId },
      ],
    });
    const alarms = f.vault.journal.query({ type: 'custody.both-halves-out', account: id });
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      actor: null,
      data: { password: { checkout: password.checkoutId, custodian: f.ids.pat }, mfa: { checkout: mfa.checkoutId, custodian: f.ids.mia } },
    });
    f.custody.checkouts.checkin({ by: f.ids.mia, checkoutId: mfa.checkoutId });
    expect(await mine()).toMatchObject([{ bothOut: false, out: [{ item: 'password' }] }]);
    // A lease that runs out takes its half off the list.
    f.clock.t += 600_000;
    expect(await mine()).toEqual([]);
  });
});

describe('secrets stay out of the journal', () => {
  it('no entry of this vault contains any password or seed shown in these tests', () => {
    const all = [...f.vault.journal.read()].map((e) => canonicalize(e));
    expect(all.length).toBeGreaterThan(50);
    for (const secret of secretsShown.filter((s) => s.length > 0)) {
      for (const line of all) expect(line).not.toContain(secret);
    }
  });
});
