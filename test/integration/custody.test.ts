import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../../shared/api/contract';
import { HalfkeyError } from '../../shared/api/result';
import { canonicalize } from '../../shared/journal/canonical';
import { checkAwsRootPassword } from '../../shared/password/generator';
import type { Clipboard } from '../../electron/custody/clipboard';
import { createRouter, type ApiRouter, type HandlerTable } from '../../electron/app/router';
import { custodyHandlers } from '../../electron/custody/custody-handlers';
import { CustodyService } from '../../electron/custody/custody-service';
import { halfAad } from '../../electron/custody/sealing';
import { freshAccountId, openCustodyFixture, routed, type CustodyFixture } from '../support/custody-fixture';

// Real vault, real keychain (run under build/with-keyring.sh), real Argon2id, real SQLite.
const PASSWORD = 'Initial-Root-Passw0rd!';
const SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
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

function addAccount(options: { exclusive?: boolean; rotate?: boolean } = {}): string {
  const id = freshAccountId();
  f.custody.accounts.add(
    routed('custody:account-add', {
      by: f.ids.admin,
      accountId: id,
      alias: `acct-${id}`,
      rootEmail: `Root+${id}@Example.com`,
      organisation: 'Customer',
      notes: 'secret-free notes',
      exclusiveCheckout: options.exclusive ?? false,
      rotateAfterCheckout: options.rotate ?? false,
    }),
  );
  return id;
}

/** An account with pat on the password and mia on the MFA, both set. */
function fullAccount(options: { exclusive?: boolean; rotate?: boolean } = {}): string {
  const id = addAccount(options);
  f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'password', custodianId: f.ids.pat });
  f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.mia });
  f.custody.halves.set({ by: f.ids.pat, accountId: id, item: 'password', secret: { kind: 'password', password: PASSWORD } });
  f.custody.halves.set({ by: f.ids.mia, accountId: id, item: 'mfa', secret: { kind: 'totp', seed: SEED } });
  return id;
}

const refusedCount = (account: string) => f.vault.journal.query({ type: 'custody.refused', account }).length;
const checkoutRows = (account: string) =>
  (f.vault.db.prepare('SELECT count(*) AS n FROM custody_checkouts WHERE account_id = ?').get(account) as { n: number }).n;

async function refusal(run: () => unknown): Promise<HalfkeyError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof HalfkeyError) return error;
    throw error;
  }
  throw new Error('expected the action to be refused');
}

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

  it('lists and searches by id, alias, e-mail and organisation, with halves and assignments', () => {
    const id = fullAccount();
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
    const id = fullAccount();
    const blob = (item: 'password' | 'mfa', custodian: string) =>
      (
        f.vault.db
          .prepare('SELECT blob FROM custody_sealed WHERE account_id = ? AND item = ? AND custodian_id = ?')
          .get(id, item, custodian) as { blob: Uint8Array }
      ).blob;
    const pat = f.vault.custodians.unlocked(f.ids.pat);
    const mia = f.vault.custodians.unlocked(f.ids.mia);
    const passwordBox = f.vault.device.open(blob('password', f.ids.pat), halfAad(id, 'password', f.ids.pat, 1));
    const mfaBox = f.vault.device.open(blob('mfa', f.ids.mia), halfAad(id, 'mfa', f.ids.mia, 1));
    expect(new TextDecoder().decode(pat.openSealed(passwordBox))).toBe(PASSWORD);
    expect(() => mia.openSealed(passwordBox)).toThrow();
    expect(() => pat.openSealed(mfaBox)).toThrow();
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
    const id = fullAccount();
    const before = refusedCount(id);
    const error = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'password', reason: 'try', leaseSeconds: 60 }),
    );
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ item: 'password', accountId: id });
    const pwOut = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'incident 1', leaseSeconds: 60 });
    const notHers = await refusal(() => f.custody.checkouts.reveal({ by: f.ids.mia, checkoutId: pwOut.checkoutId, seconds: 10 }));
    expect(notHers.code).toBe('NOT_PERMITTED');
    const patMfa = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'mfa', reason: 'try', leaseSeconds: 60 }),
    );
    expect(patMfa.code).toBe('POLICY_REFUSED');
    expect(refusedCount(id)).toBe(before + 3);
    const entries = f.vault.journal.query({ type: 'custody.refused', account: id });
    expect(entries.at(-1)).toMatchObject({ actor: f.ids.pat, data: { item: 'mfa', action: 'checkout' } });
    expect(entries.at(-1)?.sigs).toHaveLength(2);
  });

  it('refuses assigning one custodian both halves (rule 1 / role), journaled, nothing assigned', async () => {
    const id = fullAccount();
    const before = refusedCount(id);
    const error = await refusal(() => f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.pat }));
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ item: 'mfa', accountId: id });
    expect(refusedCount(id)).toBe(before + 1);
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
    const id = addAccount();
    expect(f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'email', custodianId: f.ids.admin })).toMatchObject({
      item: 'email',
      sealed: false,
    });
    const error = await refusal(() => f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'phone', custodianId: f.ids.admin }));
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 4, item: 'phone', accountId: id });
    expect(f.vault.journal.query({ type: 'custody.refused', account: id })).toHaveLength(1);
    expect(f.custody.accounts.get(id).assignments).toEqual([{ item: 'email', custodianId: f.ids.admin }]);
  });
});

