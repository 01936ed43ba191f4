import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import {
  approvalProblem,
  eligibilityProblem,
  proposalSignatureMessage,
  TWO_PERSON_TYPES,
  type Approval,
} from '../../shared/journal/dual-control';
import type { Sodium } from '../../shared/sodium';
import type { Db } from '../base/database';
import type { JournalStore } from '../journal/store';
import type { Keychain } from '../keychain/keychain';
import { PRESENCE_WINDOW_MS, type CustodianDirectory, type CustodianRecord, type CustodianRole } from './custodians';
import { deviceAccount, writeDeviceMaster } from './device-key';

/** The journal entry type that records a use of the recovery key (a two-person entry). */
export const VAULT_RECOVERED = 'vault.recovered';

/** A custodian at the workstation during recovery, with the passphrase they typed themselves. */
export interface PresentCustodian {
  readonly custodianId: string;
  readonly passphrase: string;
}

/** What recovery needs of the vault it restores, once the recovery key has opened the device layer. */
export interface RecoveryContext {
  readonly db: Db;
  readonly vaultId: string;
  readonly journal: JournalStore;
  readonly custodians: CustodianDirectory;
  readonly roster: () => Parameters<typeof eligibilityProblem>[4];
  readonly sodium: Sodium;
  readonly now: () => number;
}

const rule = TWO_PERSON_TYPES[VAULT_RECOVERED]!;
const eligibleRoles: readonly string[] = [...new Set([...rule.proposers, ...rule.approvers])];

/** A custodian who may take part in a recovery, as the recovery screen lists them (public fields only). */
export interface RecoveryCandidate {
  readonly id: string;
  readonly name: string;
  readonly organisation: string;
  readonly role: CustodianRole;
}

/**
 * The live custodians of eligible roles, read from the custodians table without the device key:
 * ids, names, organisations and roles are stored in the clear (only keys are sealed), so the
 * recovery screen can offer them before anything can be opened.
 */
export function recoveryCandidates(db: Db): RecoveryCandidate[] {
  const rows = db.prepare('SELECT id, name, organisation, role, revoked FROM custodians ORDER BY rowid').all() as (RecoveryCandidate & {
    revoked: number;
  })[];
  return rows
    .filter((r) => r.revoked === 0 && eligibleRoles.includes(r.role))
    .map(({ id, name, organisation, role }) => ({ id, name, organisation, role }));
}

function label(c: { readonly name: string; readonly role: string }): string {
  return `${c.name} (${c.role})`;
}

function oneOf(people: readonly CustodianRecord[]): string {
  return people.length === 1 ? label(people[0]!) : `one of ${people.map(label).join(', ')}`;
}

function refuse(message: string): never {
  throw new HalfkeyError('NOT_PERMITTED', message, { rule: 'dual-control' });
}

/**
 * Who must be present to use the recovery key, checked before any passphrase is tried: two
 * distinct, live custodians of eligible roles (not reviewers). A refusal names the people who
 * could fill the missing place. Returns the pair in order: the first signs the statement, the
 * second the entry.
 */
