import type { HalfSecret } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import { generatePassword } from '../../shared/password/generator';
import { checkAssignment, type CustodyItem } from '../../shared/policy/four-eyes';
import type { UnlockedCustodian } from '../vault/custodians';
import type { CustodyContext, CustodyRequest } from './context';
import type { SecretHalf } from './custody-store';
import { enforce, Refusal } from './refusal';
import { openHalf, sealHalf } from './sealing';
import { parseSeed } from './totp-seed';

/** A new generation of a half: the secret bytes (null for a hardware token) and what kind it is. */
interface NewHalf {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly kind: HalfSecret['kind'];
  readonly secret: Uint8Array | null;
  readonly token: { readonly serial: string; readonly location: string } | null;
}

/** The outcome of setting or rotating a half. */
export interface HalfChange {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly kind: HalfSecret['kind'];
  readonly generation: number;
  readonly retiredGeneration: number;
}

/** The outcome of an assignment. `sealed` says whether the custodian now has their own sealed copy of the half's secret. */
export interface AssignResult {
  readonly accountId: string;
  readonly item: CustodyItem;
  readonly custodianId: string;
  readonly sealed: boolean;
}

/**
 * The halves of each account and who holds them: setting and rotating a half (a new generation
 * sealed to every custodian assigned it), and assigning items under the four-eyes rules.
 */
export class Halves {
  constructor(private readonly ctx: CustodyContext) {}

  /** Sets a half's secret (a password, a TOTP seed, or a hardware token's serial and location); a new generation each time. */
  set(request: CustodyRequest<'custody:half-set'>): HalfChange {
    const { accountId, item, secret } = request;
    const actor = this.ctx.actingCustodian(request.by);
    const fits = item === 'password' ? secret.kind === 'password' : secret.kind !== 'password';
    if (!fits) {
      throw new HalfkeyError(
        'INVALID_PAYLOAD',
        `A ${secret.kind} cannot be the ${item} half; the password half takes a password, the MFA half a TOTP seed or a hardware token.`,
        {
          field: 'secret.kind',
        },
      );
    }
    const bytes =
      secret.kind === 'password' ? this.ctx.sodium.from_string(secret.password) : secret.kind === 'totp' ? parseSeed(secret.seed) : null;
    try {
      const token = secret.kind === 'hardware-token' ? { serial: secret.serial, location: secret.location } : null;
      return this.replace(actor, { accountId, item, kind: secret.kind, secret: bytes, token }, 'half.set');
    } finally {
      if (bytes) this.ctx.sodium.memzero(bytes);
    }
  }

