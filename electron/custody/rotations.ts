import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { generatePassword } from '../../shared/password/generator';
import { describeItem } from '../../shared/policy/four-eyes';
import type { ApplyRun, ProposalView } from '../proposals/proposal-service';
import type { UnlockedCustodian } from '../vault/custodians';
import type { CustodyContext, CustodyRequest } from './context';
import type { HalfRow, PendingRotationRow, SecretHalf } from './custody-store';
import type { HalfChange } from './halves';
import { Refusal } from './refusal';
import { sealedBlob } from './sealing';
import { parseSeed } from './totp-seed';

/** A confirmation as proposed and journaled: which half, and the pending generation it makes current. */
interface ConfirmChange {
  readonly account: string;
  readonly item: SecretHalf;
  readonly generation: number;
}

/**
 * Two-phase rotation. `rotate` writes the new secret as a *pending* generation, sealed to every
 * custodian of the half, while the current one stays in use: the provider may still refuse the new
 * password or seed. When it has taken it, the custodian of the half proposes `rotation.confirmed`
 * and a second custodian approves; applying retires the old generation and only then resets who
 * has seen the half (rule 2). A rotation the provider did not take is abandoned.
 */
export class Rotations {
  constructor(private readonly ctx: CustodyContext) {}

  /** Registers how a confirmed rotation applies with the vault's proposal service. */
  register(): void {
    this.ctx.vault.proposals.register('rotation.confirmed', {
      describe: (c) => {
        const change = changeOf(c);
        return `Confirm the rotation of the ${describeItem(change.item)} of account ${change.account} to generation ${change.generation}`;
      },
      check: (c) => {
        this.requirePending(changeOf(c));
      },
      apply: (c, run) => this.applyConfirm(changeOf(c), run),
    });
  }

  /**
   * Phase 1: a generated password meeting AWS root rules (never the alias, e-mail or id), or the
   * seed of a newly registered MFA device, becomes the half's pending generation (`rotation.pending`).
   * The new password is returned once, to the rotating custodian, who sets it at the provider.
   */
  rotate(request: CustodyRequest<'custody:rotate'>): HalfChange & { password: string | null; expiresAt: number | null } {
    const { ctx } = this;
    const { accountId, item } = request;
    const actor = ctx.presentCustodian(request.by);
    const account = ctx.requireAccount(accountId);
    const half = ctx.store.half(accountId, item);
    if (half === null)
      throw new HalfkeyError('NOT_FOUND', `The ${item} half of account ${accountId} has never been set; set it first.`, { accountId });
    if (half.kind === 'hardware-token') {
      throw new HalfkeyError(
        'CONFLICT',
        `The MFA half of account ${accountId} is a hardware token; register the replacement token with half-set.`,
        { accountId },
      );
    }
    let secret: Uint8Array;
    let password: string | null = null;
    if (item === 'password') {
      if (request.seed !== undefined)
        throw new HalfkeyError('INVALID_PAYLOAD', 'A password rotation takes password options, not a seed.', { field: 'seed' });
      const options = request.password ?? {};
      password = generatePassword({
        ...(options.length === undefined ? {} : { length: options.length }),
        ...(options.classes === undefined ? {} : { classes: options.classes }),
        forbid: [account.alias, account.root_email, account.id],
      });
      secret = ctx.sodium.from_string(password);
    } else {
      if (request.seed === undefined) {
        throw new HalfkeyError(
          'INVALID_PAYLOAD',
          'An MFA rotation needs the new seed (otpauth URI or base32) from re-registering the MFA device.',
          { field: 'seed' },
        );
      }
      secret = parseSeed(request.seed);
    }
    try {
      const change = this.writePending(actor, half, secret);
      return { ...change, password, expiresAt: password === null ? null : ctx.now() + request.seconds * 1000 };
    } finally {
      ctx.sodium.memzero(secret);
    }
  }

  /** Phase 2: the custodian of the half (present) proposes confirming its pending rotation; a second custodian approves. */
  proposeConfirm(request: CustodyRequest<'custody:rotation-confirm'>): { proposal: ProposalView } {
    const { ctx } = this;
    const { accountId, item } = request;
    const actor = ctx.presentCustodian(request.by);
    const proposal = ctx.refusable(actor, () => {
      ctx.requireAccount(accountId);
      const pending = this.pendingOf(accountId, item);
      this.requireCustodianOfHalf(actor, accountId, item, 'rotation-confirm', 'confirm its rotation');
      return ctx.vault.proposals.propose(actor.id, 'rotation.confirmed', { item, generation: pending.generation }, { account: accountId });
    });
    return { proposal };
  }

  /** Drops a pending rotation the provider did not take (`rotation.abandoned`); the current generation stays in use. */
  abandon(request: CustodyRequest<'custody:rotation-abandon'>): { accountId: string; item: SecretHalf; generation: number } {
    const { ctx } = this;
    const { accountId, item } = request;
    const actor = ctx.actingCustodian(request.by);
    return ctx.refusable(actor, () => {
      ctx.requireAccount(accountId);
      const pending = this.pendingOf(accountId, item);
      if (actor.role !== 'admin') this.requireCustodianOfHalf(actor, accountId, item, 'rotation-abandon', 'abandon its rotation');
      ctx.store.dropPendingRotation(accountId, item);
      ctx.journal('rotation.abandoned', actor, accountId, { item, generation: pending.generation, rotatedBy: pending.rotated_by });
      return { accountId, item, generation: pending.generation };
    });
  }

