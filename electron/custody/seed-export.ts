import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { encodeBase32 } from '../../shared/otp/base32';
import { deserializeTotpParams } from '../../shared/otp/totp';
import type { ApplyRun, ProposalView } from '../proposals/proposal-service';
import type { CustodyContext, CustodyRequest } from './context';
import type { HalfRow, SeedExportRow } from './custody-store';
import { Refusal } from './refusal';
import { openHalf } from './sealing';
import { otpauthUri } from './totp-seed';

/** How long a seed-export request stays open for approval and collection. */
export const SEED_EXPORT_TTL_MS = 15 * 60 * 1000;

/** An open seed-export request as listed for the approver and the requester. */
export interface SeedExportListing {
  readonly requestId: string;
  /** The proposal the approver approves with proposal:approve (null for requests from before exports were proposals). */
  readonly proposalId: string | null;
  readonly accountId: string;
  readonly requestedBy: string;
  readonly reason: string;
  readonly requestedAt: number;
  readonly expiresAt: number;
  readonly approvedBy: string | null;
}

/** A seed-export request as proposed and as journaled when approved: the request, the half's generation, the reason. */
interface SeedExportChange {
  readonly account: string;
  readonly request: string;
  readonly generation: number;
  readonly reason: string;
}

/**
 * Export of an account's TOTP seed (e.g. to move it to a new device) under dual control: an MFA
 * custodian requests it with a reason, which is a proposal (`seed-export.approved`); a second
 * custodian (an admin, or another MFA custodian of the account) approves it with proposal:approve;
 * then the requester collects it once, opened with their own key while present.
 */
export class SeedExports {
  constructor(private readonly ctx: CustodyContext) {}

  /** Registers how an approved seed export applies with the vault's proposal service. */
  register(): void {
    this.ctx.vault.proposals.register('seed-export.approved', {
      describe: (c) => {
        const change = changeOf(c);
        return `Let the requester export the TOTP seed of account ${change.account}: ${change.reason}`;
      },
      check: (c) => {
        this.requireOpen(changeOf(c).request);
      },
      apply: (c, run) => this.applyApproval(changeOf(c), run),
    });
  }

  /** Step 1: an MFA custodian (present) asks to export the seed, with a reason: a proposal for a second custodian to approve. */
  request(request: CustodyRequest<'custody:seed-export-request'>): { requestId: string; expiresAt: number; proposal: ProposalView } {
    const { ctx } = this;
    const { accountId, reason } = request;
    const actor = ctx.presentCustodian(request.by);
    return ctx.refusable(actor, () => {
      ctx.requireAccount(accountId);
      const half = this.requireTotpHalf(accountId);
      ctx.mayObtain(actor, accountId, 'mfa', 'seed-export-request');
      const requestId = ctx.newId();
      // The request row comes first (the proposal's check reads it), then takes the proposal's id and times.
      const requestedAt = ctx.now();
      ctx.store.addSeedExport({
        id: requestId,
        proposal_id: null,
        account_id: accountId,
        requested_by: actor.id,
        reason,
        requested_at: requestedAt,
        expires_at: requestedAt + SEED_EXPORT_TTL_MS,
        generation: half.generation,
      });
      const proposal = ctx.vault.proposals.propose(
        actor.id,
        'seed-export.approved',
        { request: requestId, generation: half.generation, reason },
        { account: accountId, ttlMs: SEED_EXPORT_TTL_MS },
      );
      ctx.store.linkSeedExportProposal(requestId, proposal.id, proposal.proposedAt, proposal.expiresAt);
      return { requestId, expiresAt: proposal.expiresAt, proposal };
    });
  }

  /**
   * Step 2, applied when a second custodian approves the proposal: only an admin or another MFA
   * custodian of the account may (dual control already excludes the requester); the approver sees nothing.
   */
  private applyApproval(c: SeedExportChange, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    const approver = run.approver;
    return ctx.refusable(approver, () => {
      const row = this.requireOpen(c.request);
      if (row.approved_by !== null)
        throw new HalfkeyError('CONFLICT', `Seed-export request ${row.id} is already approved by ${row.approved_by}.`, {
          requestId: row.id,
        });
      if (approver.role !== 'admin' && !ctx.store.assignees(row.account_id, 'mfa').includes(approver.id)) {
        const message = `Custodian ${approver.id} may not approve: only an admin or another custodian assigned the MFA half of account ${row.account_id} can.`;
        throw new Refusal('NOT_PERMITTED', {
          action: 'seed-export-approve',
          accountId: row.account_id,
          item: 'mfa',
          custodianId: approver.id,
          rule: 'approver-role',
          ruleName: 'approver-role',
          message,
        });
      }
      ctx.store.approveSeedExport(row.id, approver.id, ctx.now());
      return { seq: run.commit({ requestedBy: row.requested_by }).seq };
    });
  }

  /** Step 3: the requester, present, collects the approved seed, once, opened with their own key. */
  collect(request: CustodyRequest<'custody:seed-export-collect'>): { otpauthUri: string; base32: string } {
    const { ctx } = this;
    const { requestId } = request;
    const actor = ctx.presentCustodian(request.by);
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
      proposalId: r.proposal_id,
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

/** Reads a stored seed-export change back; custody proposed exactly these members, so a mismatch is a damaged row. */
function changeOf(change: JsonObject): SeedExportChange {
  const { account, request, generation, reason } = change;
  if (typeof account !== 'string' || typeof request !== 'string' || typeof generation !== 'number' || typeof reason !== 'string') {
    throw new HalfkeyError(
      'INTERNAL',
      'A stored seed-export proposal does not name its account, request, generation and reason; the vault file was altered.',
    );
  }
  return { account, request, generation, reason };
}
