import type { CustodianRecord, EnrolInput } from '../../electron/vault/custodians';
import type { Vault } from '../../electron/vault/vault';

/** A custodian who approves: their id and passphrase (test values). */
export interface Approver {
  readonly id: string;
  readonly passphrase: string;
}

/**
 * Enrols a custodian as the product does: the founding second custodian alone, every later one by
 * a proposal of `by` (an unlocked admin) approved by `approver`, with the newcomer's own passphrase.
 * Costs one Argon2id derivation for the newcomer and, when approved, one for the approver.
 */
export async function enrolCustodian(vault: Vault, by: string, input: EnrolInput, approver: Approver | null): Promise<CustodianRecord> {
  if (vault.custodians.count() < 2) return vault.custodians.enrolFounding(vault.custodians.unlocked(by), input);
  if (approver === null) throw new Error('enrolCustodian: a third custodian needs an approver');
  const { passphrase, ...named } = input;
  const custodian = vault.proposals.newId();
  const proposal = vault.proposals.propose(by, 'custodian.enrolled', { custodian, ...named });
  await vault.proposals.approve({ by: approver.id, proposalId: proposal.id, passphrase: approver.passphrase, newcomerPassphrase: passphrase });
  return vault.custodians.get(custodian)!;
}

/** Revokes a custodian by a proposal of `by` (an unlocked admin) approved by `approver`. */
export async function revokeCustodian(vault: Vault, by: string, id: string, reason: string, approver: Approver): Promise<CustodianRecord> {
  const target = vault.custodians.get(id);
  if (target === null) throw new Error(`revokeCustodian: no custodian ${id}`);
  const proposal = vault.proposals.propose(by, 'custodian.revoked', { custodian: id, signingKey: target.signingKey, reason });
  await vault.proposals.approve({ by: approver.id, proposalId: proposal.id, passphrase: approver.passphrase });
  return vault.custodians.get(id)!;
}
