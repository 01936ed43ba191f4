import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { checkAssignment, CUSTODY_ITEMS, describeItem, type CustodyItem } from '../../shared/policy/four-eyes';
import type { ApplyRun, ChangeKind, ProposalView } from '../proposals/proposal-service';
import type { CustodianRecord, UnlockedCustodian } from '../vault/custodians';
import type { CustodyContext, CustodyRequest } from './context';
import type { HalfRow, SecretHalf } from './custody-store';
import { enforce, Refusal } from './refusal';
import { openHalf, sealHalf } from './sealing';

/** Who is to gain or lose which item of which account: the change an admin proposes and the entry journals. */
interface AssignmentChange {
  readonly account: string;
  readonly item: CustodyItem;
  readonly custodian: string;
}

/** A re-seal names the generation it seals, so a rotation in between voids it. */
interface ResealChange extends AssignmentChange {
  readonly item: SecretHalf;
  readonly generation: number;
}

/** What every assignment channel names: the proposing admin, the account, the item and the custodian. */
type AssignmentRequest = { readonly by: string; readonly accountId: string; readonly item: CustodyItem; readonly custodianId: string };

/**
 * Who holds which item, as two-person changes (docs/custody.md, "Dual control"): an admin proposes
 * an assignment, an unassignment or a re-seal, a second custodian (never the one it is about)
 * approves it with their own passphrase, and only then is it applied and journaled with both
 * signatures. The four-eyes policy is asked when proposing, so a doomed proposal is refused (and
 * journaled) at once, and again when applying, inside the transaction that writes the change.
 */
export class Assignments {
  constructor(private readonly ctx: CustodyContext) {}

  /** Registers how custody's two-person changes apply with the vault's proposal service. */
  register(): void {
    const { proposals } = this.ctx.vault;
    const describe = (c: AssignmentChange): string => `the ${describeItem(c.item)} of account ${c.account}`;
    proposals.register(
      'custody.assigned',
      this.kind(
        assignmentOf,
        (c) => `Assign ${describe(c)} to ${this.name(c.custodian)}`,
        (c) => this.checkAssign(c),
        (c, run) => this.applyAssign(c, run),
      ),
    );
    proposals.register(
      'custody.unassigned',
      this.kind(
        assignmentOf,
        (c) => `Take ${describe(c)} from ${this.name(c.custodian)}`,
        (c) => this.checkUnassign(c),
        (c, run) => this.applyUnassign(c, run),
      ),
    );
    proposals.register(
      'half.resealed',
      this.kind(
        resealOf,
        (c) => `Seal ${describe(c)} (generation ${c.generation}) to ${this.name(c.custodian)}`,
        (c) => this.checkReseal(c),
        (c, run) => this.applyReseal(c, run),
      ),
    );
  }

  /** Proposes giving an item to a custodian; refused at once (and journaled) if the policy would refuse it now. */
  proposeAssign(request: CustodyRequest<'custody:assign'>): { proposal: ProposalView } {
    const change = changeOf(request);
    return this.propose(request, 'assign', 'assign custody', 'custody.assigned', change, () => {
      this.checkAssign(change);
      this.allowAssignment(change);
    });
  }

  /** Proposes taking an item from a custodian; refused at once while they hold a checkout of it or are its last holder. */
  proposeUnassign(request: CustodyRequest<'custody:unassign'>): { proposal: ProposalView } {
    const change = changeOf(request);
    return this.propose(request, 'unassign', 'remove an assignment', 'custody.unassigned', change, () => this.checkUnassign(change));
  }

  /** Proposes sealing a half's current secret to a custodian assigned it who has no copy yet (an assignment applied unsealed). */
  proposeReseal(request: CustodyRequest<'custody:reseal'>): { proposal: ProposalView } {
    const { ctx } = this;
    const half = ctx.store.half(request.accountId, request.item);
    const change: ResealChange = { ...changeOf(request), item: request.item, generation: half?.generation ?? 0 };
    return this.propose(request, 'reseal', 're-seal a half', 'half.resealed', change, () => this.checkReseal(change));
  }

  private propose(
    request: AssignmentRequest,
    action: string,
    what: string,
    type: string,
    change: AssignmentChange,
    check: () => void,
  ): { proposal: ProposalView } {
    const { ctx } = this;
    // Presence first: a proposal is signed, and an unattended session must not sign one.
    const actor = ctx.presentCustodian(request.by);
    const proposal = ctx.refusable(actor, () => {
      requireAdmin(actor, action, request, what);
      check();
      const { account, ...rest } = change;
      return ctx.vault.proposals.propose(actor.id, type, { ...rest }, { account });
    });
    return { proposal };
  }

  private checkAssign(c: AssignmentChange): void {
    const { ctx } = this;
    ctx.requireAccount(c.account);
    this.requireCustodian(c.custodian);
    if (ctx.store.assignees(c.account, c.item).includes(c.custodian)) {
      throw new HalfkeyError(
        'CONFLICT',
        `${this.name(c.custodian)} is already assigned the ${describeItem(c.item)} of account ${c.account}.`,
        { accountId: c.account, item: c.item },
      );
    }
  }

