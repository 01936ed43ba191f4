import type { z } from 'zod';
import type { organisationChannels } from '../../shared/api/channels/organisation';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { isCustodianRole, type CustodianRole } from '../../shared/journal/dual-control';
import { describeItem, roleForItem, type CustodyItem } from '../../shared/policy/four-eyes';
import type { ApplyRun, ProposalView } from '../proposals/proposal-service';
import type { CustodyContext } from './context';

type RoleChangeRequest = z.output<(typeof organisationChannels)['custodian:role-change']['request']>;

/**
 * A custodian's role, changed by a two-person `custodian.role-changed` (docs/custody.md, "Roles"):
 * an admin proposes, a second custodian (never the one whose role changes) approves. The role
 * decides which half a custodian may hold, so a role change is refused while the custodian holds
 * something the new role may not, or has a checkout open: unassign first.
 */
export class CustodianRoles {
  constructor(private readonly ctx: CustodyContext) {}

  register(): void {
    this.ctx.vault.proposals.register('custodian.role-changed', {
      describe: (c) => `Make ${this.ctx.vault.custodians.get(String(c.custodian))?.name ?? String(c.custodian)} a ${String(c.role)}`,
      check: (c) => this.check(c),
      apply: (c, run) => this.apply(c, run),
    });
  }

  /** An admin proposes a custodian's new role; refused at once when it could not be applied now. */
  propose(request: RoleChangeRequest): { proposal: ProposalView } {
    const change = { custodian: request.custodianId, role: request.role };
    this.check(change);
    return { proposal: this.ctx.vault.proposals.propose(request.by, 'custodian.role-changed', change) };
  }

  /** Why the role cannot change now: unknown or revoked custodian, same role, the last admin, a holding the new role may not keep, an open checkout. */
  private check(c: JsonObject): CustodianRole {
    const { ctx } = this;
    const id = String(c.custodian);
    const role = c.role;
    if (!isCustodianRole(role)) throw new HalfkeyError('INVALID_PAYLOAD', 'The proposal names an unknown role.', { field: 'role' });
    const custodian = ctx.vault.custodians.get(id);
    if (custodian === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`, { custodianId: id });
    if (custodian.revoked) throw new HalfkeyError('CONFLICT', `${custodian.name} has been revoked; a revoked custodian keeps no role.`);
    if (custodian.role === role) throw new HalfkeyError('CONFLICT', `${custodian.name} already is a ${role}.`);
    const admins = ctx.vault.custodians.list().filter((x) => x.role === 'admin' && !x.revoked);
    if (custodian.role === 'admin' && admins.length <= 1)
      throw new HalfkeyError('NOT_PERMITTED', `${custodian.name} is the last admin; make another custodian an admin first.`, {
        rule: 'last-admin',
      });
    const { assignments } = ctx.organisations.allCustody();
    const kept = assignments.find((a) => a.custodianId === id && roleForItem(a.item as CustodyItem) !== role);
    if (kept !== undefined) {
      const item = kept.item as CustodyItem;
      throw new HalfkeyError(
        'CONFLICT',
        `${custodian.name} is assigned the ${describeItem(item)} of account ${kept.accountId}, which a ${role} may not hold; propose unassigning it first.`,
        { accountId: kept.accountId, item },
      );
    }
    if (ctx.organisations.hasOpenCheckout(id))
      throw new HalfkeyError('CONFLICT', `${custodian.name} has a checkout open; it must be checked in before their role changes.`);
    return role;
  }

  private apply(c: JsonObject, run: ApplyRun): { seq: number } {
    const { ctx } = this;
    return ctx.store.transaction(() => {
      const role = this.check(c);
      const id = String(c.custodian);
      const previous = ctx.vault.custodians.get(id)!.role;
      let seq = -1;
      ctx.vault.custodians.applyRoleChange(id, role, () => {
        seq = run.commit({ previous }).seq;
      });
      return { seq };
    }, 'immediate');
  }
}
