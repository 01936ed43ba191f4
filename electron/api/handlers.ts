import type { AppServices } from '../app-services';
import type { HandlerTable } from '../router';
import { appHandlers } from './app-handlers';
import { journalHandlers } from './journal-handlers';

/** The full handler table: one entry per channel of shared/api/contract.ts, by namespace. */
export function createHandlerTable(services: AppServices): HandlerTable {
  return {
    ...appHandlers(services),
    ...journalHandlers(services),
  };
}