  private allowAssignment(c: AssignmentChange): void {
    enforce(
      checkAssignment(this.ctx.policyState(c.account), { accountId: c.account, item: c.item, custodianId: c.custodian }),
      'assign',
      c.custodian,
    );
  }

  /**
   * Applies an approved assignment under the policy as it is now. If the half already has a
   * secret and the approver holds it (and is present), they re-seal it to the new custodian in
   * the same step (`sealed: true, resealedBy`); otherwise it is applied unsealed and a re-seal is
   * its own proposal (custody:reseal).
   */
  private applyAssign(c: AssignmentChange, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    const { approver } = run;
    return ctx.refusable(approver, () => {
      this.checkAssign(c);
      this.allowAssignment(c);
      ctx.store.assign(c.account, c.item, c.custodian, ctx.now(), approver.id);
      const half = isSecretHalf(c.item) ? ctx.store.half(c.account, c.item) : null;
      let resealedBy: string | null = null;
      if (half !== null && half.kind !== 'hardware-token' && this.holdsAndPresent(approver, half)) {
        this.reseal(approver, half, c.custodian);
        resealedBy = approver.id;
      }
      return { seq: run.commit({ sealed: resealedBy !== null, resealedBy, generation: half?.generation ?? 0 }).seq };
    });
  }

  /** Why an unassignment cannot be applied now: not assigned, a checkout of theirs open, or the last holder of a secret. */
  private checkUnassign(c: AssignmentChange): void {
    const { ctx } = this;
    const { store } = ctx;
    ctx.requireAccount(c.account);
    const where = { accountId: c.account, item: c.item };
    if (!store.assignees(c.account, c.item).includes(c.custodian)) {
      throw new HalfkeyError(
        'NOT_FOUND',
        `Custodian ${c.custodian} is not assigned the ${describeItem(c.item)} of account ${c.account}.`,
        where,
      );
    }
    if (!isSecretHalf(c.item)) return;
    const open = store.openCheckoutOf(c.account, c.item, c.custodian);
    if (open)
      throw new HalfkeyError(
        'CONFLICT',
        `Custodian ${c.custodian} has checkout ${open.id} of this item open; it must be checked in first.`,
        where,
      );
    const holders = store.holders(c.account, c.item);
    if (holders.length === 1 && holders[0] === c.custodian) {
      throw new HalfkeyError(
        'CONFLICT',
        `Custodian ${c.custodian} is the only one holding the ${describeItem(c.item)} of account ${c.account}; assign and seal it to another custodian first, or the secret would be lost.`,
        where,
      );
    }
  }

  /** Applies an approved unassignment: the custodian's sealed copy goes; what they have seen stays recorded until the half rotates. */
  private applyUnassign(c: AssignmentChange, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    const { store } = ctx;
    return ctx.refusable(run.approver, () => {
      this.checkUnassign(c);
      const deleted = isSecretHalf(c.item) && store.holders(c.account, c.item).includes(c.custodian);
      if (isSecretHalf(c.item)) {
        store.dropSealedCopies(c.account, c.item, c.custodian);
        // A rotation still pending must not hand them the next generation when it is confirmed.
        store.dropPendingSealedCopy(c.account, c.item, c.custodian);
      }
      store.unassign(c.account, c.item, c.custodian);
      return { seq: run.commit({ sealedCopyDeleted: deleted }).seq };
    });
  }

  /** Why a re-seal cannot be applied: no secret to seal, not assigned, already sealed to them, rotated since, or no one left holding it. */
  private checkReseal(c: ResealChange): void {
    const { ctx } = this;
    const { store } = ctx;
    ctx.requireAccount(c.account);
    const target = this.requireCustodian(c.custodian);
    const where = { accountId: c.account, item: c.item };
    const half = store.half(c.account, c.item);
    if (half === null || half.kind === 'hardware-token') {
      throw new HalfkeyError(
        'CONFLICT',
        `The ${describeItem(c.item)} of account ${c.account} has no secret to seal; a hardware token is held, not sealed.`,
        where,
      );
    }
    if (half.generation !== c.generation)
      throw new HalfkeyError(
        'CONFLICT',
        `The ${describeItem(c.item)} of account ${c.account} was rotated after this re-seal was proposed; the rotation sealed it to every assignee.`,
        where,
      );
    if (!store.assignees(c.account, c.item).includes(c.custodian)) {
      throw new HalfkeyError(
        'CONFLICT',
        `${target.name} is not assigned the ${describeItem(c.item)} of account ${c.account}; propose the assignment instead.`,
        where,
      );
    }
    if (store.sealedCopy(c.account, c.item, c.custodian, half.generation) !== null)
      throw new HalfkeyError('CONFLICT', `The ${describeItem(c.item)} of account ${c.account} is already sealed to ${target.name}.`, where);
    if (store.holders(c.account, c.item).length === 0)
      throw new HalfkeyError(
        'CONFLICT',
        `No one holds the ${describeItem(c.item)} of account ${c.account} any more; it must be set again.`,
        where,
      );
  }