describe('checkout, reveal, codes', () => {
  it('reveals the password to its custodian under a checkout, and journals it without the secret', async () => {
    const id = fullAccount();
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
    const withClipboard = await CustodyService.open(f.vault, { clipboard: standIn, now: () => f.clock.t });
    try {
      const id = fullAccount();
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
      await expect(withClipboard.checkouts.copy({ by: f.ids.mia, checkoutId: out.checkoutId, seconds: 1 })).rejects.toMatchObject({
        code: 'NOT_PERMITTED',
      });
      expect(board.writes).toBe(1);
    } finally {
      await withClipboard.close();
    }
  });

  it('shows TOTP codes that match oathtool for the stored seed, and two consecutive enrolment codes', async () => {
    const id = fullAccount();
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
    const id = addAccount();
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.mia });
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
    const id = fullAccount();
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
    const id = fullAccount({ exclusive: true });
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'password', custodianId: f.ids.pam, resealWith: f.ids.pat });
    const first = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    const before = refusedCount(id);
    const error = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.pam, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 }),
    );
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/already checked out by custodian .*one checkout at a time/);
    expect(error.detail).toMatchObject({ rule: 'exclusive-checkout', item: 'password' });
    expect(refusedCount(id)).toBe(before + 1);
    // The MFA half is a different half: not blocked.
    f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 300 });
    f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: first.checkoutId });
    const second = f.custody.checkouts.open({ by: f.ids.pam, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    expect((await f.custody.checkouts.reveal({ by: f.ids.pam, checkoutId: second.checkoutId, seconds: 5 })).password).toBe(PASSWORD);
  });

  it('without the exclusive option two custodians may hold checkouts of the same half', () => {
    const id = fullAccount();
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'password', custodianId: f.ids.pam, resealWith: f.ids.pat });
    f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    f.custody.checkouts.open({ by: f.ids.pam, accountId: id, item: 'password', reason: 'r', leaseSeconds: 300 });
    expect(f.custody.accounts.get(id).openCheckouts).toBe(2);
  });
});

describe('leases', () => {
  it('expire: use after the lease is refused, lease.expired is journaled by the device, the half is free again', async () => {
    const id = fullAccount({ exclusive: true });
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    f.clock.t += 59_000;
    expect(f.custody.checkouts.sweepLeases()).toBe(0);
    f.clock.t += 1_000;
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
    const id = fullAccount();
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    const clock = { t: f.clock.t };
    const swept = await CustodyService.open(f.vault, { now: () => clock.t });
    try {
      swept.startLeaseSweeper(50);
      await new Promise((r) => setTimeout(r, 200));
      expect(f.vault.journal.query({ type: 'lease.expired', account: id })).toHaveLength(0);
      clock.t += 60_000;
      await new Promise((r) => setTimeout(r, 300));
      expect(f.vault.journal.query({ type: 'lease.expired', account: id }).map((e) => e.data.checkout)).toEqual([out.checkoutId]);
    } finally {
      await swept.close();
    }
  });

  it('leases that ran out while the app was closed expire when custody opens', async () => {
    const id = fullAccount();
    const out = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    const later = f.clock.t + 61_000;
    const reopened = await CustodyService.open(f.vault, { now: () => later });
    await reopened.close();
    expect(f.vault.journal.query({ type: 'lease.expired', account: id }).map((e) => e.data.checkout)).toEqual([out.checkoutId]);
  });
});

