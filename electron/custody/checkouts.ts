import { HalfkeyError } from '../../shared/api/result';
import { checkCheckout } from '../../shared/policy/four-eyes';
import type { UnlockedCustodian } from '../vault/custodians';
import { findHalf, requireAccount, type AccountRow, type HalfRow } from './accounts';
import { actingCustodian, journal, newId, statement, type CustodyContext } from './context';
import { policyStateFor, recordSeen } from './policy-state';
import { enforce, refusable, Refusal } from './refusal';
import { sealedBlob, type SecretHalf } from './sealing';

/** A checkout row as stored. */
export interface CheckoutRow {
  readonly id: string;
  readonly account_id: string;
  readonly item: SecretHalf;
  readonly custodian_id: string;
  readonly hardware_token: 0 | 1;
  readonly opened_at: number;
  readonly lease_until: number;
  readonly closed_at: number | null;
  readonly close_kind: 'checked-in' | 'expired' | null;
}

/** An open checkout as the API returns it. */
export interface CheckoutView {
  readonly checkoutId: string;
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly custodianId: string;
  readonly openedAt: number;
  readonly leaseUntil: number;
}

export interface CheckoutRequest {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly reason: string;
  readonly ticket?: string | undefined;
  readonly leaseSeconds: number;
}

function refuse(actor: UnlockedCustodian, action: string, accountId: string, item: string, rule: string, message: string): Refusal {
  return new Refusal('CONFLICT', { action, accountId, item, custodianId: actor.id, rule, ruleName: rule, message });
}

/**
 * The checks every checkout and every use of one share: the four-eyes policy, rotation due,
 * and (when the account asks for it, or for a hardware token) one open checkout per half.
 */
function checkOpen(ctx: CustodyContext, actor: UnlockedCustodian, account: AccountRow, half: HalfRow, action: string): void {
  const { id: accountId } = account;
  const item = half.item;
  enforce(checkCheckout(policyStateFor(ctx, accountId), { accountId, item, custodianId: actor.id }), action, actor.id);
  if (half.rotation_due === 1) {
    throw refuse(actor, action, accountId, item, 'rotation-due', `The ${item} half of account ${accountId} is due for rotation after its last checkout; a custodian must rotate it before it can be checked out again.`);
  }
  const exclusive = account.exclusive_checkout === 1 || half.kind === 'hardware-token';
  if (exclusive) {
    const open = statement(ctx, 'SELECT custodian_id FROM custody_checkouts WHERE account_id = ? AND item = ? AND closed_at IS NULL LIMIT 1').get(accountId, item) as
      | { custodian_id: string }
      | undefined;
    if (open) {
      throw refuse(
        actor,
        action,
        accountId,
        item,
        'exclusive-checkout',
        `The ${item} half of account ${accountId} is already checked out by custodian ${open.custodian_id}, and this account allows one checkout at a time; wait for check-in or lease expiry.`,
      );
    }
  }
}

function requireHalf(ctx: CustodyContext, accountId: string, item: SecretHalf): HalfRow {
  const half = findHalf(ctx, accountId, item);
  if (half === null) throw new HalfkeyError('NOT_FOUND', `The ${item} half of account ${accountId} has not been set yet.`, { accountId, item });
  return half;
}