  /** Applies an approved re-seal: the approver, who must hold the half and be present, opens it and seals it to the custodian. */
  private applyReseal(c: ResealChange, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    const { approver } = run;
    return ctx.refusable(approver, () => {
      this.checkReseal(c);
      const half = ctx.store.half(c.account, c.item)!;
      if (ctx.store.sealedCopy(c.account, c.item, approver.id, half.generation) === null) {
        throw new HalfkeyError(
          'NOT_PERMITTED',
          `${approver.name} does not hold the ${describeItem(c.item)} of account ${c.account}; a custodian who holds it must approve this re-seal.`,
          {
            accountId: c.account,
            item: c.item,
          },
        );
      }
      ctx.presentCustodian(approver.id);
      this.reseal(approver, half, c.custodian);
      return { seq: run.commit({ resealedBy: approver.id }).seq };
    });
  }

  private holdsAndPresent(custodian: UnlockedCustodian, half: HalfRow): boolean {
    if (this.ctx.store.sealedCopy(half.account_id, half.item, custodian.id, half.generation) === null) return false;
    try {
      this.ctx.presentCustodian(custodian.id);
      return true;
    } catch (error) {
      if (error instanceof HalfkeyError && error.code === 'PRESENCE_REQUIRED') return false;
      throw error;
    }
  }

  /** Opens the holder's copy and seals the secret to `custodianId`; the plaintext is wiped at once. */
  private reseal(holder: UnlockedCustodian, half: HalfRow, custodianId: string): void {
    const { ctx } = this;
    const secret = openHalf(ctx, half.account_id, half.item, holder, half.generation);
    try {
      sealHalf(ctx, half.account_id, half.item, this.requireCustodian(custodianId), half.generation, secret);
    } finally {
      ctx.sodium.memzero(secret);
    }
  }

  private requireCustodian(id: string): CustodianRecord {
    const custodian = this.ctx.vault.custodians.get(id);
    if (custodian === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`, { custodianId: id });
    if (custodian.revoked)
      throw new HalfkeyError('CONFLICT', `${custodian.name} has been revoked and can hold nothing.`, { custodianId: id });
    return custodian;
  }

  private name(id: string): string {
    return this.ctx.vault.custodians.get(id)?.name ?? id;
  }

  private kind<C>(
    parse: (change: JsonObject) => C,
    describe: (c: C) => string,
    check: (c: C) => void,
    apply: (c: C, run: ApplyRun) => { seq: number },
  ): ChangeKind {
    return {
      describe: (change) => describe(parse(change)),
      check: (change) => check(parse(change)),
      apply: (change, run) => apply(parse(change), run),
    };
  }
}

function changeOf(request: { readonly accountId: string; readonly item: CustodyItem; readonly custodianId: string }): AssignmentChange {
  return { account: request.accountId, item: request.item, custodian: request.custodianId };
}

/** Reads a stored change back; the proposal service stored exactly what custody proposed, so a mismatch is a damaged row. */
function assignmentOf(change: JsonObject): AssignmentChange {
  const { account, item, custodian } = change;
  if (typeof account !== 'string' || typeof custodian !== 'string' || !(CUSTODY_ITEMS as readonly unknown[]).includes(item)) {
    throw new HalfkeyError(
      'INTERNAL',
      'A stored custody proposal does not name an account, an item and a custodian; the vault file was altered.',
    );
  }
  return { account, item: item as CustodyItem, custodian };
}

function resealOf(change: JsonObject): ResealChange {
  const base = assignmentOf(change);
  const { generation } = change;
  if (!isSecretHalf(base.item) || typeof generation !== 'number')
    throw new HalfkeyError('INTERNAL', 'A stored re-seal proposal does not name a half and its generation; the vault file was altered.');
  return { ...base, item: base.item, generation };
}

function isSecretHalf(item: CustodyItem): item is SecretHalf {
  return item === 'password' || item === 'mfa';
}

/** Only admins propose who holds what; anyone else's attempt is a journaled refusal. */
function requireAdmin(
  actor: UnlockedCustodian,
  action: string,
  target: { accountId: string; item: CustodyItem; custodianId: string },
  what: string,
): void {
  if (actor.role === 'admin') return;
  throw new Refusal('NOT_PERMITTED', {
    action,
    accountId: target.accountId,
    item: target.item,
    custodianId: target.custodianId,
    rule: 'admin',
    ruleName: 'admins propose',
    message: `Only an admin can ${what}; custodian ${actor.id} is a ${actor.role}. Ask an admin to propose it.`,
  });
}