describe('rotation', () => {
  it('rotation required after a password checkout: check-in makes it due, checkout is refused until rotated', async () => {
    const id = fullAccount({ rotate: true });
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

    const rotated = f.custody.halves.rotate({ by: f.ids.pat, accountId: id, item: 'password', password: { length: 40 }, seconds: 30 });
    expect(rotated).toMatchObject({ generation: 2, retiredGeneration: 1 });
    const fresh = rotated.password ?? '';
    secretsShown.push(fresh);
    expect(fresh).toHaveLength(40);
    expect(fresh).not.toBe(PASSWORD);
    expect(checkAwsRootPassword(fresh, { accountName: `acct-${id}`, email: `root+${id}@example.com` })).toEqual([]);
    expect(f.custody.accounts.get(id).rotationDue).toBe(false);
    const generations = f.vault.db
      .prepare('SELECT DISTINCT generation FROM custody_sealed WHERE account_id = ? AND item = ?')
      .all(id, 'password') as { generation: number }[];
    expect(generations).toEqual([{ generation: 2 }]);
    const entry = f.vault.journal.query({ type: 'half.rotated', account: id }).at(-1);
    expect(entry?.data).toMatchObject({ item: 'password', generation: 2, retiredGeneration: 1, sealedTo: [f.ids.pat] });
    expect(canonicalize(entry)).not.toContain(fresh);

    const again = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'after rotation', leaseSeconds: 300 });
    expect((await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: again.checkoutId, seconds: 5 })).password).toBe(fresh);
  });

  it('rule 2 "seen both" holds until the seen half is rotated', async () => {
    const id = fullAccount();
    // Roles fit items, so no custodian can see both halves through the API. A sighting from
    // before (e.g. an earlier role) is planted directly: a fault the API cannot cause for real.
    f.vault.db
      .prepare(
        "INSERT INTO custody_seen (account_id, item, custodian_id, generation, first_seen_at, how) VALUES (?, 'password', ?, 1, 0, 'planted-by-test')",
      )
      .run(id, f.ids.mia);
    const before = refusedCount(id);
    const error = await refusal(() =>
      f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 }),
    );
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 2, item: 'mfa', accountId: id });
    expect(error.message).toMatch(/Rule 2 \(seen both\)/);
    expect(refusedCount(id)).toBe(before + 1);
    expect(checkoutRows(id)).toBe(0);

    const rotated = f.custody.halves.rotate({ by: f.ids.pat, accountId: id, item: 'password', seconds: 5 });
    secretsShown.push(rotated.password ?? '');
    const seen = f.vault.db.prepare("SELECT custodian_id, how FROM custody_seen WHERE account_id = ? AND item = 'password'").all(id);
    expect(seen).toEqual([{ custodian_id: f.ids.pat, how: 'rotate' }]);
    const out = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'after rotation', leaseSeconds: 60 });
    expect((await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: out.checkoutId })).code).toMatch(/^\d{6}$/);
  });

  it('records each way of obtaining a half as seen, and an MFA rotation clears only the MFA sightings', async () => {
    const id = fullAccount();
    const pw = f.custody.checkouts.open({ by: f.ids.pat, accountId: id, item: 'password', reason: 'r', leaseSeconds: 60 });
    await f.custody.checkouts.reveal({ by: f.ids.pat, checkoutId: pw.checkoutId, seconds: 5 });
    const mfa = f.custody.checkouts.open({ by: f.ids.mia, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: mfa.checkoutId });
    const seen = () => f.vault.db.prepare('SELECT item, custodian_id, how FROM custody_seen WHERE account_id = ? ORDER BY item').all(id);
    expect(seen()).toEqual([
      { item: 'mfa', custodian_id: f.ids.mia, how: 'set' },
      { item: 'password', custodian_id: f.ids.pat, how: 'set' },
    ]);
    const NEW_SEED = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';
    secretsShown.push(NEW_SEED);
    f.custody.halves.rotate({ by: f.ids.mia, accountId: id, item: 'mfa', seed: NEW_SEED, seconds: 5 });
    expect(seen()).toEqual([
      { item: 'mfa', custodian_id: f.ids.mia, how: 'rotate' },
      { item: 'password', custodian_id: f.ids.pat, how: 'set' },
    ]);
    // The open checkout now shows codes of the new seed.
    const shown = await f.custody.checkouts.totpCode({ by: f.ids.mia, checkoutId: mfa.checkoutId });
    expect(shown.code).toBe(oathtool(['--totp', '-b', NEW_SEED, '-N', `@${Math.floor(f.clock.t / 1000)}`])[0]);
  });
});

