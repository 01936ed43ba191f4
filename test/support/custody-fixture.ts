import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { custodyChannels } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import type { RequestOf } from '../../shared/api/contract';
import type { Clipboard } from '../../electron/custody/clipboard';
import type { CustodyRequest } from '../../electron/custody/context';
import { CustodyService } from '../../electron/custody/custody-service';
import type { CustodyItem } from '../../shared/policy/four-eyes';
import type { ProposalView } from '../../electron/proposals/proposal-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { CustodianRole } from '../../electron/vault/custodians';
import { Vault } from '../../electron/vault/vault';
import { enrolCustodian, present, type Approver } from './roster';

/** Passphrases of the fixture's custodians (test values, never real). */
export const PASSPHRASES = {
  admin: 'amber lantern quietly folds 17',
  pat: 'copper heron beneath winter 42',
  pam: 'violet canyon echoes softly 08',
  mia: 'granite meadow whistles north 63',
  max: 'silver orchard drifts eastward 95',
} as const;

export type FixtureCustodian = keyof typeof PASSPHRASES;

/** The secrets fullAccount() sets (test values, never real); tests check they never reach the journal. */
export const HALF_PASSWORD = 'Initial-Root-Passw0rd!';
export const HALF_SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

/** How an account of the fixture checks out. */
export interface AccountOptions {
  readonly exclusive?: boolean;
  readonly rotate?: boolean;
}

const ROLES: Record<Exclude<FixtureCustodian, 'admin'>, { role: CustodianRole; organisation: string }> = {
  pat: { role: 'password-custodian', organisation: 'Customer' },
  pam: { role: 'password-custodian', organisation: 'Customer' },
  mia: { role: 'mfa-custodian', organisation: 'Provider' },
  max: { role: 'mfa-custodian', organisation: 'Provider' },
};

/** A real vault (real SQLite file, real keychain, real Argon2id) with custody open and five enrolled custodians. */
export interface CustodyFixture {
  readonly dir: string;
  readonly vault: Vault;
  readonly custody: CustodyService;
  /** Custodian ids by fixture name. */
  readonly ids: Readonly<Record<FixtureCustodian, string>>;
  /**
   * The clock of custody and of the vault (journal, idle lock, presence window, proposals), in ms;
   * tests move it forward to run leases out or to let the presence window pass.
   */
  readonly clock: { t: number };
  /**
   * Makes `name` the present actor, as a person does by typing their passphrase: one Argon2id
   * derivation unless they already are (one actor at a time: every other custodian is locked).
   */
  as(name: FixtureCustodian): Promise<void>;
  /** `name` approves a proposal with their own passphrase (they become the actor). */
  approve(proposalId: string, name: FixtureCustodian): Promise<{ proposal: ProposalView; seq: number }>;
  /**
   * Assigns an item as the product does: the admin proposes (made present first), `approver` — by
   * default the first fixture custodian who is not the subject — approves.
   */
  assign(
    item: CustodyItem,
    accountId: string,
    name: FixtureCustodian,
    approver?: FixtureCustodian,
  ): Promise<{ proposal: ProposalView; seq: number }>;
  /** `name`, the custodian of the half (made present), proposes confirming its pending rotation; `approver` applies it. */
  confirmRotation(
    item: 'password' | 'mfa',
    accountId: string,
    name: FixtureCustodian,
    approver: FixtureCustodian,
  ): Promise<{ proposal: ProposalView; seq: number }>;
  /** The admin (present) proposes an assignment and returns the proposal id; nothing applies until a second custodian approves. */
  proposeAssign(item: CustodyItem, accountId: string, name: FixtureCustodian): string;
  /** Adds an account (organisation Customer) as the admin, made the actor first. */
  addAccount(options?: AccountOptions): Promise<string>;
  /**
   * An account with pat on the password and mia on the MFA, both set (HALF_PASSWORD, HALF_SEED).
   * The admin proposes both assignments, each approved by the other custodian; pat, present from
   * approving, sets the password, then mia sets the seed and is the actor afterwards. Four Argon2id derivations.
   */
  fullAccount(options?: AccountOptions): Promise<string>;
  close(): Promise<void>;
}

/**
 * Creates the vault in a fresh folder and enrols pat and pam (password), mia and max (MFA). Costs one
 * Argon2id derivation per enrolment and per unlock: create it once per file, and switch actors
 * (`as`) only when the test needs another person.
 */
