import type { AppServices } from './app-services';
import type { HandlerTable } from './router';
import { appHandlers } from './app-handlers';
import { breakGlassHandlers } from '../break-glass/break-glass-handlers';
import { custodyHandlers } from '../custody/custody-handlers';
import { journalHandlers } from '../journal/journal-handlers';
import { proposalHandlers } from '../proposals/proposal-handlers';
import { reconcileHandlers } from '../reconcile/reconcile-handlers';
import { reviewHandlers } from '../review/review-handlers';
import { syncHandlers } from '../sync/sync-handlers';
import { vaultHandlers } from '../vault/vault-handlers';

/** The full handler table: one entry per channel of shared/api/contract.ts, by namespace. */
export function createHandlerTable(services: AppServices): HandlerTable {
  return {
    ...appHandlers(services),
    ...journalHandlers(services.journal),
    ...vaultHandlers(services.vault),
    ...custodyHandlers(() => services.custody.current()),
    ...proposalHandlers(() => services.vault.require().proposals),
    ...syncHandlers(services.sync),
    ...reconcileHandlers(),
    ...reviewHandlers(services.review),
    ...breakGlassHandlers(() => services.breakGlass.current()),
  };
}
