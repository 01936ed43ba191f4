import type { ResponseOf } from '../../shared/api/contract';
import { HalfkeyError } from '../../shared/api/result';
import { FOUNDING_CUSTODIANS } from '../../shared/journal/dual-control';
import type { vaultChannels } from '../../shared/api/channels/vault';
import type { Handler } from '../app/router';
import type { CustodianRecord } from './custodians';
import { recoveryKeyQr } from './recovery-key';
import type { Vault } from './vault';
import type { VaultSession } from './vault-session';

type VaultChannel = keyof typeof vaultChannels;

function view(vault: Vault, custodian: CustodianRecord): ResponseOf<'custodian:unlock'> {
  const { id, name, organisation, role, signingKey, boxKey, revoked } = custodian;
  const timers = vault.custodians.timers(id);
  return {
    id,
    name,
    organisation,
    role,
    signingKey,
    boxKey,
    revoked,
    unlocked: vault.custodians.unlockedIds().includes(id),
    actor: vault.custodians.actor() === id,
    presentUntil: timers?.presentUntil ?? null,
    idleLocksAt: timers?.idleLocksAt ?? null,
  };
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
    'vault:recover': async ({ recoveryKey, custodians }) => identity(await session.recover(recoveryKey, custodians)),
    'vault:recovery-roster': () => ({ custodians: session.recoveryRoster() }),
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
    'custodian:enrol': async ({ by, passphrase, ...input }) => {
      const vault = session.require();
      if (vault.custodians.count() < FOUNDING_CUSTODIANS) {
        if (passphrase === undefined)
          throw new HalfkeyError('INVALID_PAYLOAD', `The second, founding custodian types their own passphrase to be enrolled.`, {
            field: 'passphrase',
          });
        return {
          custodian: view(vault, await vault.custodians.enrolFounding(vault.custodians.unlocked(by), { ...input, passphrase })),
          proposal: null,
        };
      }
      if (passphrase !== undefined) {
        throw new HalfkeyError(
          'INVALID_PAYLOAD',
          'An enrolment proposal takes no passphrase: the newcomer types their own when a second custodian approves it.',
          { field: 'passphrase' },
        );
      }
      const id = vault.proposals.newId();
      return { custodian: null, proposal: vault.proposals.propose(by, 'custodian.enrolled', { custodian: id, ...input }) };
    },
    'custodian:revoke': ({ by, custodianId, reason }) => {
      const vault = session.require();
      const target = vault.custodians.get(custodianId);
      if (target === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${custodianId} in this vault.`);
      return {
        proposal: vault.proposals.propose(by, 'custodian.revoked', { custodian: custodianId, signingKey: target.signingKey, reason }),
      };
    },
    'custodian:change-passphrase': async ({ custodianId, oldPassphrase, newPassphrase }) => {
      const vault = session.require();
      const changed = await vault.custodians.changePassphrase(custodianId, oldPassphrase, newPassphrase);
      return { custodianId: changed.id, changed: true as const };
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
