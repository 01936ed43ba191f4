import { HalfkeyError } from '../../shared/api/result';
import { encodeBase32 } from '../../shared/otp/base32';
import { deserializeTotpParams } from '../../shared/otp/totp';
import type { CustodyContext, CustodyRequest } from './context';
import type { HalfRow, SeedExportRow } from './custody-store';
import { Refusal } from './refusal';
import { openHalf } from './sealing';
import { otpauthUri } from './totp-seed';

/** How long a seed-export request stays open for approval and collection. */
export const SEED_EXPORT_TTL_MS = 15 * 60 * 1000;

/** An open seed-export request as listed for the approver. */
export interface SeedExportListing {
  readonly requestId: string;
  readonly accountId: string;
  readonly requestedBy: string;
  readonly reason: string;
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly approvedBy: string | null;
}

/**
 * Export of an account's TOTP seed (e.g. to move it to a new device) under four eyes: an MFA
 * custodian requests it with a reason, a second, different custodian approves, and the requester
 * collects it once, opened with their own key.
 */
export class SeedExports {
  constructor(private readonly ctx: CustodyContext) {}

  /** Step 1: an MFA custodian asks to export the seed, with a reason. */
  request(request: CustodyRequest<'custody:seed-export-request'>): { requestId: string; expiresAt: number } {
    const { ctx } = this;
    const { accountId, reason } = request;
    const actor = ctx.actingCustodian(request.by);
    return ctx.refusable(actor, () => {
      ctx.requireAccount(accountId);
      const half = this.requireTotpHalf(accountId);
      ctx.mayObtain(actor, accountId, 'mfa', 'seed-export-request');
      const requestId = ctx.newId();
      const expiresAt = ctx.now() + SEED_EXPORT_TTL_MS;
      ctx.store.addSeedExport({
        id: requestId,
        account_id: accountId,
        requested_by: actor.id,
        reason,
        requested_at: ctx.now(),
        expires_at: expiresAt,
        generation: half.generation,
      });
      ctx.journal('seed.export-requested', actor, accountId, { request: requestId, reason, expiresAt, generation: half.generation });
      return { requestId, expiresAt };
    });
  }

  /** Step 2: a second, different custodian approves: another MFA custodian of the account, or an admin. */
  approve(request: CustodyRequest<'custody:seed-export-approve'>): { requestId: string; approvedBy: string } {
    const { ctx } = this;
    const { requestId } = request;
    const actor = ctx.actingCustodian(request.by);
    return ctx.refusable(actor, () => {
      const row = this.requireOpen(requestId);
      const refuse = (rule: string, message: string) =>
        new Refusal('NOT_PERMITTED', {
          action: 'seed-export-approve',
          accountId: row.account_id,
          item: 'mfa',
          custodianId: actor.id,
          rule,
          ruleName: rule,
          message,
        });
      if (row.approved_by !== null)
        throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} is already approved by ${row.approved_by}.`, { requestId });
      if (row.requested_by === actor.id)
        throw refuse('second-custodian', 'A seed export needs a second custodian: the requester cannot approve their own request.');
      if (actor.role !== 'admin' && !ctx.store.assignees(row.account_id, 'mfa').includes(actor.id)) {
        throw refuse(
          'approver-role',
          `Custodian ${actor.id} may not approve: only an admin or another custodian assigned the MFA half of account ${row.account_id} can.`,
        );
      }
      ctx.store.approveSeedExport(requestId, actor.id, ctx.now());
      ctx.journal('seed.export-approved', actor, row.account_id, { request: requestId, requestedBy: row.requested_by });
      return { requestId, approvedBy: actor.id };
    });
  }

  /** Step 3: the requester collects the approved seed, once, opened with their own key. */
  collect(request: CustodyRequest<'custody:seed-export-collect'>): { otpauthUri: string; base32: string } {
    const { ctx } = this;
    const { requestId } = request;
    const actor = ctx.actingCustodian(request.by);
    return ctx.refusable(actor, () => {
      const row = this.requireOpen(requestId);
      if (row.requested_by !== actor.id)
        throw new HalfkeyError('NOT_PERMITTED', `Only the requester (${row.requested_by}) can collect seed-export request ${requestId}.`, {
          requestId,
        });
      if (row.approved_by === null)
        throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} is waiting for a second custodian's approval.`, { requestId });
      ctx.mayObtain(actor, row.account_id, 'mfa', 'seed-export-collect');
      const blob = openHalf(ctx, row.account_id, 'mfa', actor, row.generation);
      try {
        const params = deserializeTotpParams(blob);
        const result = { otpauthUri: otpauthUri(params), base32: encodeBase32(params.secret) };
        ctx.sodium.memzero(params.secret);
        ctx.store.seedExportCollected(requestId, ctx.now());
        ctx.store.recordSeen(row.account_id, 'mfa', actor.id, row.generation, ctx.now(), 'seed-export');
        ctx.journal('seed.exported', actor, row.account_id, {
          request: requestId,
          approvedBy: row.approved_by,
          generation: row.generation,
        });
        return result;
      } finally {
        ctx.sodium.memzero(blob);
      }
    });
  }

  /** Open seed-export requests (not expired, not collected), newest first, for the approver to find. */
  list(request: CustodyRequest<'custody:seed-export-list'>): SeedExportListing[] {
    return this.ctx.store.openSeedExports(request.accountId ?? null, this.ctx.now()).map((r) => ({
      requestId: r.id,
      accountId: r.account_id,
      requestedBy: r.requested_by,
      reason: r.reason,
      requestedAt: r.requested_at,
      expiresAt: r.expires_at,
      approvedBy: r.approved_by,
    }));
  }

  private requireTotpHalf(accountId: string): HalfRow {
    const half = this.ctx.store.half(accountId, 'mfa');
    if (half === null || half.kind !== 'totp')
      throw new HalfkeyError('CONFLICT', `Account ${accountId} has no TOTP seed to export.`, { accountId });
    return half;
  }

  /** The request, still open: not expired, not collected, and the seed not rotated since. */
  private requireOpen(requestId: string): SeedExportRow {
    const { ctx } = this;
    const row = ctx.store.seedExport(requestId);
    if (row === null) throw new HalfkeyError('NOT_FOUND', `There is no seed-export request ${requestId}.`, { requestId });
    if (row.expires_at <= ctx.now())
      throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} has expired; make a new request.`, { requestId });
    if (row.collected_at !== null)
      throw new HalfkeyError('CONFLICT', `Seed-export request ${requestId} has already been collected.`, { requestId });
    if (this.requireTotpHalf(row.account_id).generation !== row.generation) {
      throw new HalfkeyError(
        'CONFLICT',
        `The MFA seed of account ${row.account_id} was rotated after request ${requestId}; make a new request.`,
        { requestId },
      );
    }
    return row;
  }
}
