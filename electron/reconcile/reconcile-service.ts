import { existsSync, renameSync, writeFileSync } from 'node:fs';
import type { RequestOf, ResponseOf } from '../../shared/api/contract';
import { HalfkeyError } from '../../shared/api/result';
import { reconcile } from '../../shared/reconcile/reconcile';
import { reportCsv } from '../../shared/reconcile/report-csv';
import { readVerifiedJournal } from './journal-input';
import { writeReconcilePdf } from './report-pdf';
import { scanCloudTrail } from './scan-pool';

type Request = Required<Pick<RequestOf<'reconcile:run'>, 'slackSeconds'>> & Omit<RequestOf<'reconcile:run'>, 'slackSeconds'>;
export type ReconcileResult = ResponseOf<'reconcile:run'>;

/**
 * `reconcile:run`: verify the journal (refusing one that does not verify), read every CloudTrail
 * file in parallel, set each root action against custody, and write the CSV and PDF when asked.
 * Needs no open vault: the journal comes from a bundle or the server's export.
 */
export async function runReconcile(request: Request): Promise<ReconcileResult> {
  // Every path is checked before any work, so a typo costs nothing and names itself.
  for (const path of request.cloudtrail) {
    if (!existsSync(path))
      throw new HalfkeyError('NOT_FOUND', `There is no CloudTrail file or folder at ${path}.`, { field: 'cloudtrail' });
  }
  const journal = await readVerifiedJournal(request.journal);
  const { totals, workers } = await scanCloudTrail(request.cloudtrail, request.workers === undefined ? {} : { workers: request.workers });
  const report = reconcile(journal.timeline, totals, {
    slackMs: request.slackSeconds * 1000,
    journal: { kind: request.journal.kind, path: request.journal.path, devices: journal.devices },
    workers,
  });
  if (request.csv !== undefined) {
    writeFileSync(`${request.csv}.partial`, reportCsv(report), { mode: 0o600 });
    renameSync(`${request.csv}.partial`, request.csv);
  }
  if (request.pdf !== undefined) await writeReconcilePdf(report, request.pdf);
  return { ...report, written: { csv: request.csv ?? null, pdf: request.pdf ?? null } };
}
