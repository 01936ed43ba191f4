import type { HalfSecret } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import type { UnlockedCustodian } from '../vault/custodians';
import type { CustodyContext, CustodyRequest } from './context';
import type { SecretHalf } from './custody-store';
import { sealHalf } from './sealing';
import { parseSeed } from './totp-seed';

/** A new generation of a half: the secret bytes (null for a hardware token) and what kind it is. */
interface NewHalf {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly kind: HalfSecret['kind'];
  readonly secret: Uint8Array | null;
  readonly token: { readonly serial: string; readonly location: string } | null;
}

/** The outcome of setting a half, or of writing a rotation's pending generation. */
export interface HalfChange {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly kind: HalfSecret['kind'];
  readonly generation: number;
  readonly retiredGeneration: number;
}

/**
 * The halves of each account: setting a half, a new generation sealed to every custodian assigned
 * it. Rotating is two-phase (rotations.ts); who is assigned what is a two-person change (assignments.ts).
 */
export class Halves {
  constructor(private readonly ctx: CustodyContext) {}

  /** Sets a half's secret (a password, a TOTP seed, or a hardware token's serial and location); a new generation each time. */
  set(request: CustodyRequest<'custody:half-set'>): HalfChange {
    const { accountId, item, secret } = request;
    const actor = this.ctx.presentCustodian(request.by);
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
   * Writes a new generation of a half in one transaction: seals it to every custodian assigned the
   * item, deletes the retired generation's sealed copies, clears who has seen the item (rule 2
   * counts sightings since the half was last set or rotated), and journals the change without the
   * secret. Whoever sets a secret learns it, so they must be allowed to obtain it and count as having seen it.
   */
  private replace(actor: UnlockedCustodian, change: NewHalf, entryType: 'half.set'): HalfChange {
    const { ctx } = this;
    const { store } = ctx;
    const { accountId, item, kind, secret, token } = change;
    return ctx.refusable(actor, () => {
      ctx.requireAccount(accountId);
      const existing = store.half(accountId, item);
      const pending = store.pendingRotation(accountId, item);
      if (pending !== null) {
        throw new HalfkeyError(
          'CONFLICT',
          `A rotation of the ${item} half of account ${accountId} to generation ${pending.generation} is pending; confirm or abandon it before setting the half.`,
          {
            accountId,
            item,
          },
        );
      }
      // A hardware token has no secret to learn: an admin may register one; anyone else must be allowed the half.
      if (secret !== null || actor.role !== 'admin') ctx.mayObtain(actor, accountId, item, entryType);
      const assignees = ctx.liveAssignees(accountId, item);
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
          sealHalf(ctx, accountId, item, custodian, generation, secret);
          sealedTo.push(custodian.id);
        }
      }
      store.forgetSightings(accountId, item);
      if (secret !== null) store.recordSeen(accountId, item, actor.id, generation, ctx.now(), 'set');
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
