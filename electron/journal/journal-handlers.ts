import type { Handler } from '../app/router';
import type { JournalService } from './journal-service';

type JournalHandlers = {
  'journal:head': Handler<'journal:head'>;
  'journal:list': Handler<'journal:list'>;
  'journal:verify': Handler<'journal:verify'>;
  'journal:export': Handler<'journal:export'>;
  'journal:export-progress': Handler<'journal:export-progress'>;
};

/** `journal:*`: thin over JournalService; the router has validated every request already. */
export function journalHandlers(journal: JournalService): JournalHandlers {
  return {
    'journal:head': () => journal.head(),
    'journal:list': (request) => {
      const page = journal.list(request);
      return { entries: page.entries.map((e) => ({ ...e, sigs: [...e.sigs] })), nextAfter: page.nextAfter };
    },
    'journal:verify': () => {
      const report = journal.verify();
      return { ...report, failures: [...report.failures] };
    },
    'journal:export': (request) => journal.export(request),
    'journal:export-progress': () => journal.exportProgress(),
  };
}
