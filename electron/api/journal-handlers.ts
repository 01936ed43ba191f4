import type { AppServices } from '../app-services';
import type { Handler } from '../router';

type JournalHandlers = {
  'journal:head': Handler<'journal:head'>;
  'journal:list': Handler<'journal:list'>;
  'journal:verify': Handler<'journal:verify'>;
  'journal:export': Handler<'journal:export'>;
};

/** `journal:*`: thin over JournalService; the router has validated every request already. */
export function journalHandlers(services: AppServices): JournalHandlers {
  const journal = services.journal;
  return {
    'journal:head': () => journal.head(),
    'journal:list': (request) => journal.list(request),
    'journal:verify': () => journal.verify(),
    'journal:export': (request) => journal.export(request),
  };
}
