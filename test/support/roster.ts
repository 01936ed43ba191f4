import type { CustodianRecord, EnrolInput } from '../../electron/vault/custodians';
import type { Vault } from '../../electron/vault/vault';

/** A custodian who proposes or approves: their id and passphrase (test values). */
export interface Approver {
  readonly id: string;
  readonly passphrase: string;
}

/** Makes `who` the present actor (one unlock, one Argon2id derivation) unless they already are. */
export async function present(vault: Vault, who: Approver): Promise<void> {
  try {
    vault.custodians.present(who.id);
  } catch {
    await vault.custodians.unlock(who.id, who.passphrase);
  }
}

/**
 * Enrols a custodian as the product does: the founding second custodian alone, every later one by
 * a proposal of `by` (an admin, made present first) approved by `approver`, with the newcomer's own passphrase.
 * Costs one Argon2id derivation for the newcomer and, when approved, one for the approver.
 */
export async function enrolCustodian(vault: Vault, by: Approver, input: EnrolInput, approver: Approver | null): Promise<CustodianRecord> {
  await present(vault, by);
  if (vault.custodians.count() < 2) return vault.custodians.enrolFounding(vault.custodians.unlocked(by.id), input);
  if (approver === null) throw new Error('enrolCustodian: a third custodian needs an approver');
  const { passphrase, ...named } = input;
  const custodian = vault.proposals.newId();
  const proposal = vault.proposals.propose(by.id, 'custodian.enrolled', { custodian, ...named });
  await vault.proposals.approve({
    by: approver.id,
    proposalId: proposal.id,
    passphrase: approver.passphrase,
    newcomerPassphrase: passphrase,
  });
  return vault.custodians.get(custodian)!;
}

/** Revokes a custodian by a proposal of `by` (an admin, made present first) approved by `approver`. */
export async function revokeCustodian(
  vault: Vault,
  by: Approver,
  id: string,
  reason: string,
  approver: Approver,
): Promise<CustodianRecord> {
  await present(vault, by);
  const target = vault.custodians.get(id);
  if (target === null) throw new Error(`revokeCustodian: no custodian ${id}`);
  const proposal = vault.proposals.propose(by.id, 'custodian.revoked', { custodian: id, signingKey: target.signingKey, reason });
  await vault.proposals.approve({ by: approver.id, proposalId: proposal.id, passphrase: approver.passphrase });
  return vault.custodians.get(id)!;
}
