import { HalfkeyError } from '../../shared/api/result';
import { generatePassword } from '../../shared/password/generator';
import { findHalf, requireAccount } from './accounts';
import { actingCustodian, type CustodyContext } from './context';
import { replaceHalf, type HalfChange } from './halves';
import type { SecretHalf } from './sealing';
import { parseSeed } from './totp-seed';

export interface RotateRequest {
  readonly accountId: string;
  readonly item: SecretHalf;
  /** Password rotation: generator options (length, character classes). */
  readonly password?: { readonly length?: number | undefined; readonly classes?: { upper: boolean; lower: boolean; digits: boolean; symbols: boolean } | undefined } | undefined;
  /** MFA rotation: the new seed, an otpauth URI or base32, from re-registering the virtual MFA device. */
  readonly seed?: string | undefined;
  /** How long the new password is shown to the rotating custodian. */
  readonly seconds: number;
}

/**
 * Rotates a half: a generated password meeting AWS root rules (never the alias, e-mail or id),
 * or a newly enrolled TOTP seed. The old generation's sealed copies are deleted and the half's
 * "seen" records cleared; `half.rotated` is journaled. The new password is returned once, to the
 * rotating custodian, who sets it at the provider.
 */
export function rotate(ctx: CustodyContext, by: string, request: RotateRequest): HalfChange & { password: string | null; expiresAt: number | null } {
  const actor = actingCustodian(ctx, by);
  const account = requireAccount(ctx, request.accountId);
  const half = findHalf(ctx, request.accountId, request.item);
  if (half === null) throw new HalfkeyError('NOT_FOUND', `The ${request.item} half of account ${request.accountId} has never been set; set it first.`, { accountId: request.accountId });
  if (half.kind === 'hardware-token') {
    throw new HalfkeyError('CONFLICT', `The MFA half of account ${request.accountId} is a hardware token; register the replacement token with half-set.`, { accountId: request.accountId });
  }
  let secret: Uint8Array;
  let password: string | null = null;
  if (request.item === 'password') {
    if (request.seed !== undefined) throw new HalfkeyError('INVALID_PAYLOAD', 'A password rotation takes password options, not a seed.', { field: 'seed' });
    const options = request.password ?? {};
    const generated = generatePassword({
      ...(options.length === undefined ? {} : { length: options.length }),
      ...(options.classes === undefined ? {} : { classes: options.classes }),
      forbid: [account.alias, account.root_email, account.id],
    });
    password = generated;
    secret = ctx.sodium.from_string(generated);
  } else {
    if (request.seed === undefined) {
      throw new HalfkeyError('INVALID_PAYLOAD', 'An MFA rotation needs the new seed (otpauth URI or base32) from re-registering the MFA device.', { field: 'seed' });
    }
    secret = parseSeed(request.seed);
  }
  try {
    const change = replaceHalf(ctx, actor, { accountId: request.accountId, item: request.item, kind: half.kind, secret, token: null }, 'half.rotated');
    return { ...change, password, expiresAt: password === null ? null : ctx.now() + request.seconds * 1000 };
  } finally {
    ctx.sodium.memzero(secret);
  }
}
