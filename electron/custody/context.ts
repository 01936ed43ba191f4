import type { custodyChannels } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import { checkCheckout, type CustodyItem, type PolicyState } from '../../shared/policy/four-eyes';
import type { Sodium } from '../../shared/sodium';
import type { z } from 'zod';
import type { Db } from '../base/database';
import type { AppendInput } from '../journal/store';
import type { ProposalService } from '../proposals/proposal-service';
import type { CustodianRecord, CustodianRole, UnlockedCustodian } from '../vault/custodians';
import type { AccountRow, CustodyStore, SecretHalf } from './custody-store';
import { organisationKey, type OrganisationStore } from './organisation-store';
import { enforce, Refusal } from './refusal';

/**
 * A custody channel's request as the router hands it on: checked against the channel's schema,
 * defaults filled in. The custody services take it as it is and never check it again.
 */
export type CustodyRequest<C extends keyof typeof custodyChannels> = z.output<(typeof custodyChannels)[C]['request']>;

/**
 * The parts of an open vault the custody service uses. `Vault` satisfies it; naming
 * only these parts keeps custody's reach into the vault visible in one place.
 */
export interface CustodyVault {
  readonly db: Db;
  readonly journal: { append(input: AppendInput): SignedEntry };
  readonly device: {
    seal(plaintext: Uint8Array, aad: string): Uint8Array;
    open(ciphertext: Uint8Array, aad: string): Uint8Array;
  };
  readonly options: { readonly separateOrganisations: boolean };
  readonly custodians: {
    list(): CustodianRecord[];
    get(id: string): CustodianRecord | null;
    unlocked(id: string): UnlockedCustodian;
    present(id: string): UnlockedCustodian;
    /** An approved custodian.role-changed: sets the role and journals it (write) in one transaction. */
    applyRoleChange(id: string, role: CustodianRole, write: () => void): void;
    /** Shows a custodian under their organisation record's name. */
    setOrganisationName(id: string, name: string): void;
    /** The vault policy's idle lock. */
    setIdleLockMs(ms: number): void;
  };
  /**
   * Two-person changes: custody proposes assignments, re-seals, seed exports, roles, organisations
   * and policy here, registers how they apply, and extends the vault's enrolment with the organisation link.
   */
  readonly proposals: Pick<ProposalService, 'propose' | 'register' | 'extend' | 'newId'>;
}

/**
 * What every custody operation runs against (the vault, custody's store, the clock, libsodium) and
 * the steps each one takes: who is acting, what the four-eyes policy allows, the journal entry, and
 * a refusal journaled even though the change it refused rolled back.
 */
export class CustodyContext {
  constructor(
    readonly vault: CustodyVault,
    readonly store: CustodyStore,
    readonly now: () => number,
    readonly sodium: Sodium,
    /** Organisations, custodians' membership, the vault policy and the accounts' channel organisations. */
    readonly organisations: OrganisationStore,
  ) {}

  /** The acting custodian, who must be the unlocked actor of this session and not revoked. */
  actingCustodian(id: string): UnlockedCustodian {
    return notRevoked(this.vault.custodians.unlocked(id));
  }

  /**
   * The acting custodian, present: their passphrase was entered within the presence window
   * (PRESENCE_REQUIRED otherwise). Every call that opens a half asks for this, so a session left
   * unlocked is not enough to see a secret.
   */
  presentCustodian(id: string): UnlockedCustodian {
    return notRevoked(this.vault.custodians.present(id));
  }

  /** Appends one journal entry, joining the caller's open transaction; co-signed by the actor when there is one. */
  journal(type: string, actor: UnlockedCustodian | null, account: string | null, data: JsonObject): void {
    this.vault.journal.append({ type, actor: actor === null ? null : { id: actor.id, signer: actor.signer }, account, data });
  }

  /** The account, or a NOT_FOUND error naming it. */
  requireAccount(accountId: string): AccountRow {
    const account = this.store.account(accountId);
    if (account === null)
      throw new HalfkeyError('NOT_FOUND', `There is no account ${accountId} in this vault; add it first.`, { accountId });
    return account;
  }