describe('assignment to a half that already has a secret', () => {
  it('is sealed with an unlocked holder, or recorded unsealed until a holder re-seals', async () => {
    const id = fullAccount();
    const unsealed = f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max });
    expect(unsealed.sealed).toBe(false);
    await expect(async () =>
      f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 }),
    ).rejects.toThrow(/has not been sealed to custodian/);
    const resealed = f.custody.halves.assign({
      by: f.ids.admin,
      accountId: id,
      item: 'mfa',
      custodianId: f.ids.max,
      resealWith: f.ids.mia,
    });
    expect(resealed.sealed).toBe(true);
    expect(f.vault.journal.query({ type: 'half.resealed', account: id }).at(-1)?.data).toMatchObject({
      custodian: f.ids.max,
      resealedBy: f.ids.mia,
    });
    const out = f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    expect((await f.custody.checkouts.totpCode({ by: f.ids.max, checkoutId: out.checkoutId })).code).toBe(
      oathtool(['--totp', '-b', SEED, '-N', `@${Math.floor(f.clock.t / 1000)}`])[0],
    );
  });
});

describe('unassign and listings', () => {
  it('unassigning deletes the sealed copy, keeps the sighting, and refuses to drop the last holder or an open checkout', async () => {
    const id = fullAccount();
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max, resealWith: f.ids.mia });
    const out = f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    await f.custody.checkouts.totpCode({ by: f.ids.max, checkoutId: out.checkoutId });
    await expect(async () =>
      f.custody.halves.unassign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max }),
    ).rejects.toThrow(/must be checked in first/);
    expect(
      f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id })).map((c) => [c.checkoutId, c.custodianId, c.reason]),
    ).toEqual([[out.checkoutId, f.ids.max, 'r']]);
    f.custody.checkouts.checkin({ by: f.ids.max, checkoutId: out.checkoutId });
    expect(f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id }))).toEqual([]);
    expect(f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id, open: false }))[0]).toMatchObject({
      closeKind: 'checked-in',
    });
    await expect(async () =>
      f.custody.halves.unassign({ by: f.ids.mia, accountId: id, item: 'mfa', custodianId: f.ids.max }),
    ).rejects.toMatchObject({ code: 'NOT_PERMITTED' });
    f.custody.halves.unassign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max });
    const copies = f.vault.db.prepare("SELECT custodian_id FROM custody_sealed WHERE account_id = ? AND item = 'mfa'").all(id);
    expect(copies).toEqual([{ custodian_id: f.ids.mia }]);
    expect(f.vault.db.prepare('SELECT how FROM custody_seen WHERE account_id = ? AND custodian_id = ?').all(id, f.ids.max)).toEqual([
      { how: 'totp-code' },
    ]);
    await expect(async () =>
      f.custody.halves.unassign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.mia }),
    ).rejects.toThrow(/only one holding .* would be lost/);
    expect(f.vault.journal.query({ type: 'custody.unassigned', account: id }).map((e) => e.data)).toEqual([
      { account: id, item: 'mfa', custodian: f.ids.max, sealedCopyDeleted: true },
    ]);
    await expect(async () =>
      f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 }),
    ).rejects.toMatchObject({ code: 'POLICY_REFUSED' });
  });

  it('lists open seed-export requests for the approver', () => {
    const id = fullAccount();
    const { requestId } = f.custody.seedExports.request({ by: f.ids.mia, accountId: id, reason: 'new device' });
    expect(f.custody.seedExports.list({ accountId: id })).toEqual([
      expect.objectContaining({ requestId, requestedBy: f.ids.mia, reason: 'new device', approvedBy: null }),
    ]);
    f.clock.t += 16 * 60_000;
    expect(f.custody.seedExports.list({ accountId: id })).toEqual([]);
  });
});

