import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../electron/base/database';
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { Keychain } from '../../electron/keychain/keychain';
import { Vault, VAULT_FILE } from '../../electron/vault/vault';
import { verifyEntries } from '../../shared/journal/verifier';
import { enrolCustodian } from '../support/roster';

// A vault written before organisations were records: its custodians' organisations are free text
// ("DoiT", "doit ", "Customer") and its custody tables stop at migration 0004. Opening it with
// today's custody migrates the file in place: one record per name (case and spacing ignored), each
// custodian linked and shown under the record's name, organisation.adopted journaled, the policy row
// written from the vault's creation option. Real SQLite file, real keychain (build/with-keyring.sh).
const PASS = {
  ada: 'amber lantern quietly folds 17',
  pat: 'copper heron beneath winter 42',
  mia: 'granite meadow whistles north 63',
  max: 'silver orchard drifts eastward 95',
} as const;
const ACCOUNT = '123456789012';
const CUSTODY_MIGRATIONS = fileURLToPath(new URL('../../electron/custody/migrations', import.meta.url));

let dir = '';
let keychain: Keychain;
let vaultId = '';
const ids: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-orgs-migration-'));
  keychain = await openKeytarKeychain();
  // The old vault: custodians enrolled as before, typing their organisations.
  const created = await Vault.create(
    dir,
    keychain,
    { admin: { name: 'Ada', organisation: 'Provider', passphrase: PASS.ada }, options: { separateOrganisations: true } },
    {},
  );
  const vault = created.vault;
  vaultId = vault.id;
  ids.ada = created.adminId;
  const admin = { id: created.adminId, passphrase: PASS.ada };
  ids.pat = (
    await enrolCustodian(vault, admin, { name: 'Pat', organisation: 'DoiT', role: 'password-custodian', passphrase: PASS.pat }, null)
  ).id;
  const pat = { id: ids.pat, passphrase: PASS.pat };
  ids.mia = (
    await enrolCustodian(vault, admin, { name: 'Mia', organisation: 'doit ', role: 'mfa-custodian', passphrase: PASS.mia }, pat)
  ).id;
  ids.max = (
    await enrolCustodian(vault, admin, { name: 'Max', organisation: 'Customer', role: 'mfa-custodian', passphrase: PASS.max }, pat)
  ).id;
  vault.close();
  // Its custody tables as the app before this change made them: migrations 0001–0004, an account, Pat on its password half.
  const old = join(dir, 'old-migrations');
  mkdirSync(old);
  for (const file of readdirSync(CUSTODY_MIGRATIONS).filter((f) => f < '0005'))
    copyFileSync(join(CUSTODY_MIGRATIONS, file), join(old, file));
  const db = openDatabase(join(dir, VAULT_FILE));
  expect(migrate(db, 'custody', old)).toBe(4);
  db.prepare(
    `INSERT INTO custody_accounts (id, alias, root_email, organisation, phone, notes, created_at, created_by) VALUES (?, 'prod', 'root@example.com', 'Customer', NULL, '', 1, ?)`,
  ).run(ACCOUNT, ids.ada);
  db.prepare(
    `INSERT INTO custody_assignments (account_id, item, custodian_id, assigned_at, assigned_by) VALUES (?, 'password', ?, 1, ?)`,
  ).run(ACCOUNT, ids.pat, ids.ada);
  expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'custody_organisations'").get()).toEqual({ n: 0 });
  db.close();
}, 180_000);

afterAll(async () => {
  if (vaultId) await keychain.delete(`device:${vaultId}`);
  rmSync(dir, { recursive: true, force: true });
});

describe('opening an old vault with organisations as free text', () => {
  it('merges names that differ in case and spacing into one record, links every custodian, and journals it', async () => {
    const vault = await Vault.open(dir, keychain);
    const custody = await CustodyService.open(vault);
    try {
      const orgs = custody.organisations.list();
      expect(orgs.map((o) => [o.name, o.origin, o.members.length])).toEqual([
        ['Customer', 'migrated', 1],
        ['DoiT', 'founding', 2],
        ['Provider', 'founding', 1],
      ]);
      const doit = orgs.find((o) => o.name === 'DoiT')!;
      expect(doit.members.sort()).toEqual([ids.pat, ids.mia].sort());
      // Mia typed "doit " (stored trimmed, "doit"): she is shown under the record's name now.
      expect(vault.custodians.get(ids.mia)?.organisation).toBe('DoiT');
      const adopted = vault.journal.query({ type: 'organisation.adopted' });
      expect(adopted.find((e) => e.data.name === 'DoiT')?.data).toMatchObject({
        organisation: doit.id,
        created: true,
        origin: 'founding',
        spellings: ['DoiT', 'doit'],
      });
      // The policy row comes from the vault's creation option.
      expect(custody.policy.current()).toEqual({ separateOrganisations: true, maxLeaseSeconds: 604_800, idleLockSeconds: 300 });
      // Rule 3 by id: Mia ("doit ") is refused the MFA half beside Pat ("DoiT"); Max (Customer) is not.
      await vault.custodians.unlock(ids.ada, PASS.ada);
      expect(() => custody.assignments.proposeAssign({ by: ids.ada, accountId: ACCOUNT, item: 'mfa', custodianId: ids.mia })).toThrow(
        /Rule 3 \(separate organisations\): organisation DoiT already holds or has seen the password half/,
      );
      expect(custody.assignments.proposeAssign({ by: ids.ada, accountId: ACCOUNT, item: 'mfa', custodianId: ids.max }).proposal.state).toBe(
        'open',
      );
      expect(verifyEntries(vault.journal.read()).failures).toEqual([]);
    } finally {
      await custody.close();
      vault.close();
    }
  });

  it('adopts once: opening it again changes nothing and journals nothing', async () => {
    const vault = await Vault.open(dir, keychain);
    const before = vault.journal.query({ type: 'organisation.adopted' }).length;
    const custody = await CustodyService.open(vault);
    try {
      expect(vault.journal.query({ type: 'organisation.adopted' })).toHaveLength(before);
      expect(custody.organisations.list()).toHaveLength(3);
    } finally {
      await custody.close();
      vault.close();
    }
  });
});