export async function openCustodyFixture(
  options: { only?: readonly FixtureCustodian[]; clipboard?: Clipboard } = {},
): Promise<CustodyFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-custody-'));
  const keychain = await openKeytarKeychain();
  const clock = { t: Date.now() };
  const created = await Vault.create(
    dir,
    keychain,
    { admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: PASSPHRASES.admin } },
    { now: () => clock.t },
  );
  const vault = created.vault;
  const admin = await vault.custodians.unlock(created.adminId, PASSPHRASES.admin);
  const ids: Record<string, string> = { admin: created.adminId };
  const wanted = (options.only ?? ['pat', 'pam', 'mia', 'max']).filter((n): n is Exclude<FixtureCustodian, 'admin'> => n !== 'admin');
  // The first custodian after the admin is the founding one; each later enrolment is approved by it.
  let approver: Approver | null = null;
  for (const name of wanted) {
    const record = await enrolCustodian(
      vault,
      { id: admin.id, passphrase: PASSPHRASES.admin },
      { name, organisation: ROLES[name].organisation, role: ROLES[name].role, passphrase: PASSPHRASES[name] },
      approver,
    );
    approver ??= { id: record.id, passphrase: PASSPHRASES[name] };
    ids[name] = record.id;
  }
  const custody = await CustodyService.open(vault, { now: () => clock.t, ...(options.clipboard ? { clipboard: options.clipboard } : {}) });
  const known = ids as Record<FixtureCustodian, string>;
  const as = (name: FixtureCustodian): Promise<void> => present(vault, { id: known[name], passphrase: PASSPHRASES[name] });
  const approve = (proposalId: string, name: FixtureCustodian) =>
    vault.proposals.approve({ by: known[name], proposalId, passphrase: PASSPHRASES[name] });
  const proposeAssign = (item: CustodyItem, accountId: string, name: FixtureCustodian): string =>
    custody.assignments.proposeAssign({ by: known.admin, accountId, item, custodianId: known[name] }).proposal.id;
  const addAccount = async (account: AccountOptions = {}): Promise<string> => {
    await as('admin');
    const id = freshAccountId();
    custody.accounts.add(
      routed('custody:account-add', {
        by: known.admin,
        accountId: id,
        alias: `acct-${id}`,
        rootEmail: `Root+${id}@Example.com`,
        organisation: 'Customer',
        notes: 'secret-free notes',
        exclusiveCheckout: account.exclusive ?? false,
        rotateAfterCheckout: account.rotate ?? false,
      }),
    );
    return id;
  };
  return {
    dir,
    vault,
    custody,
    ids: known,
    clock,
    as,
    approve,
    assign: async (item, accountId, name, approver) => {
      await as('admin');
      const { proposal } = custody.assignments.proposeAssign({ by: known.admin, accountId, item, custodianId: known[name] });
      const second = approver ?? wanted.find((other) => other !== name);
      if (second === undefined) throw new Error('assign: the fixture has no second custodian to approve');
      return approve(proposal.id, second);
    },
    confirmRotation: async (item, accountId, name, approver) => {
      await as(name);
      const { proposal } = custody.rotations.proposeConfirm({ by: known[name], accountId, item });
      return approve(proposal.id, approver);
    },
    proposeAssign,
    addAccount,
    fullAccount: async (account = {}) => {
      const id = await addAccount(account);
      const password = proposeAssign('password', id, 'pat');
      const mfa = proposeAssign('mfa', id, 'mia');
      await approve(password, 'mia');
      await approve(mfa, 'pat');
      custody.halves.set({ by: known.pat, accountId: id, item: 'password', secret: { kind: 'password', password: HALF_PASSWORD } });
      await as('mia');
      custody.halves.set({ by: known.mia, accountId: id, item: 'mfa', secret: { kind: 'totp', seed: HALF_SEED } });
      return id;
    },
    close: async () => {
      await custody.close();
      vault.close();
      await keychain.delete(`device:${vault.id}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let nextAccount = 100_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;

/** Runs `run` and returns the HalfkeyError it throws; fails the test if it succeeds or throws anything else. */
export async function refusal(run: () => unknown): Promise<HalfkeyError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof HalfkeyError) return error;
    throw error;
  }
  throw new Error('expected the action to be refused');
}

/** A fresh 12-digit account id, distinct within a test run. */
export function freshAccountId(): string {
  nextAccount += 1;
  return String(nextAccount);
}

/** A custody request as the router hands it to the service: checked against its channel's schema, defaults filled in. */
export function routed<C extends keyof typeof custodyChannels>(channel: C, payload: RequestOf<C>): CustodyRequest<C> {
  return custodyChannels[channel].request.parse(payload) as CustodyRequest<C>;
}
