import { HalfkeyError } from '../../shared/api/result';
import { checkCheckout } from '../../shared/policy/four-eyes';
import { deserializeTotpParams } from '../../shared/otp/totp';
import { encodeBase32 } from '../../shared/otp/base32';
import { assigneesOf, findHalf, requireAccount } from './accounts';
import { actingCustodian, journal, newId, statement, type CustodyContext } from './context';
import { policyStateFor, recordSeen } from './policy-state';
import { enforce, refusable, Refusal } from './refusal';
import { openHalf } from './sealing';
import { otpauthUri } from './totp-seed';

/** How long a seed-export request stays open for approval and collection. */
export const SEED_EXPORT_TTL_MS = 15 * 60 * 1000;

interface ExportRow {
  id: string;
  account_id: string;
  requested_by: string;
  requested_at: number;
  expires_at: number;
  generation: number;
  approved_by: string | null;
  collected_at: number | null;
}

function requireTotpHalf(ctx: CustodyContext, accountId: string) {
  const half = findHalf(ctx, accountId, 'mfa');
  if (half === null || half.kind !== 'totp') throw new HalfkeyError('CONFLICT', `Account ${accountId} has no TOTP seed to export.`, { accountId });
  return half;
}

function requireRequest(ctx: CustodyContext, requestId: string): ExportRow {
  const row = statement(ctx, 'SELECT * FROM custody_seed_exports WHERE id = ?').get(requestId) as ExportRow | undefined;
  if (!row) throw new HalfkeyError('NOT_FOUND', `There is no seed-export request ${requestId}.`, { requestId });
  if (row.expires_at <= ctx.now()) throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} has expired; make a new request.`, { requestId });
  if (row.collected_at !== null) throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} has already been collected.`, { requestId });
  if (requireTotpHalf(ctx, row.account_id).generation !== row.generation) {
    throw new HalfkeyError('CONFLICT', `The MFA seed of account ${row.account_id} was rotated after request ${requestId}; make a new request.`, { requestId });
  }
  return row;
}

/** Step 1: an MFA custodian asks to export the seed (e.g. to move it to a new device), with a reason. */
export function requestSeedExport(ctx: CustodyContext, by: string, accountId: string, reason: string): { requestId: string; expiresAt: number } {
  const actor = actingCustodian(ctx, by);
  return refusable(ctx, actor, () => {
    requireAccount(ctx, accountId);
    const half = requireTotpHalf(ctx, accountId);
    enforce(checkCheckout(policyStateFor(ctx, accountId), { accountId, item: 'mfa', custodianId: actor.id }), 'seed-export-request', actor.id);
    const requestId = newId(ctx);
    const expiresAt = ctx.now() + SEED_EXPORT_TTL_MS;
    statement(ctx, 'INSERT INTO custody_seed_exports (id, account_id, requested_by, reason, requested_at, expires_at, generation) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(requestId, accountId, actor.id, reason, ctx.now(), expiresAt, half.generation);
    journal(ctx, 'seed.export-requested', actor, accountId, { request: requestId, reason, expiresAt, generation: half.generation });
    return { requestId, expiresAt };
  });
}

/** Step 2: a second, different custodian approves: another MFA custodian of the account, or an admin. */
export function approveSeedExport(ctx: CustodyContext, by: string, requestId: string): { requestId: string; approvedBy: string } {
  const actor = actingCustodian(ctx, by);
  return refusable(ctx, actor, () => {
    const row = requireRequest(ctx, requestId);
    const refuse = (rule: string, message: string) =>
      new Refusal('NOT_PERMITTED', { action: 'seed-export-approve', accountId: row.account_id, item: 'mfa', custodianId: actor.id, rule, ruleName: rule, message });
    if (row.approved_by !== null) throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} is already approved by ${row.approved_by}.`, { requestId });
    if (row.requested_by === actor.id) throw refuse('second-custodian', 'A seed export needs a second custodian: the requester cannot approve their own request.');
    if (actor.role !== 'admin' && !assigneesOf(ctx, row.account_id, 'mfa').includes(actor.id)) {
      throw refuse('approver-role', `Custodian ${actor.id} may not approve: only an admin or another custodian assigned the MFA half of account ${row.account_id} can.`);
    }
    statement(ctx, 'UPDATE custody_seed_exports SET approved_by = ?, approved_at = ? WHERE id = ?').run(actor.id, ctx.now(), requestId);
    journal(ctx, 'seed.export-approved', actor, row.account_id, { request: requestId, requestedBy: row.requested_by });
    return { requestId, approvedBy: actor.id };
  });
}

/** Step 3: the requester collects the approved seed, once, opened with their own key. */
export function collectSeedExport(ctx: CustodyContext, by: string, requestId: string): { otpauthUri: string; base32: string } {
  const actor = actingCustodian(ctx, by);
  return refusable(ctx, actor, () => {
    const row = requireRequest(ctx, requestId);
    if (row.requested_by !== actor.id) throw new HalfkeyError('NOT_PERMITTED', `Only the requester (${row.requested_by}) can collect seed-export request ${requestId}.`, { requestId });
    if (row.approved_by === null) throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} is waiting for a second custodian's approval.`, { requestId });
    enforce(checkCheckout(policyStateFor(ctx, row.account_id), { accountId: row.account_id, item: 'mfa', custodianId: actor.id }), 'seed-export-collect', actor.id);
    const blob = openHalf(ctx, row.account_id, 'mfa', actor, row.generation);
    try {
      const params = deserializeTotpParams(blob);
      const result = { otpauthUri: otpauthUri(params), base32: encodeBase32(params.secret) };
      ctx.sodium.memzero(params.secret);
      statement(ctx, 'UPDATE custody_seed_exports SET collected_at = ? WHERE id = ?').run(ctx.now(), requestId);
      recordSeen(ctx, row.account_id, 'mfa', actor.id, row.generation, 'seed-export');
      journal(ctx, 'seed.exported', actor, row.account_id, { request: requestId, approvedBy: row.approved_by, generation: row.generation });
      return result;
    } finally {
      ctx.sodium.memzero(blob);
    }
  });
}

/** Open seed-export requests (not expired, not collected), newest first, for the approver to find. */
export function listSeedExports(
  ctx: CustodyContext,
  accountId?: string,
): { requestId: string; accountId: string; requestedBy: string; reason: string; requestedAt: number; expiresAt: number; approvedBy: string | null }[] {
  const rows = statement(
    ctx,
    'SELECT * FROM custody_seed_exports WHERE (@account IS NULL OR account_id = @account) AND collected_at IS NULL AND expires_at > @now ORDER BY requested_at DESC, id',
  ).all({ account: accountId ?? null, now: ctx.now() }) as (ExportRow & { reason: string })[];
  return rows.map((r) => ({
    requestId: r.id,
    accountId: r.account_id,
    requestedBy: r.requested_by,
    reason: r.reason,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    approvedBy: r.approved_by,
  }));
}
