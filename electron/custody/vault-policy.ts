import type { z } from 'zod';
import { POLICY_LIMITS, type policyChannels, type VaultPolicy } from '../../shared/api/channels/policy';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { organisationConflicts } from '../../shared/policy/four-eyes';
import type { ApplyRun, ProposalView } from '../proposals/proposal-service';
import type { CustodyContext } from './context';
import { Refusal } from './refusal';

type PolicyChangeRequest = z.output<(typeof policyChannels)['policy:change']['request']>;

/** The product's policy for a vault that has never changed it: rule 3 as chosen at creation, 7-day leases, 5-minute idle lock. */
export const DEFAULT_POLICY: Omit<VaultPolicy, 'separateOrganisations'> = { maxLeaseSeconds: 7 * 24 * 3600, idleLockSeconds: 300 };

const FIELDS = ['separateOrganisations', 'maxLeaseSeconds', 'idleLockSeconds'] as const;

/**
 * The vault policy (docs/custody.md, "Vault policy"): rule 3 on or off, the longest lease a checkout
 * may ask for, and the idle lock. It changes only by a two-person `policy.changed`: an admin proposes
 * the whole new policy together with the one it replaces, a second custodian approves.
 */
export class VaultPolicyService {
  constructor(private readonly ctx: CustodyContext) {}

  /**
   * Writes the policy row the first time custody opens a vault (rule 3 as chosen when it was created),
   * and puts the stored idle lock in force.
   */
  open(): void {
    const { ctx } = this;
    if (ctx.organisations.policy() === null) {
      ctx.organisations.writePolicy({
        separate_organisations: ctx.vault.options.separateOrganisations ? 1 : 0,
        max_lease_seconds: DEFAULT_POLICY.maxLeaseSeconds,
        idle_lock_seconds: DEFAULT_POLICY.idleLockSeconds,
      });
    }
    ctx.vault.custodians.setIdleLockMs(this.current().idleLockSeconds * 1000);
  }

  register(): void {
    this.ctx.vault.proposals.register('policy.changed', {
      describe: (c) => `Change the vault policy: ${describe(c)}`,
      check: (c) => this.check(c, null),
      apply: (c, run) => this.apply(c, run),
    });
  }

  current(): VaultPolicy {
    const row = this.ctx.organisations.policy();
    if (row === null) throw new HalfkeyError('INTERNAL', 'The vault has no policy row; custody did not open it.');
    return {
      separateOrganisations: row.separate_organisations === 1,
      maxLeaseSeconds: row.max_lease_seconds,
      idleLockSeconds: row.idle_lock_seconds,
    };
  }

  /** An admin proposes a new policy (fields not given stay as they are); refused at once when it could not be applied now. */
  propose(request: PolicyChangeRequest): { proposal: ProposalView } {
    const { ctx } = this;
    const actor = ctx.presentCustodian(request.by);
    const previous = this.current();
    const next: VaultPolicy = {
      separateOrganisations: request.separateOrganisations ?? previous.separateOrganisations,
      maxLeaseSeconds: request.maxLeaseSeconds ?? previous.maxLeaseSeconds,
      idleLockSeconds: request.idleLockSeconds ?? previous.idleLockSeconds,
    };
    const change = { ...next, previous: { ...previous } };
    const proposal = ctx.refusable(actor, () => {
      this.check(change, actor.id);
      return ctx.vault.proposals.propose(actor.id, 'policy.changed', change);
    });
    return { proposal };
  }

  /**
   * Why the policy cannot change now: a value out of bounds, no change, the policy changed since it
   * was proposed, or rule 3 switched on while custody breaks it. `actor` (null before approval) is
   * who a rule 3 refusal is journaled for.
   */
  private check(c: JsonObject, actor: string | null): VaultPolicy {
    const next = policyOf(c);
    const previous = policyOf(c.previous);
    const current = this.current();
    if (FIELDS.every((f) => current[f] === previous[f]) === false)
      throw new HalfkeyError('CONFLICT', 'The vault policy changed after this was proposed; propose again from the policy as it is now.');
    if (FIELDS.every((f) => next[f] === current[f]))
      throw new HalfkeyError('CONFLICT', 'The proposed policy is the policy in force; nothing would change.');
    if (next.separateOrganisations && !current.separateOrganisations) {
      const conflicts = organisationConflicts(this.ctx.vaultPolicyState());
      const first = conflicts[0];
      if (first !== undefined) {
        const message = `Rule 3 cannot be switched on while custody breaks it (${conflicts.length} place${conflicts.length === 1 ? '' : 's'}): ${first.message.replace(/^Rule \d \([^)]*\): /, '')} Unassign, or rotate the half that was seen, first.`;
        const facts = {
          action: 'policy-change',
          accountId: first.accountId,
          item: first.item,
          custodianId: actor ?? '',
          rule: 3,
          ruleName: first.ruleName,
          message,
        };
        if (actor === null) throw new HalfkeyError('POLICY_REFUSED', message, { rule: 3, accountId: first.accountId, item: first.item });
        throw new Refusal('POLICY_REFUSED', facts);
      }
    }
    return next;
  }

  private apply(c: JsonObject, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    const result = ctx.refusable(run.approver, () => {
      const next = this.check(c, run.approver.id);
      ctx.organisations.writePolicy({
        separate_organisations: next.separateOrganisations ? 1 : 0,
        max_lease_seconds: next.maxLeaseSeconds,
        idle_lock_seconds: next.idleLockSeconds,
      });
      return { seq: run.commit().seq };
    });
    ctx.vault.custodians.setIdleLockMs(this.current().idleLockSeconds * 1000);
    return result;
  }
}

/** A stored policy change read back; the proposal service stored exactly what was proposed, so a bad shape is a damaged row. */
function policyOf(value: unknown): VaultPolicy {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const within = (name: keyof typeof POLICY_LIMITS) =>
    typeof v[name] === 'number' && Number.isInteger(v[name]) && v[name] >= POLICY_LIMITS[name].min && v[name] <= POLICY_LIMITS[name].max;
  if (typeof v.separateOrganisations !== 'boolean' || !within('maxLeaseSeconds') || !within('idleLockSeconds'))
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      'A policy names separateOrganisations (true or false), maxLeaseSeconds and idleLockSeconds within their bounds.',
    );
  return {
    separateOrganisations: v.separateOrganisations,
    maxLeaseSeconds: v.maxLeaseSeconds as number,
    idleLockSeconds: v.idleLockSeconds as number,
  };
}

function describe(c: JsonObject): string {
  const next = policyOf(c);
  const previous = policyOf(c.previous);
  const parts: string[] = [];
  if (next.separateOrganisations !== previous.separateOrganisations)
    parts.push(`rule 3 (separate organisations) ${next.separateOrganisations ? 'on' : 'off'}`);
  if (next.maxLeaseSeconds !== previous.maxLeaseSeconds)
    parts.push(`longest lease ${duration(previous.maxLeaseSeconds)} → ${duration(next.maxLeaseSeconds)}`);
  if (next.idleLockSeconds !== previous.idleLockSeconds)
    parts.push(`idle lock ${duration(previous.idleLockSeconds)} → ${duration(next.idleLockSeconds)}`);
  return parts.length === 0 ? 'no change' : parts.join(', ');
}

/** 90 → "90 s", 3600 → "1 h", 86400 → "1 d". */
export function duration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