  /** A fresh random id: 16 bytes as 32 lowercase hex characters. */
  newId(): string {
    return this.sodium.to_hex(this.sodium.randombytes_buf(16));
  }

  /**
   * The four-eyes policy's view of one account, read inside the caller's transaction so the
   * decision and the change it allows see the same state. Rules only ever relate items of the
   * same account, so other accounts' rows are left out.
   */
  policyState(accountId: string): PolicyState {
    const channels = this.organisations.channelOrganisations(accountId);
    return {
      ...this.rosterState(),
      ...this.store.custodyOf(accountId),
      channelOrganisations: (['email', 'phone'] as const).flatMap((item) =>
        channels[item] === null ? [] : [{ accountId, item, organisation: channels[item] }],
      ),
    };
  }

  /** The policy's view of every account at once (a custodian's organisation change, switching rule 3 on). */
  vaultPolicyState(): PolicyState {
    const { assignments, seen } = this.organisations.allCustody();
    const asRefs = (rows: typeof assignments) => rows.map((r) => ({ ...r, item: r.item as CustodyItem }));
    return {
      ...this.rosterState(),
      assignments: asRefs(assignments),
      seen: asRefs(seen),
      channelOrganisations: this.organisations.allChannelOrganisations(),
    };
  }

  /**
   * The vault policy's rule 3 switch and the custodians as rule 3 compares them: by organisation
   * record id (a custodian not yet linked, which adoption at open rules out, by their folded name).
   */
  private rosterState(): Pick<PolicyState, 'separateOrganisations' | 'custodians' | 'organisationNames'> {
    const members = this.organisations.memberships();
    const names: Record<string, string> = {};
    for (const o of this.organisations.list()) names[o.id] = o.name;
    const custodians = this.vault.custodians.list().map((c) => {
      const organisation = members.get(c.id) ?? `unlinked:${organisationKey(c.organisation)}`;
      names[organisation] ??= c.organisation;
      return { id: c.id, organisation, role: c.role, name: c.name, revoked: c.revoked };
    });
    const policy = this.organisations.policy();
    const separateOrganisations = policy === null ? this.vault.options.separateOrganisations : policy.separate_organisations === 1;
    return { separateOrganisations, custodians, organisationNames: names };
  }

  /** The live (not revoked) custodians assigned an item: whom a new secret of it is sealed to. */
  liveAssignees(accountId: string, item: SecretHalf): CustodianRecord[] {
    return this.store
      .assignees(accountId, item)
      .map((id) => this.vault.custodians.get(id))
      .filter((c): c is CustodianRecord => c !== null && !c.revoked);
  }

  /** Refuses `action` (POLICY_REFUSED) unless the four-eyes rules let the actor obtain the item now. */
  mayObtain(actor: UnlockedCustodian, accountId: string, item: SecretHalf, action: string): void {
    enforce(checkCheckout(this.policyState(accountId), { accountId, item, custodianId: actor.id }), action, actor.id);
  }

  /**
   * Runs `change` in one transaction; a Refusal rolls it back, is journaled as `custody.refused` in a
   * transaction of its own, and surfaces as a HalfkeyError, so a refused action leaves no change but
   * always leaves its entry. Changes take the write lock up front (`immediate`), so the state the
   * policy reads cannot move before the write; a read-only check (`deferred`) does not block other writers.
   */
  refusable<T>(actor: UnlockedCustodian, change: () => T, mode: 'immediate' | 'deferred' = 'immediate'): T {
    try {
      return this.store.transaction(change, mode);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      const { action, accountId, item, custodianId, rule, ruleName, message } = error.facts;
      this.store.transaction(
        () => this.journal('custody.refused', actor, accountId, { action, item, custodian: custodianId, rule, ruleName, message }),
        'immediate',
      );
      throw error.toError();
    }
  }
}

function notRevoked(custodian: UnlockedCustodian): UnlockedCustodian {
  if (custodian.revoked)
    throw new HalfkeyError('NOT_PERMITTED', `Custodian ${custodian.id} has been revoked and can no longer act in this vault.`);
  return custodian;
}
