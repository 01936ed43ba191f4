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
  ctx.store.addSealedCopy(accountId, item, custodian.id, generation, sealedBlob(ctx, accountId, item, custodian, generation, secret));
}

/** The sealed blob of a half for one custodian, not yet stored (a pending rotation stores it apart). */
export function sealedBlob(
  ctx: CustodyContext,
  accountId: string,
  item: SecretHalf,
  custodian: CustodianRecord,
  generation: number,
  secret: Uint8Array,
): Uint8Array {
  const boxed = ctx.sodium.crypto_box_seal(secret, ctx.sodium.from_hex(custodian.boxKey));
  return ctx.vault.device.seal(boxed, halfAad(accountId, item, custodian.id, generation));
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
      `The ${item === 'password' ? 'password' : 'MFA'} half of account ${accountId} has not been sealed to custodian ${custodian.id} yet; an admin must propose a re-seal (custody:reseal) for a custodian who holds it to approve, or the half must be set again.`,
      { accountId, item },
    );
  }
  return custodian.openSealed(ctx.vault.device.open(blob, halfAad(accountId, item, custodian.id, generation)));
}
