import type { CustodyItem, PolicyState } from '../../shared/policy/four-eyes';
import { statement, type CustodyContext } from './context';

interface RefRow {
  item: CustodyItem;
  custodian_id: string;
}

/**
 * The four-eyes policy's view of one account, read inside the caller's transaction so the
 * decision and the change it allows see the same state. Rules only ever relate items of the
 * same account, so other accounts' rows are left out.
 */
export function policyStateFor(ctx: CustodyContext, accountId: string): PolicyState {
  const toRef = (r: RefRow) => ({ accountId, item: r.item, custodianId: r.custodian_id });
  const assignments = statement(ctx, 'SELECT item, custodian_id FROM custody_assignments WHERE account_id = ?').all(accountId) as RefRow[];
  const seen = statement(ctx, 'SELECT item, custodian_id FROM custody_seen WHERE account_id = ?').all(accountId) as RefRow[];
  return {
    separateOrganisations: ctx.vault.options.separateOrganisations,
    custodians: ctx.vault.custodians.list().map((c) => ({ id: c.id, organisation: c.organisation, role: c.role, name: c.name, revoked: c.revoked })),
    assignments: assignments.map(toRef),
    seen: seen.map(toRef),
  };
}

/** Records that a custodian obtained an item (reveal, copy, code, token, seed export); rule 2 reads these until the item rotates. */
export function recordSeen(ctx: CustodyContext, accountId: string, item: CustodyItem, custodianId: string, generation: number, how: string): void {
  statement(ctx, 'INSERT OR IGNORE INTO custody_seen (account_id, item, custodian_id, generation, first_seen_at, how) VALUES (?, ?, ?, ?, ?, ?)')
    .run(accountId, item, custodianId, generation, ctx.now(), how);
}
