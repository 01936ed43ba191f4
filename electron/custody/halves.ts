import type { HalfSecret } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import { checkAssignment, checkCheckout, type CustodyItem } from '../../shared/policy/four-eyes';
import type { UnlockedCustodian } from '../vault/custodians';
import { assigneesOf, findHalf, requireAccount } from './accounts';
import { actingCustodian, journal, statement, type CustodyContext } from './context';
import { policyStateFor, recordSeen } from './policy-state';
import { enforce, refusable, Refusal } from './refusal';
import { openHalf, sealedBlob, sealHalf, type SecretHalf } from './sealing';
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

/** Sets a half's secret (a password, a TOTP seed, or a hardware token's serial and location); a new generation each time. */
export function setHalf(ctx: CustodyContext, by: string, accountId: string, item: SecretHalf, secret: HalfSecret): HalfChange {
  const actor = actingCustodian(ctx, by);
  const fits = item === 'password' ? secret.kind === 'password' : secret.kind !== 'password';
  if (!fits) {
    throw new HalfkeyError('INVALID_PAYLOAD', `A ${secret.kind} cannot be the ${item} half; the password half takes a password, the MFA half a TOTP seed or a hardware token.`, {
      field: 'secret.kind',
    });
  }
  const bytes = secretBytes(ctx, secret);
  try {
    const token = secret.kind === 'hardware-token' ? { serial: secret.serial, location: secret.location } : null;
    return replaceHalf(ctx, actor, { accountId, item, kind: secret.kind, secret: bytes, token }, 'half.set');
  } finally {
    if (bytes) ctx.sodium.memzero(bytes);
  }
}

function secretBytes(ctx: CustodyContext, secret: HalfSecret): Uint8Array | null {
  switch (secret.kind) {
    case 'password':
      return ctx.sodium.from_string(secret.password);
    case 'totp':
      return parseSeed(secret.seed);
    case 'hardware-token':
      return null;
  }
}

/**
 * Writes a new generation of a half in one transaction: seals it to every custodian assigned the
 * item, deletes the retired generation's sealed copies, clears who has seen the item (rule 2
 * counts sightings since the last rotation), and journals the change without the secret.
 * Whoever sets a secret learns it, so they must be allowed to obtain it and count as having seen it.
 */
