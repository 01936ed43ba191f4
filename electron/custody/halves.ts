import type { HalfSecret } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import { generatePassword } from '../../shared/password/generator';
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

/** The outcome of setting or rotating a half. */
export interface HalfChange {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly kind: HalfSecret['kind'];
  readonly generation: number;
  readonly retiredGeneration: number;
}

/**
 * The halves of each account: setting and rotating a half, each a new generation sealed to every
 * custodian assigned it. Who is assigned what is a two-person change (assignments.ts).
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
   * Rotates a half: a generated password meeting AWS root rules (never the alias, e-mail or id),
   * or a newly enrolled TOTP seed. The old generation's sealed copies are deleted and the half's
   * "seen" records cleared; `half.rotated` is journaled. The new password is returned once, to the
   * rotating custodian, who sets it at the provider.
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
      const change = this.replace(actor, { accountId, item, kind: half.kind, secret, token: null }, 'half.rotated');
      return { ...change, password, expiresAt: password === null ? null : ctx.now() + request.seconds * 1000 };
    } finally {
      ctx.sodium.memzero(secret);
    }
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
