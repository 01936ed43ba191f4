import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { custodyChannels } from '../../shared/api/channels/custody';
import type { RequestOf } from '../../shared/api/contract';
import type { Clipboard } from '../../electron/custody/clipboard';
import type { CustodyRequest } from '../../electron/custody/context';
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { CustodianRole } from '../../electron/vault/custodians';
import { Vault } from '../../electron/vault/vault';

/** Passphrases of the fixture's custodians (test values, never real). */
export const PASSPHRASES = {
  admin: 'amber lantern quietly folds 17',
  pat: 'copper heron beneath winter 42',
  pam: 'violet canyon echoes softly 08',
  mia: 'granite meadow whistles north 63',
  max: 'silver orchard drifts eastward 95',
} as const;

export type FixtureCustodian = keyof typeof PASSPHRASES;

const ROLES: Record<Exclude<FixtureCustodian, 'admin'>, { role: CustodianRole; organisation: string }> = {
  pat: { role: 'password-custodian', organisation: 'Customer' },
  pam: { role: 'password-custodian', organisation: 'Customer' },
  mia: { role: 'mfa-custodian', organisation: 'Provider' },
  max: { role: 'mfa-custodian', organisation: 'Provider' },
};

/** A real vault (real SQLite file, real keychain, real Argon2id) with custody open and five unlocked custodians. */
export interface CustodyFixture {
  readonly dir: string;
  readonly vault: Vault;
  readonly custody: CustodyService;
  /** Custodian ids by fixture name. */
  readonly ids: Readonly<Record<FixtureCustodian, string>>;
  /** The custody clock (ms); tests move it forward to run leases out. */
  readonly clock: { t: number };
  close(): Promise<void>;
}

/**
 * Creates the vault in a fresh folder, enrols pat and pam (password), mia and max (MFA), unlocks
 * all five. Costs one Argon2id derivation per enrolment and per unlock: create it once per file.
 */
export async function openCustodyFixture(
  options: { only?: readonly FixtureCustodian[]; clipboard?: Clipboard } = {},
): Promise<CustodyFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-custody-'));
  const keychain = await openKeytarKeychain();
  const created = await Vault.create(dir, keychain, {
    admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: PASSPHRASES.admin },
  });
  const vault = created.vault;
  const admin = await vault.custodians.unlock(created.adminId, PASSPHRASES.admin);
  const ids: Record<string, string> = { admin: created.adminId };
  const wanted = (options.only ?? ['pat', 'pam', 'mia', 'max']).filter((n): n is Exclude<FixtureCustodian, 'admin'> => n !== 'admin');
  for (const name of wanted) {
    const record = await vault.custodians.enrol(admin, {
      name,
      organisation: ROLES[name].organisation,
      role: ROLES[name].role,
      passphrase: PASSPHRASES[name],
    });
    await vault.custodians.unlock(record.id, PASSPHRASES[name]);
    ids[name] = record.id;
  }
  const clock = { t: Date.now() };
  const custody = await CustodyService.open(vault, { now: () => clock.t, ...(options.clipboard ? { clipboard: options.clipboard } : {}) });
  return {
    dir,
    vault,
    custody,
    ids: ids as Record<FixtureCustodian, string>,
    clock,
    close: async () => {
      await custody.close();
      vault.close();
      await keychain.delete(`device:${vault.id}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let nextAccount = 100_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;

/** A fresh 12-digit account id, distinct within a test run. */
export function freshAccountId(): string {
  nextAccount += 1;
  return String(nextAccount);
}

/** A custody request as the router hands it to the service: checked against its channel's schema, defaults filled in. */
export function routed<C extends keyof typeof custodyChannels>(channel: C, payload: RequestOf<C>): CustodyRequest<C> {
  return custodyChannels[channel].request.parse(payload) as CustodyRequest<C>;
}
