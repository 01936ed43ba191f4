import { fileURLToPath } from 'node:url';
import { HalfkeyError } from '../../shared/api/result';
import { canonicalize, type JsonObject } from '../../shared/journal/canonical';
import {
  approvalProblem,
  eligibilityProblem,
  proposalSignatureMessage,
  proposerProblem,
  TWO_PERSON_TYPES,
  type Approval,
} from '../../shared/journal/dual-control';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import type { Sodium } from '../../shared/sodium';
import { migrate, type Db } from '../base/database';
import type { AppendInput } from '../journal/store';
import type { UnlockedCustodian } from '../vault/custodians';
import { ProposalStore, type ProposalRecord, type ProposalState } from './proposal-store';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** How long a proposal waits for its second custodian by default. */
export const DEFAULT_PROPOSAL_TTL_MS = 24 * 60 * 60_000;

/** What applying an approved change may use. */
export interface ApplyRun {
  /** The second custodian, unlocked with the passphrase they gave for this approval. */
  readonly approver: UnlockedCustodian;
  /** The newcomer's own passphrase (enrolments only). */
  readonly newcomerPassphrase: string | undefined;
  /**
   * Journals the entry that applies the change — data = change + details + approval, signed by the
   * device, the approver and any co-signers — and marks the proposal applied. Call it inside the
   * transaction that makes the change, so the two commit together or not at all.
   */
  commit(details?: JsonObject, cosigners?: readonly { readonly id: string; readonly signer: EntrySigner }[]): SignedEntry;
}

/** One kind of two-person change: how it reads, what must hold before it is approved, how it is applied. */
export interface ChangeKind {
  /** One line a person can read. */
  describe(change: JsonObject): string;
  /** Domain checks (the target exists, is not already revoked, …); throws a HalfkeyError naming the problem. */
  check(change: JsonObject): void;
  /** Makes the change and calls run.commit() in the same transaction. */
  apply(change: JsonObject, run: ApplyRun): Promise<{ readonly seq: number }> | { readonly seq: number };
}

export interface ProposalContext {
  readonly db: Db;
  readonly vaultId: string;
  readonly journal: { append(input: AppendInput): SignedEntry };
  readonly custodians: {
    unlocked(id: string): UnlockedCustodian;
    present(id: string): UnlockedCustodian;
    unlock(id: string, passphrase: string): Promise<UnlockedCustodian>;
  };
  readonly sodium: Sodium;
  readonly now: () => number;
}

export interface ProposalView extends Omit<ProposalRecord, 'sig'> {
  readonly summary: string;
}

/**
 * Dual control: every change of who holds what is a proposal signed by one custodian and applied
 * only when a second, distinct, eligible custodian approves it with their own passphrase. The
 * entry that applies it carries both signatures (shared/journal/dual-control.ts), and is checked
 * against the verifier's own rule before it is written, so the app never writes what fails.
 */
export class ProposalService {
  private readonly store: ProposalStore;
  private readonly kinds = new Map<string, ChangeKind>();

  constructor(private readonly ctx: ProposalContext) {
    migrate(ctx.db, 'proposals', MIGRATIONS);
    this.store = new ProposalStore(ctx.db);
  }

  /** Registers how one two-person entry type is applied (each feature registers its own). */
  register(type: string, kind: ChangeKind): void {
    if (TWO_PERSON_TYPES[type] === undefined) throw new Error(`${type} is not a two-person entry type`);
    this.kinds.set(type, kind);
  }

  /**
   * Wraps how an already registered type applies: a feature adds its part to another feature's
   * change (custody links a newcomer to their organisation record in the enrolment's transaction).
   */
  extend(type: string, wrap: (inner: ChangeKind) => ChangeKind): void {
    this.kinds.set(type, wrap(this.kind(type)));
  }

  /** A fresh random id (32 hex) for something a proposal creates, such as a new custodian. */
  newId(): string {
    return this.ctx.sodium.to_hex(this.ctx.sodium.randombytes_buf(16));
  }

  /** The roster dual control reads (also used by features that allow a founding change). */
  roster(): ReturnType<ProposalStore['roster']> {
    return this.store.roster();
  }

  /** Proposes a change: signed by `by` (present: passphrase within the presence window), journaled as `proposal.created`, applied by nobody yet. */
  propose(
    by: string,
    type: string,
    change: JsonObject,
    options: { readonly account?: string | null; readonly ttlMs?: number } = {},
  ): ProposalView {
    const kind = this.kind(type);
    // Presence, not just an unlocked session: a proposal signed from a session someone else left
    // open, then approved by that someone, would be one person's change.
    const proposer = this.ctx.custodians.present(by);
    if (proposer.revoked) throw new HalfkeyError('NOT_PERMITTED', `${proposer.name} has been revoked and can no longer propose changes.`);
    // The account is part of what the proposer signs: the entry's data carries it too.
    if (options.account != null) change = { ...change, account: options.account };
    const problem = proposerProblem(type, change, proposer.id, this.store.roster());
    if (problem !== null)
      throw new HalfkeyError('NOT_PERMITTED', `${proposer.name} cannot propose this: ${problem}.`, { rule: 'dual-control' });
    kind.check(change);
    const { sodium, now, db, journal, vaultId } = this.ctx;
    const proposedAt = now();
    const expiresAt = proposedAt + (options.ttlMs ?? DEFAULT_PROPOSAL_TTL_MS);
    const id = this.newId();
    const sig = sodium.to_hex(
      proposer.signer.sign(
        proposalSignatureMessage({ vault: vaultId, type, proposal: id, proposer: proposer.id, proposedAt, expiresAt, change }, sodium),
      ),
    );
    const account = options.account ?? null;
    db.transaction(() => {
      this.store.insert({ id, type, account, change, proposer: proposer.id, proposedAt, expiresAt, sig }, canonicalize(change));
      journal.append({
        type: 'proposal.created',
        actor: { id: proposer.id, signer: proposer.signer },
        account,
        data: { proposal: id, type, change, expiresAt },
      });
    })();
    return this.view(this.store.get(id)!);
  }