  /**
   * Rotates a half: a generated password meeting AWS root rules (never the alias, e-mail or id),
   * or a newly enrolled TOTP seed. The old generation's sealed copies are deleted and the half's
   * "seen" records cleared; `half.rotated` is journaled. The new password is returned once, to the
   * rotating custodian, who sets it at the provider.
   */
  rotate(request: CustodyRequest<'custody:rotate'>): HalfChange & { password: string | null; expiresAt: number | null } {
    const { ctx } = this;
    const { accountId, item } = request;
    const actor = ctx.actingCustodian(request.by);
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
      const change = this.replace(actor, { accountId, item, kind: half.kind, secret, token: null }, 'half.rotated');
      return { ...change, password, expiresAt: password === null ? null : ctx.now() + request.seconds * 1000 };
    } finally {
      ctx.sodium.memzero(secret);
    }
  }

  /**
   * Assigns an item to a custodian (admins only), under the four-eyes rules. If the half already
   * has a secret, it is re-sealed to the new custodian using the key of an unlocked custodian who
   * holds it (`resealWith`, or the admin if they hold it); with no holder present the assignment is
   * recorded unsealed and a later call with `resealWith` completes it.
   */
  assign(request: CustodyRequest<'custody:assign'>): AssignResult {
    const { ctx } = this;
    const { store } = ctx;
    const { accountId, item, custodianId } = request;
    const actor = ctx.actingCustodian(request.by);
    const holder = request.resealWith === undefined ? null : ctx.actingCustodian(request.resealWith);
    return ctx.refusable(actor, () => {
      requireAdmin(actor, 'assign', request, 'assign custody');
      ctx.requireAccount(accountId);
      const target = ctx.vault.custodians.get(custodianId);
      if (target === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${custodianId} in this vault.`, { custodianId });
      const already = store.assignees(accountId, item).includes(custodianId);
      if (!already) enforce(checkAssignment(ctx.policyState(accountId), { accountId, item, custodianId }), 'assign', custodianId);
      const half = isSecretHalf(item) ? store.half(accountId, item) : null;
      let sealed = false;
      let resealedBy: string | null = null;
      if (half !== null && half.kind !== 'hardware-token') {
        sealed = store.sealedCopy(accountId, half.item, custodianId, half.generation) !== null;
        const sealer = holder ?? (store.sealedCopy(accountId, half.item, actor.id, half.generation) !== null ? actor : null);
        if (!sealed && sealer !== null) {
          const secret = openHalf(ctx, accountId, half.item, sealer, half.generation);
          try {
            sealHalf(ctx, accountId, half.item, target, half.generation, secret);
          } finally {
            ctx.sodium.memzero(secret);
          }
          sealed = true;
          resealedBy = sealer.id;
        }
      }
      if (already && resealedBy === null) {
        throw new HalfkeyError(
          'CONFLICT',
          `Custodian ${custodianId} is already assigned the ${item} of account ${accountId}${sealed ? '' : '; name an unlocked holder in resealWith to seal it to them'}.`,
          {
            accountId,
            item,
          },
        );
      }
      if (!already) store.assign(accountId, item, custodianId, ctx.now(), actor.id);
      ctx.journal(already ? 'half.resealed' : 'custody.assigned', actor, accountId, {
        item,
        custodian: custodianId,
        sealed,
        resealedBy,
        generation: half?.generation ?? 0,
      });
      return { accountId, item, custodianId, sealed };
    });
  }

  /**
   * Removes an assignment (admins only) and deletes that custodian's sealed copy. Refused while they
   * hold an open checkout of the item, and for the last holder of a secret (it would be lost). What
   * they have seen stays recorded until the half rotates.
   */
  unassign(request: CustodyRequest<'custody:unassign'>): { accountId: string; item: CustodyItem; custodianId: string } {
    const { ctx } = this;
    const { store } = ctx;
    const { accountId, item, custodianId } = request;
    const actor = ctx.actingCustodian(request.by);
    return ctx.refusable(actor, () => {
      requireAdmin(actor, 'unassign', request, 'remove an assignment');
      ctx.requireAccount(accountId);
      if (!store.assignees(accountId, item).includes(custodianId)) {
        throw new HalfkeyError('NOT_FOUND', `Custodian ${custodianId} is not assigned the ${item} of account ${accountId}.`, {
          accountId,
          item,
        });
      }
      const open = isSecretHalf(item) ? store.openCheckoutOf(accountId, item, custodianId) : null;
      if (open)
        throw new HalfkeyError(
          'CONFLICT',
          `Custodian ${custodianId} has checkout ${open.id} of this item open; it must be checked in first.`,
          { accountId, item },
        );
      const half = isSecretHalf(item) ? store.half(accountId, item) : null;
      let deleted = false;
      if (half !== null) {
        const holders = store.holders(accountId, half.item);
        const holds = holders.includes(custodianId);
        if (holds && holders.length === 1) {
          throw new HalfkeyError(
            'CONFLICT',
            `Custodian ${custodianId} is the only one holding the ${item} half of account ${accountId}; assign and seal it to another custodian first, or the secret would be lost.`,
            { accountId, item },
          );
        }
        deleted = holds;
        store.dropSealedCopies(accountId, half.item, custodianId);
      }
      store.unassign(accountId, item, custodianId);
      ctx.journal('custody.unassigned', actor, accountId, { item, custodian: custodianId, sealedCopyDeleted: deleted });
      return { accountId, item, custodianId };
    });
  }

  /**
   * Writes a new generation of a half in one transaction: seals it to every custodian assigned the
   * item, deletes the retired generation's sealed copies, clears who has seen the item (rule 2
   * counts sightings since the last rotation), and journals the change without the secret.
   * Whoever sets a secret learns it, so they must be allowed to obtain it and count as having seen it.
   */
  private replace(actor: UnlockedCustodian, change: NewHalf, entryType: 'half.set' | 'half.rotated'): HalfChange {
    const { ctx } = this;
    const { store } = ctx;
    const { accountId, item, kind, secret, token } = change;
    return ctx.refusable(actor, () => {
      ctx.requireAccount(accountId);
      const existing = store.half(accountId, item);
      // A hardware token has no secret to learn: an admin may register one; anyone else must be allowed the half.
      if (secret !== null || actor.role !== 'admin') ctx.mayObtain(actor, accountId, item, entryType);
      const assignees = store
        .assignees(accountId, item)
        .map((id) => ctx.vault.custodians.get(id))
        .filter((c) => c !== null && !c.revoked);
      if (secret !== null && assignees.length === 0) {
        throw new HalfkeyError(
          'CONFLICT',
          `No custodian is assigned the ${item} half of account ${accountId}; assign one first so the secret can be sealed to them.`,
          { accountId, item },
        );
      }
      const generation = (existing?.generation ?? 0) + 1;
      store.writeHalf({ accountId, item, kind, generation, setAt: ctx.now(), setBy: actor.id, token });
      // The retired generation's ciphertext goes: no one keeps a copy of an old secret.
      store.dropSealedCopies(accountId, item);
      const sealedTo: string[] = [];
      if (secret !== null) {
        for (const custodian of assignees) {
          if (custodian === null) continue;
          sealHalf(ctx, accountId, item, custodian, generation, secret);
          sealedTo.push(custodian.id);
        }
      }
      store.forgetSightings(accountId, item);
      if (secret !== null) store.recordSeen(accountId, item, actor.id, generation, ctx.now(), entryType === 'half.set' ? 'set' : 'rotate');
      ctx.journal(entryType, actor, accountId, {
        item,
        kind,
        generation,
        retiredGeneration: existing?.generation ?? 0,
        sealedTo,
        ...(token ? { tokenSerial: token.serial, tokenLocation: token.location } : {}),
      });
      return { accountId, item, kind, generation, retiredGeneration: existing?.generation ?? 0 };
    });
  }
}

function isSecretHalf(item: CustodyItem): item is SecretHalf {
  return item === 'password' || item === 'mfa';
}

/** Only admins change who holds what; anyone else's attempt is a journaled refusal. */
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
    ruleName: 'admins assign',
    message: `Only an admin can ${what}; custodian ${actor.id} is a ${actor.role}.`,
  });
}