describe('hardware tokens', () => {
  it('are checked out one at a time and checked back in with their new location', async () => {
    const id = addAccount();
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.mia });
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max });
    f.custody.halves.set({
      by: f.ids.admin,
      accountId: id,
      item: 'mfa',
      secret: { kind: 'hardware-token', serial: 'GAKT000123', location: 'Safe A, shelf 2' },
    });
    const out = f.custody.checkouts.openToken({ by: f.ids.mia, accountId: id, reason: 'root login', leaseSeconds: 600 });
    expect(out).toMatchObject({ serial: 'GAKT000123', location: 'Safe A, shelf 2' });
    const error = await refusal(() => f.custody.checkouts.openToken({ by: f.ids.max, accountId: id, reason: 'r', leaseSeconds: 600 }));
    expect(error.detail).toMatchObject({ rule: 'exclusive-checkout' });
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

describe('seed export', () => {
  it('needs a second, different custodian: requester cannot approve, a password custodian cannot, another MFA custodian can', async () => {
    const id = fullAccount();
    f.custody.halves.assign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max, resealWith: f.ids.mia });
    const { requestId } = f.custody.seedExports.request({ by: f.ids.mia, accountId: id, reason: 'moving to a new hardware device' });
    await expect(async () => f.custody.seedExports.collect({ by: f.ids.mia, requestId: requestId })).rejects.toThrow(
      /waiting for a second custodian/,
    );
    const self = await refusal(() => f.custody.seedExports.approve({ by: f.ids.mia, requestId: requestId }));
    expect(self.code).toBe('NOT_PERMITTED');
    const outsider = await refusal(() => f.custody.seedExports.approve({ by: f.ids.pat, requestId: requestId }));
    expect(outsider.code).toBe('NOT_PERMITTED');
    expect(f.custody.seedExports.approve({ by: f.ids.max, requestId: requestId })).toEqual({ requestId, approvedBy: f.ids.max });
    const exported = f.custody.seedExports.collect({ by: f.ids.mia, requestId: requestId });
    expect(exported.base32).toBe(SEED);
    expect(exported.otpauthUri).toContain(`secret=${SEED}`);
    await expect(async () => f.custody.seedExports.collect({ by: f.ids.mia, requestId: requestId })).rejects.toThrow(
      /already been collected/,
    );
    const types = f.vault.journal.query({ account: id }).map((e) => e.type);
    expect(types.filter((t) => t.startsWith('seed.'))).toEqual(['seed.export-requested', 'seed.export-approved', 'seed.exported']);
    expect(types.filter((t) => t === 'custody.refused')).toHaveLength(2);
  });

  it('an admin may approve; a rotation in between voids the request', async () => {
    const id = fullAccount();
    const { requestId } = f.custody.seedExports.request({ by: f.ids.mia, accountId: id, reason: 'audit' });
    f.custody.seedExports.approve({ by: f.ids.admin, requestId: requestId });
    f.custody.halves.rotate({ by: f.ids.mia, accountId: id, item: 'mfa', seed: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', seconds: 5 });
    secretsShown.push('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    await expect(async () => f.custody.seedExports.collect({ by: f.ids.mia, requestId: requestId })).rejects.toThrow(
      /was rotated after request/,
    );
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