  /**
   * Writes the pending generation in one transaction, sealed to every custodian assigned the half,
   * and journals `rotation.pending` without the secret. The rotator learns the new secret, so they
   * must be allowed to obtain the half, and count as having seen it.
   */
  private writePending(actor: UnlockedCustodian, half: HalfRow, secret: Uint8Array): HalfChange {
    const { ctx } = this;
    const { store } = ctx;
    const { account_id: accountId, item } = half;
    return ctx.refusable(actor, () => {
      ctx.mayObtain(actor, accountId, item, 'rotate');
      const current = store.half(accountId, item) ?? half;
      const waiting = store.pendingRotation(accountId, item);
      if (waiting !== null) {
        throw new HalfkeyError(
          'CONFLICT',
          `A rotation of the ${item} half of account ${accountId} to generation ${waiting.generation} is already pending; confirm or abandon it first.`,
          { accountId, item },
        );
      }
      const assignees = ctx.liveAssignees(accountId, item);
      if (assignees.length === 0)
        throw new HalfkeyError(
          'CONFLICT',
          `No custodian is assigned the ${item} half of account ${accountId}; the new secret could not be sealed to anyone.`,
          { accountId, item },
        );
      const generation = current.generation + 1;
      store.addPendingRotation({ account_id: accountId, item, generation, rotated_at: ctx.now(), rotated_by: actor.id });
      for (const custodian of assignees)
        store.addPendingSealedCopy(
          accountId,
          item,
          custodian.id,
          generation,
          sealedBlob(ctx, accountId, item, custodian, generation, secret),
        );
      store.recordSeen(accountId, item, actor.id, generation, ctx.now(), 'rotate');
      const sealedTo = assignees.map((c) => c.id);
      ctx.journal('rotation.pending', actor, accountId, {
        item,
        kind: current.kind,
        generation,
        retiredGeneration: current.generation,
        sealedTo,
      });
      return { accountId, item, kind: current.kind, generation, retiredGeneration: current.generation };
    });
  }

  /**
   * Applies a confirmed rotation: the pending generation becomes current, the retired one's
   * sealed copies go, and who has seen the half starts again from the rotator alone.
   */
  private applyConfirm(c: ConfirmChange, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    const { store } = ctx;
    return ctx.refusable(run.approver, () => {
      const pending = this.requirePending(c);
      const retired = store.half(c.account, c.item)?.generation ?? 0;
      store.promotePendingRotation(pending, ctx.now());
      store.forgetSightings(c.account, c.item);
      store.recordSeen(c.account, c.item, pending.rotated_by, pending.generation, ctx.now(), 'rotate');
      return { seq: run.commit({ retiredGeneration: retired, rotatedBy: pending.rotated_by }).seq };
    });
  }

  private pendingOf(accountId: string, item: SecretHalf): PendingRotationRow {
    const pending = this.ctx.store.pendingRotation(accountId, item);
    if (pending === null)
      throw new HalfkeyError('NOT_FOUND', `No rotation of the ${item} half of account ${accountId} is pending.`, { accountId, item });
    return pending;
  }

  /** The pending rotation a confirmation names; CONFLICT when it was abandoned, confirmed or replaced since. */
  private requirePending(c: ConfirmChange): PendingRotationRow {
    this.ctx.requireAccount(c.account);
    const pending = this.ctx.store.pendingRotation(c.account, c.item);
    if (pending === null || pending.generation !== c.generation) {
      throw new HalfkeyError(
        'CONFLICT',
        `The rotation of the ${c.item} half of account ${c.account} to generation ${c.generation} is no longer pending (abandoned or confirmed meanwhile).`,
        {
          accountId: c.account,
          item: c.item,
        },
      );
    }
    return pending;
  }

  /** Only a custodian assigned the half confirms or abandons its rotation; anyone else's attempt is a journaled refusal. */
  private requireCustodianOfHalf(actor: UnlockedCustodian, accountId: string, item: SecretHalf, action: string, what: string): void {
    if (this.ctx.store.assignees(accountId, item).includes(actor.id)) return;
    throw new Refusal('NOT_PERMITTED', {
      action,
      accountId,
      item,
      custodianId: actor.id,
      rule: 'half-custodian',
      ruleName: 'custodian of the half',
      message: `Only a custodian assigned the ${describeItem(item)} of account ${accountId} can ${what}; ${actor.name} is not.`,
    });
  }
}

/** Reads a stored confirmation back; custody proposed exactly these members, so a mismatch is a damaged row. */
function changeOf(change: JsonObject): ConfirmChange {
  const { account, item, generation } = change;
  if (typeof account !== 'string' || (item !== 'password' && item !== 'mfa') || typeof generation !== 'number') {
    throw new HalfkeyError(
      'INTERNAL',
      'A stored rotation proposal does not name its account, half and generation; the vault file was altered.',
    );
  }
  return { account, item, generation };
}
