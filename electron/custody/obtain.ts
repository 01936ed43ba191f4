import { HalfkeyError } from '../../shared/api/result';
import { checkCheckout } from '../../shared/policy/four-eyes';
import { deserializeTotpParams, enrolmentCodes, totpCode } from '../../shared/otp/totp';
import type { JsonObject } from '../../shared/journal/canonical';
import type { UnlockedCustodian } from '../vault/custodians';
import { findHalf, type HalfRow } from './accounts';
import { requireCheckout, requireLive, sweepLeases, type CheckoutRow } from './checkouts';
import type { ClipboardGuard } from './clipboard';
import { actingCustodian, journal, type CustodyContext } from './context';
import { policyStateFor, recordSeen } from './policy-state';
import { enforce, refusable } from './refusal';
import { openHalf, type SecretHalf } from './sealing';

interface Use {
  readonly row: CheckoutRow;
  readonly half: HalfRow;
}

function validateUse(ctx: CustodyContext, actor: UnlockedCustodian, checkoutId: string, item: SecretHalf, action: string): Use {
  const row = requireCheckout(ctx, actor, checkoutId, action);
  requireLive(ctx, row);
  if (row.item !== item || row.hardware_token === 1) {
    throw new HalfkeyError('CONFLICT', `Checkout ${checkoutId} is of the ${row.hardware_token === 1 ? 'hardware token' : `${row.item} half`}; ${action} needs a checkout of the ${item} half.`, {
      checkoutId,
    });
  }
  const half = findHalf(ctx, row.account_id, item);
  if (half === null) throw new HalfkeyError('NOT_FOUND', `The ${item} half of account ${row.account_id} is no longer set.`, { accountId: row.account_id });
  // The policy is asked again at each use: the custodian's sightings may have changed since checkout.
  enforce(checkCheckout(policyStateFor(ctx, row.account_id), { accountId: row.account_id, item, custodianId: actor.id }), action, actor.id);
  return { row, half };
}

/**
 * Obtains a half under an open checkout: checks, opens the custodian's sealed copy, computes what
 * the person sees, then (checking again, in one transaction) records the sighting and journals it.
 * The plaintext is wiped as soon as `compute` is done with it.
 */
async function useHalf<T>(
  ctx: CustodyContext,
  by: string,
  checkoutId: string,
  item: SecretHalf,
  action: string,
  compute: (secret: Uint8Array) => Promise<T> | T,
  entry: (use: Use, result: T) => { readonly type: string; readonly data: JsonObject },
): Promise<T> {
  const actor = actingCustodian(ctx, by);
  sweepLeases(ctx);
  const first = refusable(ctx, actor, () => validateUse(ctx, actor, checkoutId, item, action), 'deferred');
  const secret = openHalf(ctx, first.row.account_id, item, actor, first.half.generation);
  let result: T;
  try {
    result = await compute(secret);
  } finally {
    ctx.sodium.memzero(secret);
  }
  refusable(ctx, actor, () => {
    const use = validateUse(ctx, actor, checkoutId, item, action);
    if (use.half.generation !== first.half.generation) {
      throw new HalfkeyError('CONFLICT', `The ${item} half of account ${use.row.account_id} was rotated meanwhile; try again.`, { accountId: use.row.account_id });
    }
    recordSeen(ctx, use.row.account_id, item, actor.id, use.half.generation, action);
    const { type, data } = entry(use, result);
    journal(ctx, type, actor, use.row.account_id, { checkout: checkoutId, item, generation: use.half.generation, ...data });
  });
  return result;
}

/** Obtains the checked-out password for `seconds`, journaling `type` with how long it is out (`until`). */
async function obtainPassword(ctx: CustodyContext, by: string, checkoutId: string, seconds: number, how: 'reveal' | 'copy'): Promise<{ password: string; until: number }> {
  const until = ctx.now() + seconds * 1000;
  const [type, untilKey] = how === 'reveal' ? (['secret.revealed', 'expiresAt'] as const) : (['secret.copied', 'clearsAt'] as const);
  const password = await useHalf(ctx, by, checkoutId, 'password', how, (secret) => ctx.sodium.to_string(secret), () => ({ type, data: { seconds, [untilKey]: until } }));
  return { password, until };
}

/** Shows the checked-out password for `seconds`; the secret goes to the caller, the journal gets `secret.revealed`. */
export async function reveal(ctx: CustodyContext, by: string, checkoutId: string, seconds: number): Promise<{ password: string; expiresAt: number }> {
  const { password, until } = await obtainPassword(ctx, by, checkoutId, seconds, 'reveal');
  return { password, expiresAt: until };
}

/** Copies the checked-out password to the clipboard from the main process, cleared after `seconds` if still there. */
export async function copy(ctx: CustodyContext, guard: ClipboardGuard, by: string, checkoutId: string, seconds: number): Promise<{ clearsAt: number }> {
  guard.requireAvailable();
  const { password } = await obtainPassword(ctx, by, checkoutId, seconds, 'copy');
  return { clearsAt: await guard.copy(password, seconds, ctx.now()) };
}

/** The current TOTP code of the checked-out MFA half and how long it stays valid; never the seed. */
export async function currentCode(ctx: CustodyContext, by: string, checkoutId: string): Promise<{ code: string; remainingMs: number; period: number; digits: number }> {
  return useHalf(
    ctx,
    by,
    checkoutId,
    'mfa',
    'totp-code',
    async (secret) => {
      const params = deserializeTotpParams(secret);
      const shown = await totpCode(params, ctx.now());
      ctx.sodium.memzero(params.secret);
      return { code: shown.code, remainingMs: shown.remainingMs, period: params.period, digits: params.digits, counter: shown.counter };
    },
    (_use, shown) => ({ type: 'totp.code-shown', data: { counter: shown.counter, enrolment: false } }),
  ).then(({ code, remainingMs, period, digits }) => ({ code, remainingMs, period, digits }));
}

/** Two consecutive codes, as AWS asks for when registering a virtual MFA device. */
export async function enrolment(ctx: CustodyContext, by: string, checkoutId: string): Promise<{ first: string; second: string }> {
  return useHalf(
    ctx,
    by,
    checkoutId,
    'mfa',
    'totp-enrolment-codes',
    async (secret) => {
      const params = deserializeTotpParams(secret);
      const codes = await enrolmentCodes(params, ctx.now());
      ctx.sodium.memzero(params.secret);
      return codes;
    },
    (_use, codes) => ({ type: 'totp.code-shown', data: { counter: codes.counter, enrolment: true } }),
  ).then(({ first, second }) => ({ first, second }));
}
