import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { Keychain } from '../../electron/keychain/keychain';
import { Vault } from '../../electron/vault/vault';
import { enrolCustodian, present } from '../support/roster';

// Rule 3 end to end: a real vault created with separateOrganisations (real SQLite, real keychain
// through build/with-keyring.sh, real Argon2id), its custody service, and the journal it writes.
// Assignments are proposals: the policy is asked when an admin proposes and again when a second
// custodian approves.

let dir: string;
let keychain: Keychain;
let vault: Vault;
let custody: CustodyService;
const ids = { admin: '', pat: '', cara: '', mia: '' };
const ACCOUNT = '123456789012';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-four-eyes-'));
  keychain = await openKeytarKeychain();
  const created = await Vault.create(dir, keychain, {
    admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: 'amber lantern quietly folds 17' },
    options: { separateOrganisations: true },
  });
  vault = created.vault;
  ids.admin = created.adminId;
  const admin = await vault.custodians.unlock(created.adminId, 'amber lantern quietly folds 17');
  // Pat is the founding custodian and approves the later enrolments.
  const enrol = async (
    name: string,
    organisation: string,
    role: 'password-custodian' | 'mfa-custodian',
    passphrase: string,
  ): Promise<string> =>
    (
      await enrolCustodian(
        vault,
        { id: admin.id, passphrase: 'amber lantern quietly folds 17' },
        { name, organisation, role, passphrase },
        ids.pat ? { id: ids.pat, passphrase: 'copper heron beneath winter 42' } : null,
      )
    ).id;
  ids.pat = await enrol('Pat', 'Customer', 'password-custodian', 'copper heron beneath winter 42');
  ids.cara = await enrol('Cara', 'Customer', 'mfa-custodian', 'violet canyon echoes softly 08');
  ids.mia = await enrol('Mia', 'Provider', 'mfa-custodian', 'granite meadow whistles north 63');
  custody = await CustodyService.open(vault);
  await present(vault, { id: ids.admin, passphrase: 'amber lantern quietly folds 17' });
  custody.accounts.add({
    by: ids.admin,
    accountId: ACCOUNT,
    alias: 'co-owned-prod',
    rootEmail: 'root@example.com',
    organisation: 'Customer',
    phone: null,
    notes: '',
    exclusiveCheckout: false,
    rotateAfterCheckout: false,
  });
}, 180_000);

afterAll(async () => {
  await custody?.close();
  vault?.close();
  if (vault) await keychain.delete(`device:${vault.id}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const assignees = (item: string): string[] =>
  (
    vault.db.prepare('SELECT custodian_id FROM custody_assignments WHERE account_id = ? AND item = ?').all(ACCOUNT, item) as {
      custodian_id: string;
    }[]
  ).map((r) => r.custodian_id);

const PASSPHRASE = {
  admin: 'amber lantern quietly folds 17',
  pat: 'copper heron beneath winter 42',
  mia: 'granite meadow whistles north 63',
} as const;

/** The admin, present, proposes an assignment; it applies only when a second custodian approves. */
async function propose(item: 'password' | 'mfa', custodianId: string): Promise<string> {
  await present(vault, { id: ids.admin, passphrase: PASSPHRASE.admin });
  return custody.assignments.proposeAssign({ by: ids.admin, accountId: ACCOUNT, item, custodianId }).proposal.id;
}

const approve = (proposalId: string, name: 'pat' | 'mia') =>
  vault.proposals.approve({ by: ids[name], proposalId, passphrase: PASSPHRASE[name] });

async function refusal(run: () => Promise<unknown>): Promise<HalfkeyError> {
  const caught = await run().then(
    () => null,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(HalfkeyError);
  return caught as HalfkeyError;
}

describe('rule 3 (separate organisations) through the custody service', () => {
  it('asks again at approval: an MFA proposal overtaken by a password assignment to the same organisation is refused, journaled, not applied', async () => {
    // Cara (Customer) for the MFA half is fine while no one holds the password half…
    const cara = await propose('mfa', ids.cara);
    // …until Pat, also of Customer, is given the password half first.
    await approve(await propose('password', ids.pat), 'mia');
    const error = await refusal(() => approve(cara, 'mia'));
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 3, item: 'mfa', accountId: ACCOUNT });
    expect(assignees('mfa')).toEqual([]);
    expect(vault.journal.query({ type: 'custody.refused', account: ACCOUNT }).map((e) => [e.actor, e.data.rule, e.data.custodian])).toEqual(
      [[ids.mia, 3, ids.cara]],
    );
    expect(vault.proposals.list({ state: 'open' }).map((p) => p.id)).toEqual([cara]);
  });

  it('refuses the MFA half to the organisation holding the password half when proposed: journaled, no proposal', async () => {
    const error = await refusal(() => propose('mfa', ids.cara));
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 3, item: 'mfa', accountId: ACCOUNT });
    expect(error.message).toContain(
      'Rule 3 (separate organisations): organisation Customer already holds or has seen the password half of account 123456789012',
    );
    expect(assignees('mfa')).toEqual([]);
    const refused = vault.journal.query({ type: 'custody.refused', account: ACCOUNT });
    expect(refused).toHaveLength(2);
    expect(refused[1]).toMatchObject({ actor: ids.admin, data: { rule: 3, item: 'mfa', custodian: ids.cara } });
    expect(vault.proposals.list({ state: 'open' })).toHaveLength(1);
  });

  it('gives the MFA half to a custodian of another organisation', async () => {
    await approve(await propose('mfa', ids.mia), 'pat');
    expect(assignees('mfa')).toEqual([ids.mia]);
    expect(assignees('password')).toEqual([ids.pat]);
  });
});
