import type { ResponseOf } from '../../shared/api/contract';
import type { vaultChannels } from '../../shared/api/channels/vault';
import type { Handler } from '../app/router';
import type { CustodianRecord } from './custodians';
import { recoveryKeyQr } from './recovery-key';
import type { Vault } from './vault';
import type { VaultSession } from './vault-session';

type VaultChannel = keyof typeof vaultChannels;

function view(vault: Vault, custodian: CustodianRecord): ResponseOf<'custodian:unlock'> {
  const { id, name, organisation, role, signingKey, boxKey, revoked } = custodian;
  return { id, name, organisation, role, signingKey, boxKey, revoked, unlocked: vault.custodians.unlockedIds().includes(id) };
}

/**
 * Handlers of the vault and custodian channels. Passphrases and the recovery key pass straight to the
 * vault and are never logged; vault:create returns the recovery key because the person asked to see it.
 */
export function vaultHandlers(session: VaultSession): { [C in VaultChannel]: Handler<C> } {
  const identity = (vault: Vault) => ({ vaultId: vault.id, keychainBackend: vault.keychainBackend });
  return {
    'vault:create': async ({ adminName, organisation, passphrase, separateOrganisations }) => {
      const { vault, recoveryKey, adminId } = await session.create({
        admin: { name: adminName, organisation, passphrase },
        options: { separateOrganisations },
      });
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
    'custodian:list': () => {
      const vault = session.require();
      return { custodians: vault.custodians.list().map((c) => view(vault, c)) };
    },
    'custodian:enrol': async ({ by, ...input }) => {
      const vault = session.require();
      return view(vault, await vault.custodians.enrol(vault.custodians.unlocked(by), input));
    },
    'custodian:revoke': ({ by, custodianId, reason }) => {
      const vault = session.require();
      return view(vault, vault.custodians.revoke(vault.custodians.unlocked(by), custodianId, reason));
    },
    'custodian:unlock': async ({ custodianId, passphrase }) => {
      const vault = session.require();
      return view(vault, await vault.custodians.unlock(custodianId, passphrase));
    },
    'custodian:lock': ({ custodianId }) => {
      const vault = session.require();
      const was = vault.custodians.unlockedIds().includes(custodianId);
      vault.custodians.lock(custodianId);
      return { locked: was };
    },
  };
}
