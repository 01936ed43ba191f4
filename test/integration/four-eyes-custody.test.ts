import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { Keychain } from '../../electron/keychain/keychain';
import { Vault } from '../../electron/vault/vault';

// Rule 3 end to end: a real vault created with separateOrganisations (real SQLite, real keychain
// through build/with-keyring.sh, real Argon2id), its custody service, and the journal it writes.
// Four Argon2id derivations in all: the admin's creation and unlock, and one per enrolment.

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
  const enrol = async (
    name: string,
    organisation: string,
    role: 'password-custodian' | 'mfa-custodian',
    passphrase: string,
  ): Promise<string> => (await vault.custodians.enrol(admin, { name, organisation, role, passphrase })).id;
  ids.pat = await enrol('Pat', 'Customer', 'password-custodian', 'copper heron beneath winter 42');
  ids.cara = await enrol('Cara', 'Customer', 'mfa-custodian', 'violet canyon echoes softly 08');
  ids.mia = await enrol('Mia', 'Provider', 'mfa-custodian', 'granite meadow whistles north 63');
  custody = await CustodyService.open(vault);
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

describe('rule 3 (separate organisations) through the custody service', () => {
  it('refuses the MFA half to the organisation holding the password half, journals the refusal, assigns nothing', () => {
    custody.halves.assign({ by: ids.admin, accountId: ACCOUNT, item: 'password', custodianId: ids.pat });
    let caught: unknown;
    try {
      custody.halves.assign({ by: ids.admin, accountId: ACCOUNT, item: 'mfa', custodianId: ids.cara });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HalfkeyError);
    const error = caught as HalfkeyError;
    expect(error.code).toBe('POLICY_REFUSED');
    expect(error.detail).toMatchObject({ rule: 3, item: 'mfa', accountId: ACCOUNT });
    expect(error.message).toContain(
      'Rule 3 (separate organisations): organisation Customer already holds or has seen the password half of account 123456789012',
    );
    expect(assignees('mfa')).toEqual([]);

    const refused = vault.journal.query({ type: 'custody.refused', account: ACCOUNT });
    expect(refused).toHaveLength(1);
    expect(refused[0]?.data).toMatchObject({ rule: 3, item: 'mfa', custodian: ids.cara });
  });

  it('gives the MFA half to a custodian of another organisation', () => {
    custody.halves.assign({ by: ids.admin, accountId: ACCOUNT, item: 'mfa', custodianId: ids.mia });
    expect(assignees('mfa')).toEqual([ids.mia]);
    expect(assignees('password')).toEqual([ids.pat]);
  });
});