export function recoveryPair(ctx: RecoveryContext, present: readonly PresentCustodian[]): readonly [CustodianRecord, CustodianRecord] {
  const eligible = ctx.custodians.list().filter((c) => !c.revoked && eligibleRoles.includes(c.role));
  if (eligible.length < 2) {
    refuse(
      `Using the recovery key takes two custodians present, and this vault has ${eligible.length === 0 ? 'none' : `only ${label(eligible[0]!)}`} ` +
        'who may take part; it cannot be recovered. A vault with fewer than two custodians holds no assigned half: create a new one.',
    );
  }
  const named = present.map((p) => {
    const custodian = ctx.custodians.get(p.custodianId);
    if (custodian === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${p.custodianId} in this vault.`);
    if (custodian.revoked) refuse(`${custodian.name} has been revoked and cannot take part in a recovery; choose ${oneOf(eligible)}.`);
    if (!eligibleRoles.includes(custodian.role))
      refuse(
        `${label(custodian)} cannot take part in a recovery: it takes two of the roles ${eligibleRoles.join(', ')}; choose ${oneOf(eligible)}.`,
      );
    return custodian;
  });
  const [first, second] = named;
  if (first === undefined) {
    refuse(
      'Using the recovery key takes two custodians present at this workstation, each entering their own passphrase: ' +
        `choose two of ${eligible.map(label).join(', ')}.`,
    );
  }
  const others = eligible.filter((c) => c.id !== first.id);
  if (second === undefined) {
    refuse(
      `Using the recovery key takes a second custodian: besides ${first.name}, ${oneOf(others)} must enter their own passphrase at this workstation.`,
    );
  }
  if (second.id === first.id)
    refuse(`${first.name} was named twice: a second, different custodian must enter their own passphrase (${oneOf(others)}).`);
  const problem = eligibilityProblem(VAULT_RECOVERED, {}, first.id, second.id, ctx.roster());
  if (problem !== null) refuse(`This recovery needs a second, eligible custodian: ${problem}.`);
  return [first, second];
}

/**
 * Applies a recovery: both custodians' passphrases are checked (each with the unlock back-off;
 * neither becomes the actor), the first signs the recovery statement and the second the entry,
 * then the device master is written to this machine's keychain and `vault.recovered` is journaled
 * with the keychain backend in the same transaction. If the journal write fails the keychain entry
 * is removed again, so a refused or failed recovery leaves the machine as it was.
 */
export async function applyRecovery(
  ctx: RecoveryContext,
  pair: readonly [CustodianRecord, CustodianRecord],
  present: readonly PresentCustodian[],
  keychain: Keychain,
  master: Uint8Array,
  backends: { readonly previous: string },
): Promise<void> {
  const [first, second] = pair;
  const passphraseOf = (id: string): string => present.find((p) => p.custodianId === id)!.passphrase;
  const { sodium, db, journal, vaultId, now } = ctx;
  const change: JsonObject = { keychainBackend: keychain.backend, previousKeychainBackend: backends.previous };
  await ctx.custodians.attest(first.id, passphraseOf(first.id), (_, firstSigner) =>
    ctx.custodians.attest(second.id, passphraseOf(second.id), async (__, secondSigner) => {
      const proposal = sodium.to_hex(sodium.randombytes_buf(16));
      // The journal never goes back in time (an entry is stamped no earlier than the one before), so neither does the statement.
      const proposedAt = Math.max(now(), journal.lastEntryTime() ?? 0);
      // Both are at the workstation now: the statement counts for one presence window, no longer.
      const expiresAt = proposedAt + PRESENCE_WINDOW_MS;
      const sig = sodium.to_hex(
        firstSigner.sign(
          proposalSignatureMessage(
            { vault: vaultId, type: VAULT_RECOVERED, proposal, proposer: first.id, proposedAt, expiresAt, change },
            sodium,
          ),
        ),
      );
      const approval: Approval = { proposal, proposer: first.id, approver: second.id, proposedAt, expiresAt, change, sig };
      const data: JsonObject = { ...change, approval: approval as unknown as JsonObject };
      // The verifier's own rule, asked before anything is written: the app never writes an entry that fails it.
      const problem = approvalProblem(
        { vault: vaultId, type: VAULT_RECOVERED, time: Math.max(now(), journal.lastEntryTime() ?? 0), actor: second.id, data },
        ctx.roster(),
        new Set([second.id]),
        sodium,
      );
      if (problem !== null) refuse(`The recovery cannot be applied: ${problem}.`);
      await writeDeviceMaster(keychain, vaultId, master, sodium);
      try {
        db.transaction(() => {
          db.prepare('UPDATE vault_meta SET keychain_backend = ? WHERE id = 1').run(keychain.backend);
          journal.append({ type: VAULT_RECOVERED, actor: { id: second.id, signer: secondSigner }, data });
        })();
      } catch (error) {
        await keychain.delete(deviceAccount(vaultId)).catch(() => false);
        throw error;
      }
    }),
  );
}
