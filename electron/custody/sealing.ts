import { HalfkeyError } from '../../shared/api/result';
import type { CustodianRecord, UnlockedCustodian } from '../vault/custodians';
import type { CustodyContext } from './context';
import type { SecretHalf } from './custody-store';

/** The AAD that binds a sealed blob to its row: moving a blob to another account, item, custodian or generation fails to open. */
export function halfAad(accountId: string, item: SecretHalf, custodianId: string, generation: number): string {
  return `half:${accountId}:${item}:${custodianId}:${generation}`;
}

/**
 * Seals a half's secret to one custodian: crypto_box_seal to their X25519 box key (only their
 * passphrase-wrapped key opens it), then the device key over that, bound to the row by AAD.
 */
export function sealHalf(
  ctx: CustodyContext,
  accountId: string,
  item: SecretHalf,
  custodian: CustodianRecord,
  generation: number,
  secret: Uint8Array,
): void {
  const boxed = ctx.sodium.crypto_box_seal(secret, ctx.sodium.from_hex(custodian.boxKey));
  ctx.store.addSealedCopy(
    accountId,
    item,
    custodian.id,
    generation,
    ctx.vault.device.seal(boxed, halfAad(accountId, item, custodian.id, generation)),
  );
}

/** Opens a custodian's copy of a half: the device layer, then their own key. The caller wipes the result after use. */
export function openHalf(
  ctx: CustodyContext,
  accountId: string,
  item: SecretHalf,
  custodian: UnlockedCustodian,
  generation: number,
): Uint8Array {
  const blob = ctx.store.sealedCopy(accountId, item, custodian.id, generation);
  if (blob === null) {
    throw new HalfkeyError(
      'CONFLICT',
      `The ${item === 'password' ? 'password' : 'MFA'} half of account ${accountId} has not been sealed to custodian ${custodian.id} yet; an unlocked custodian who holds it must re-seal it (assign with resealWith), or it must be set again.`,
      { accountId, item },
    );
  }
  return custodian.openSealed(ctx.vault.device.open(blob, halfAad(accountId, item, custodian.id, generation)));
}
