import type { ResponseOf } from '../../shared/api/contract';
import type { Handler } from '../router';
import type { CustodianRecord } from '../services/vault/custodians';
import { recoveryKeyQr } from '../services/vault/recovery-key';
import type { Vault } from '../services/vault/vault';
import type { VaultSession } from '../services/vault/vault-session';

type VaultChannel =
  | 'vault:create'
  | 'vault:open'
  | 'vault:recover'
  | 'vault:lock'
  | 'vault:custodian-list'
  | 'vault:custodian-enrol'
  | 'vault:custodian-revoke'
  | 'vault:custodian-unlock'
  | 'vault:custodian-lock';

function view(vault: Vault, custodian: CustodianRecord): ResponseOf<'vault:custodian-unlock'> {
  const { id, name, organisation, role, signingKey, boxKey, revoked } = custodian;
  return { id, name, organisation, role, signingKey, boxKey, revoked, unlocked: vault.custodians.unlockedIds().includes(id) };
}

/**
 * Handlers of the vault-core channels. Passphrases and the recovery key pass straight to the
 * vault and are never logged; vault:create returns the recovery key because the person asked to see it.
 */
export function vaultHandlers(session: VaultSession): { [C in VaultChannel]: Handler<C> } {
  const identity = (vault: Vault) => ({ vaultId: vault.id, keychainBackend: vault.keychainBackend });
  return {
    'vault:create': async ({ adminName, organisation, passphrase, separateOrganisations }) => {
      const { vault, recoveryKey, adminId } = await session.create({ admin: { name: adminName, organisation, passphrase }, options: { separateOrganisations } });
      const qr = await recoveryKeyQr(recoveryKey);
      return { ...identity(vault), adminId, recoveryKey, recoveryQr: qr.dataUrl };
    },
    'vault:open': async () => identity(await session.open()),
    'vault:recover': async ({ recoveryKey }) => identity(await session.recover(recoveryKey)),
    'vault:lock': () => {
      const vault = session.require();
      const locked = vault.custodians.unlockedIds();
      vault.lock();
      return { locked };
    },
    'vault:custodian-list': () => {
      const vault = session.require();
      return { custodians: vault.custodians.list().map((c) => view(vault, c)) };
    },
    'vault:custodian-enrol': async ({ by, ...input }) => {
      const vault = session.require();
      return view(vault, await vault.custodians.enrol(vault.custodians.unlocked(by), input));
    },
    'vault:custodian-revoke': ({ by, custodianId, reason }) => {
      const vault = session.require();
      return view(vault, vault.custodians.revoke(vault.custodians.unlocked(by), custodianId, reason));
    },
    'vault:custodian-unlock': async ({ custodianId, passphrase }) => {
      const vault = session.require();
      return view(vault, await vault.custodians.unlock(custodianId, passphrase));
    },
    'vault:custodian-lock': ({ custodianId }) => {
      const vault = session.require();
      const was = vault.custodians.unlockedIds().includes(custodianId);
      vault.custodians.lock(custodianId);
      return { locked: was };
    },
  };
}