function openCheckout(ctx: CustodyContext, actor: UnlockedCustodian, request: CheckoutRequest, half: HalfRow): CheckoutView {
  const id = newId(ctx);
  const openedAt = ctx.now();
  const leaseUntil = openedAt + request.leaseSeconds * 1000;
  const token = half.kind === 'hardware-token';
  statement(ctx, 
      `INSERT INTO custody_checkouts (id, account_id, item, custodian_id, hardware_token, reason, ticket, opened_at, lease_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(id, request.accountId, request.item, actor.id, token ? 1 : 0, request.reason, request.ticket ?? null, openedAt, leaseUntil);
  journal(ctx, 'checkout.opened', actor, request.accountId, {
    checkout: id,
    item: request.item,
    reason: request.reason,
    ticket: request.ticket ?? null,
    leaseUntil,
    ...(token ? { tokenSerial: half.token_serial ?? '' } : {}),
  });
  return { checkoutId: id, accountId: request.accountId, item: request.item, custodianId: actor.id, openedAt, leaseUntil };
}

/** Opens a checkout of a half for the acting custodian, with a reason and a lease; every refusal is journaled. */
export function checkout(ctx: CustodyContext, by: string, request: CheckoutRequest): CheckoutView {
  const actor = actingCustodian(ctx, by);
  sweepLeases(ctx);
  return refusable(ctx, actor, () => {
    const account = requireAccount(ctx, request.accountId);
    const half = requireHalf(ctx, request.accountId, request.item);
    if (half.kind === 'hardware-token') {
      throw new HalfkeyError('CONFLICT', `The MFA half of account ${request.accountId} is a hardware token; check it out with token-checkout.`, { accountId: request.accountId });
    }
    checkOpen(ctx, actor, account, half, 'checkout');
    if (sealedBlob(ctx, request.accountId, request.item, actor.id, half.generation) === null) {
      throw new HalfkeyError(
        'CONFLICT',
        `The ${request.item} half of account ${request.accountId} has not been sealed to custodian ${actor.id} yet; a custodian who holds it must re-seal it to them first.`,
        { accountId: request.accountId, item: request.item },
      );
    }
    return openCheckout(ctx, actor, request, half);
  });
}

/** Checks out the hardware token of an account's MFA half; a token is a physical object, so one checkout at a time. */
export function tokenCheckout(ctx: CustodyContext, by: string, request: Omit<CheckoutRequest, 'item'>): CheckoutView & { serial: string; location: string } {
  const actor = actingCustodian(ctx, by);
  sweepLeases(ctx);
  return refusable(ctx, actor, () => {
    const account = requireAccount(ctx, request.accountId);
    const half = requireHalf(ctx, request.accountId, 'mfa');
    if (half.kind !== 'hardware-token') {
      throw new HalfkeyError('CONFLICT', `The MFA half of account ${request.accountId} is not a hardware token; use checkout.`, { accountId: request.accountId });
    }
    checkOpen(ctx, actor, account, half, 'token-checkout');
    const view = openCheckout(ctx, actor, { ...request, item: 'mfa' }, half);
    // Holding the token is holding the MFA half: it counts as seen for rule 2.
    recordSeen(ctx, request.accountId, 'mfa', actor.id, half.generation, 'token');
    return { ...view, serial: half.token_serial ?? '', location: half.token_location ?? '' };
  });
}

/** The checkout, which must belong to the acting custodian. */
export function requireCheckout(ctx: CustodyContext, actor: UnlockedCustodian, checkoutId: string, action: string): CheckoutRow {
  const row = statement(ctx, 'SELECT * FROM custody_checkouts WHERE id = ?').get(checkoutId) as CheckoutRow | undefined;
  if (!row) throw new HalfkeyError('NOT_FOUND', `There is no checkout ${checkoutId}.`, { checkoutId });
  if (row.custodian_id !== actor.id) {
    throw new Refusal('NOT_PERMITTED', {
      action,
      accountId: row.account_id,
      item: row.item,
      custodianId: actor.id,
      rule: 'checkout-holder',
      ruleName: 'checkout-holder',
      message: `Checkout ${checkoutId} belongs to custodian ${row.custodian_id}; only they can use or check it in.`,
    });
  }
  return row;
}

/** Checks a checkout is still open and within its lease at the time of use. */
export function requireLive(ctx: CustodyContext, row: CheckoutRow): void {
  if (row.closed_at !== null) {
    throw new HalfkeyError('CONFLICT', `Checkout ${row.id} is closed (${row.close_kind ?? 'closed'}); open a new checkout.`, { checkoutId: row.id });
  }
  if (row.lease_until <= ctx.now()) throw new HalfkeyError('CONFLICT', `The lease of checkout ${row.id} has expired; open a new checkout.`, { checkoutId: row.id });
}

function close(ctx: CustodyContext, row: CheckoutRow, kind: 'checked-in' | 'expired'): boolean {
  statement(ctx, 'UPDATE custody_checkouts SET closed_at = ?, close_kind = ? WHERE id = ?').run(ctx.now(), kind, row.id);
  const account = requireAccount(ctx, row.account_id);
  // Rotation after checkout applies to the password: once it has left the vault, it is due for a new one.
  const rotationDue = row.item === 'password' && account.rotate_after_checkout === 1;
  if (rotationDue) statement(ctx, "UPDATE custody_halves SET rotation_due = 1 WHERE account_id = ? AND item = 'password'").run(row.account_id);
  return rotationDue;
}

/** Checks a checkout in; if the account requires rotation after a password checkout, the half becomes "rotation due". */
export function checkin(ctx: CustodyContext, by: string, checkoutId: string, location?: string): { checkoutId: string; rotationDue: boolean } {
  const actor = actingCustodian(ctx, by);
  return refusable(ctx, actor, () => {
    const row = requireCheckout(ctx, actor, checkoutId, 'checkin');
    if (row.closed_at !== null) throw new HalfkeyError('CONFLICT', `Checkout ${checkoutId} is already closed (${row.close_kind ?? 'closed'}).`, { checkoutId });
    if (location !== undefined) {
      if (row.hardware_token !== 1) throw new HalfkeyError('CONFLICT', `Checkout ${checkoutId} is not of a hardware token; use checkin.`, { checkoutId });
      statement(ctx, "UPDATE custody_halves SET token_location = ? WHERE account_id = ? AND item = 'mfa'").run(location, row.account_id);
    }
    const rotationDue = close(ctx, row, 'checked-in');
    journal(ctx, 'checkout.closed', actor, row.account_id, { checkout: checkoutId, item: row.item, rotationDue, ...(location !== undefined ? { tokenLocation: location } : {}) });
    return { checkoutId, rotationDue };
  });
}

/** Closes every checkout whose lease has run out, journaling `lease.expired` for each (by the device); returns how many. */
export function sweepLeases(ctx: CustodyContext): number {
  const due = () => statement(ctx, 'SELECT * FROM custody_checkouts WHERE closed_at IS NULL AND lease_until <= ?').all(ctx.now()) as CheckoutRow[];
  if (due().length === 0) return 0;
  return ctx.db.transaction(() => {
    // Read again inside the transaction: another process may have swept them meanwhile.
    const rows = due();
    for (const row of rows) {
      const rotationDue = close(ctx, row, 'expired');
      journal(ctx, 'lease.expired', null, row.account_id, { checkout: row.id, item: row.item, custodian: row.custodian_id, leaseUntil: row.lease_until, rotationDue });
    }
    return rows.length;
  }).immediate();
}

/** A checkout as listed for the UI (no secret). */
export interface CheckoutListing extends CheckoutView {
  readonly reason: string;
  readonly ticket: string | null;
  readonly hardwareToken: boolean;
  readonly closedAt: number | null;
  readonly closeKind: 'checked-in' | 'expired' | null;
}

/** Checkouts, newest first, filtered by account and/or custodian; open ones only unless `open` is false. */
export function listCheckouts(ctx: CustodyContext, filter: { accountId?: string | undefined; custodianId?: string | undefined; open: boolean; limit: number }): CheckoutListing[] {
  sweepLeases(ctx);
  const rows = statement(
    ctx,
    `SELECT * FROM custody_checkouts WHERE (@account IS NULL OR account_id = @account) AND (@custodian IS NULL OR custodian_id = @custodian)
       AND (@open = 0 OR closed_at IS NULL) ORDER BY opened_at DESC, id LIMIT @limit`,
  ).all({ account: filter.accountId ?? null, custodian: filter.custodianId ?? null, open: filter.open ? 1 : 0, limit: filter.limit }) as (CheckoutRow & {
    reason: string;
    ticket: string | null;
  })[];
  return rows.map((r) => ({
    checkoutId: r.id,
    accountId: r.account_id,
    item: r.item,
    custodianId: r.custodian_id,
    openedAt: r.opened_at,
    leaseUntil: r.lease_until,
    reason: r.reason,
    ticket: r.ticket,
    hardwareToken: r.hardware_token === 1,
    closedAt: r.closed_at,
    closeKind: r.close_kind,
  }));
}