export function replaceHalf(ctx: CustodyContext, actor: UnlockedCustodian, change: NewHalf, entryType: 'half.set' | 'half.rotated'): HalfChange {
  const { accountId, item, kind, secret, token } = change;
  return refusable(ctx, actor, () => {
    requireAccount(ctx, accountId);
    const existing = findHalf(ctx, accountId, item);
    const state = policyStateFor(ctx, accountId);
    // A hardware token has no secret to learn: an admin may register one; anyone else must be allowed the half.
    if (secret !== null || actor.role !== 'admin') enforce(checkCheckout(state, { accountId, item, custodianId: actor.id }), entryType, actor.id);
    const assignees = assigneesOf(ctx, accountId, item)
      .map((id) => ctx.vault.custodians.get(id))
      .filter((c) => c !== null && !c.revoked);
    if (secret !== null && assignees.length === 0) {
      throw new HalfkeyError('CONFLICT', `No custodian is assigned the ${item} half of account ${accountId}; assign one first so the secret can be sealed to them.`, { accountId, item });
    }
    const generation = (existing?.generation ?? 0) + 1;
    statement(ctx, 
        `INSERT INTO custody_halves (account_id, item, kind, generation, set_at, set_by, token_serial, token_location, rotation_due)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
         ON CONFLICT (account_id, item) DO UPDATE SET kind = excluded.kind, generation = excluded.generation, set_at = excluded.set_at,
           set_by = excluded.set_by, token_serial = excluded.token_serial, token_location = excluded.token_location, rotation_due = 0`,
      )
      .run(accountId, item, kind, generation, ctx.now(), actor.id, token?.serial ?? null, token?.location ?? null);
    // The retired generation's ciphertext goes: no one keeps a copy of an old secret.
    statement(ctx, 'DELETE FROM custody_sealed WHERE account_id = ? AND item = ?').run(accountId, item);
    const sealedTo: string[] = [];
    if (secret !== null) {
      for (const custodian of assignees) {
        if (custodian === null) continue;
        sealHalf(ctx, accountId, item, custodian, generation, secret);
        sealedTo.push(custodian.id);
      }
    }
    statement(ctx, 'DELETE FROM custody_seen WHERE account_id = ? AND item = ?').run(accountId, item);
    if (secret !== null) recordSeen(ctx, accountId, item, actor.id, generation, entryType === 'half.set' ? 'set' : 'rotate');
    journal(ctx, entryType, actor, accountId, {
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

/** Only admins change who holds what; anyone else's attempt is a journaled refusal. */
function requireAdmin(actor: UnlockedCustodian, action: string, target: { accountId: string; item: CustodyItem; custodianId: string }, what: string): void {
  if (actor.role === 'admin') return;
  throw new Refusal('NOT_PERMITTED', {
    action,
    ...target,
    rule: 'admin',
    ruleName: 'admins assign',
    message: `Only an admin can ${what}; custodian ${actor.id} is a ${actor.role}.`,
  });
}

/** The outcome of an assignment. `sealed` says whether the custodian now has their own sealed copy of the half's secret. */
export interface AssignResult {
  readonly accountId: string;
  readonly item: CustodyItem;
  readonly custodianId: string;
  readonly sealed: boolean;
}

/**
 * Assigns an item to a custodian (admins only), under the four-eyes rules. If the half already
 * has a secret, it is re-sealed to the new custodian using the key of an unlocked custodian who
 * holds it (`resealWith`, or the admin if they hold it); with no holder present the assignment is
 * recorded unsealed and a later call with `resealWith` completes it.
 */
export function assign(ctx: CustodyContext, by: string, request: { accountId: string; item: CustodyItem; custodianId: string; resealWith?: string | undefined }): AssignResult {
  const actor = actingCustodian(ctx, by);
  const { accountId, item, custodianId } = request;
  const holder = request.resealWith === undefined ? null : actingCustodian(ctx, request.resealWith);
  return refusable(ctx, actor, () => {
    requireAdmin(actor, 'assign', request, 'assign custody');
    requireAccount(ctx, accountId);
    const target = ctx.vault.custodians.get(custodianId);
    if (target === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${custodianId} in this vault.`, { custodianId });
    const already = assigneesOf(ctx, accountId, item).includes(custodianId);
    if (!already) enforce(checkAssignment(policyStateFor(ctx, accountId), { accountId, item, custodianId }), 'assign', custodianId);
    const half = item === 'password' || item === 'mfa' ? findHalf(ctx, accountId, item) : null;
    let sealed = false;
    let resealedBy: string | null = null;
    if (half !== null && half.kind !== 'hardware-token' && (item === 'password' || item === 'mfa')) {
      sealed = sealedBlob(ctx, accountId, item, custodianId, half.generation) !== null;
      const sealer = holder ?? (sealedBlob(ctx, accountId, item, actor.id, half.generation) !== null ? actor : null);
      if (!sealed && sealer !== null) {
        const secret = openHalf(ctx, accountId, item, sealer, half.generation);
        try {
          sealHalf(ctx, accountId, item, target, half.generation, secret);
        } finally {
          ctx.sodium.memzero(secret);
        }
        sealed = true;
        resealedBy = sealer.id;
      }
    }
    if (already && resealedBy === null) {
      throw new HalfkeyError('CONFLICT', `Custodian ${custodianId} is already assigned the ${item} of account ${accountId}${sealed ? '' : '; name an unlocked holder in resealWith to seal it to them'}.`, {
        accountId,
        item,
      });
    }
    if (!already) {
      statement(ctx, 'INSERT INTO custody_assignments (account_id, item, custodian_id, assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?)')
        .run(accountId, item, custodianId, ctx.now(), actor.id);
    }
    journal(ctx, already ? 'half.resealed' : 'custody.assigned', actor, accountId, { item, custodian: custodianId, sealed, resealedBy, generation: half?.generation ?? 0 });
    return { accountId, item, custodianId, sealed };
  });
}

/**
 * Removes an assignment (admins only) and deletes that custodian's sealed copy. Refused while they
 * hold an open checkout of the item, and for the last holder of a secret (it would be lost). What
 * they have seen stays recorded until the half rotates.
 */
export function unassign(ctx: CustodyContext, by: string, request: { accountId: string; item: CustodyItem; custodianId: string }): { accountId: string; item: CustodyItem; custodianId: string } {
  const actor = actingCustodian(ctx, by);
  const { accountId, item, custodianId } = request;
  return refusable(ctx, actor, () => {
    requireAdmin(actor, 'unassign', request, 'remove an assignment');
    requireAccount(ctx, accountId);
    if (!assigneesOf(ctx, accountId, item).includes(custodianId)) {
      throw new HalfkeyError('NOT_FOUND', `Custodian ${custodianId} is not assigned the ${item} of account ${accountId}.`, { accountId, item });
    }
    const open = statement(ctx, 'SELECT id FROM custody_checkouts WHERE account_id = ? AND item = ? AND custodian_id = ? AND closed_at IS NULL LIMIT 1').get(accountId, item, custodianId) as
      | { id: string }
      | undefined;
    if (open) throw new HalfkeyError('CONFLICT', `Custodian ${custodianId} has checkout ${open.id} of this item open; it must be checked in first.`, { accountId, item });
    const half = item === 'password' || item === 'mfa' ? findHalf(ctx, accountId, item) : null;
    let deleted = false;
    if (half !== null && (item === 'password' || item === 'mfa')) {
      const holders = statement(ctx, 'SELECT custodian_id FROM custody_sealed WHERE account_id = ? AND item = ?').all(accountId, item) as { custodian_id: string }[];
      const holds = holders.some((h) => h.custodian_id === custodianId);
      if (holds && holders.length === 1) {
        throw new HalfkeyError(
          'CONFLICT',
          `Custodian ${custodianId} is the only one holding the ${item} half of account ${accountId}; assign and seal it to another custodian first, or the secret would be lost.`,
          { accountId, item },
        );
      }
      deleted = holds;
      statement(ctx, 'DELETE FROM custody_sealed WHERE account_id = ? AND item = ? AND custodian_id = ?').run(accountId, item, custodianId);
    }
    statement(ctx, 'DELETE FROM custody_assignments WHERE account_id = ? AND item = ? AND custodian_id = ?').run(accountId, item, custodianId);
    journal(ctx, 'custody.unassigned', actor, accountId, { item, custodian: custodianId, sealedCopyDeleted: deleted });
    return { accountId, item, custodianId };
  });
}
