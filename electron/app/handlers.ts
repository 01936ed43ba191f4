import type { AppServices } from './app-services';
import type { HandlerTable } from './router';
import { appHandlers } from './app-handlers';
import { breakGlassHandlers } from '../break-glass/break-glass-handlers';
import { custodyHandlers } from '../custody/custody-handlers';
import { organisationHandlers } from '../custody/organisation-handlers';
import { journalHandlers } from '../journal/journal-handlers';
import { proposalHandlers } from '../proposals/proposal-handlers';
import { reconcileHandlers } from '../reconcile/reconcile-handlers';
import { reviewHandlers } from '../review/review-handlers';
import { syncHandlers } from '../sync/sync-handlers';
import { vaultHandlers } from '../vault/vault-handlers';

/** The full handler table: one entry per channel of shared/api/contract.ts, by namespace. */
export function createHandlerTable(services: AppServices): HandlerTable {
  const vault = vaultHandlers(services.vault);
  return {
    ...appHandlers(services),
    ...journalHandlers(services.journal),
    ...vault,
    // The founding second custodian is enrolled at once with the organisation they typed: custody
    // adopts it as an organisation record straight away (docs/custody.md, "Organisations").
    'custodian:enrol': async (request, context) => {
      const enrolled = await vault['custodian:enrol'](request, context);
      if (enrolled.custodian !== null) services.custody.current().organisations.adoptUnlinked();
      return enrolled;
    },
    ...custodyHandlers(() => services.custody.current()),
    ...organisationHandlers(() => services.custody.current()),
    ...proposalHandlers(() => services.vault.require().proposals),
    ...syncHandlers(services.sync),
    ...reconcileHandlers(),
    ...reviewHandlers(services.review),
    ...breakGlassHandlers(() => services.breakGlass.current()),
  };
}
