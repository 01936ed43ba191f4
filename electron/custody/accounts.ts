import type { AccountSummary } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import type { CustodyContext, CustodyRequest } from './context';

/** The accounts of a vault: each one root identity whose halves custody holds. */
export class Accounts {
  constructor(private readonly ctx: CustodyContext) {}

  /** Adds an account (admins only) and journals it; notes are free text and stay out of the journal. */
  add(request: CustodyRequest<'custody:account-add'>): AccountSummary {
    const { ctx } = this;
    const actor = ctx.actingCustodian(request.by);
    if (actor.role !== 'admin')
      throw new HalfkeyError('NOT_PERMITTED', `Only an admin can add accounts; custodian ${actor.id} is a ${actor.role}.`);
    const { accountId } = request;
    ctx.store.transaction(() => {
      if (ctx.store.account(accountId) !== null)
        throw new HalfkeyError('CONFLICT', `Account ${accountId} is already in this vault.`, { accountId });
      ctx.store.addAccount(request, ctx.now(), actor.id);
      ctx.journal('account.added', actor, accountId, {
        alias: request.alias,
        rootEmail: request.rootEmail,
        organisation: request.organisation,
        phone: request.phone,
        exclusiveCheckout: request.exclusiveCheckout,
        rotateAfterCheckout: request.rotateAfterCheckout,
      });
    }, 'immediate');
    return this.get(accountId);
  }

  /** One account with its halves' state and assignments. */
  get(accountId: string): AccountSummary {
    const summary = this.ctx.store.accountSummary(accountId);
    if (summary === null) throw new HalfkeyError('NOT_FOUND', `There is no account ${accountId} in this vault.`, { accountId });
    return summary;
  }

  /** A page of accounts, by alias then id, optionally narrowed by a case-insensitive substring of id, alias, root e-mail or organisation. */
  list(query: CustodyRequest<'custody:account-list'>): { total: number; accounts: AccountSummary[] } {
    return this.ctx.store.accountPage(query);
  }
}