  /**
   * A second custodian approves: eligibility first (before any passphrase is checked), then their
   * passphrase (they become the acting custodian), then the change is applied and journaled with
   * both signatures.
   */
  async approve(request: {
    readonly by: string;
    readonly proposalId: string;
    readonly passphrase: string;
    readonly newcomerPassphrase?: string | undefined;
  }): Promise<{ proposal: ProposalView; seq: number }> {
    const proposal = this.openProposal(request.proposalId);
    const kind = this.kind(proposal.type);
    const problem = eligibilityProblem(proposal.type, proposal.change, proposal.proposer, request.by, this.store.roster());
    if (problem !== null)
      throw new HalfkeyError('NOT_PERMITTED', `This proposal needs a second, eligible custodian: ${problem}.`, {
        rule: 'dual-control',
        proposalId: proposal.id,
      });
    kind.check(proposal.change);
    const approver = await this.ctx.custodians.unlock(request.by, request.passphrase);
    const entry = await kind.apply(proposal.change, {
      approver,
      newcomerPassphrase: request.newcomerPassphrase,
      commit: (details = {}, cosigners = []) => this.commitApproved(this.openProposal(proposal.id), approver, details, cosigners),
    });
    return { proposal: this.view(this.store.get(proposal.id)!), seq: entry.seq };
  }

  /** The proposer withdraws an open proposal (journaled). */
  withdraw(by: string, proposalId: string, reason: string): ProposalView {
    const actor = this.ctx.custodians.unlocked(by);
    const proposal = this.openProposal(proposalId);
    if (proposal.proposer !== actor.id) throw new HalfkeyError('NOT_PERMITTED', `Only the proposer may withdraw proposal ${proposalId}.`);
    this.ctx.db.transaction(() => {
      this.store.decide(proposalId, 'withdrawn', actor.id, this.ctx.now());
      this.ctx.journal.append({
        type: 'proposal.withdrawn',
        actor: { id: actor.id, signer: actor.signer },
        account: proposal.account,
        data: { proposal: proposalId, reason },
      });
    })();
    return this.view(this.store.get(proposalId)!);
  }

  list(filter: { readonly state?: ProposalState | undefined; readonly limit?: number } = {}): ProposalView[] {
    this.expire();
    return this.store.list(filter.state ?? 'open', filter.limit ?? 100).map((p) => this.view(p));
  }

  /** Marks open proposals past their time as expired (journaled by the device); returns how many. */
  expire(): number {
    const now = this.ctx.now();
    const expired = this.store.expiredOpen(now);
    if (expired.length === 0) return 0;
    this.ctx.db.transaction(() => {
      for (const p of expired) {
        if (this.store.decide(p.id, 'expired', null, now))
          this.ctx.journal.append({ type: 'proposal.expired', account: p.account, data: { proposal: p.id, expiresAt: p.expiresAt } });
      }
    })();
    return expired.length;
  }

  private commitApproved(
    proposal: ProposalRecord,
    approver: UnlockedCustodian,
    details: JsonObject,
    cosigners: readonly { readonly id: string; readonly signer: EntrySigner }[],
  ): SignedEntry {
    const { change, proposer, proposedAt, expiresAt, sig, id } = proposal;
    const approval: Approval = { proposal: id, proposer, approver: approver.id, proposedAt, expiresAt, change, sig };
    const data: JsonObject = { ...change, ...details, approval: approval as unknown as JsonObject };
    const time = this.ctx.now();
    // The verifier's own rule, asked before writing: an entry the app writes never fails it.
    const problem = approvalProblem(
      { vault: this.ctx.vaultId, type: proposal.type, time, actor: approver.id, data },
      this.store.roster(),
      new Set([approver.id, ...cosigners.map((c) => c.id)]),
      this.ctx.sodium,
    );
    if (problem !== null)
      throw new HalfkeyError('NOT_PERMITTED', `The change cannot be applied: ${problem}.`, { rule: 'dual-control', proposalId: id });
    if (!this.store.decide(id, 'applied', approver.id, time))
      throw new HalfkeyError('CONFLICT', `Proposal ${id} was decided meanwhile.`, { proposalId: id });
    return this.ctx.journal.append({
      type: proposal.type,
      actor: { id: approver.id, signer: approver.signer },
      cosigners: cosigners.map((c) => c.signer),
      account: proposal.account,
      data,
    });
  }

  private openProposal(id: string): ProposalRecord {
    this.expire();
    const proposal = this.store.get(id);
    if (proposal === null) throw new HalfkeyError('NOT_FOUND', `There is no proposal ${id} in this vault.`);
    if (proposal.state !== 'open')
      throw new HalfkeyError('CONFLICT', `Proposal ${id} is ${proposal.state}; it can no longer be approved or withdrawn.`, {
        proposalId: id,
        state: proposal.state,
      });
    return proposal;
  }

  private kind(type: string): ChangeKind {
    const kind = this.kinds.get(type);
    if (kind === undefined) throw new HalfkeyError('UNSUPPORTED', `Changes of type ${type} cannot be proposed in this vault.`);
    return kind;
  }

  private view(p: ProposalRecord): ProposalView {
    const { sig: _sig, ...rest } = p;
    return { ...rest, summary: this.kinds.get(p.type)?.describe(p.change) ?? p.type };
  }
}
