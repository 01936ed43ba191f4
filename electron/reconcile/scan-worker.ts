import { parentPort } from 'node:worker_threads';
import { fileProblem, type FileScan } from '../../shared/reconcile/log-scan';
import { scanLogFile } from './log-file';

/**
 * A worker thread of the CloudTrail reader: it reads, gunzips, parses and classifies one file at
 * a time and sends back only what the reconciliation keeps (root actions, counts, coverage), so
 * no record crosses to the main thread and each file's memory is freed before the next.
 */
export interface ScanJob {
  readonly id: number;
  readonly path: string;
  readonly maxBytes: number;
}
export interface ScanResult {
  readonly id: number;
  readonly scan: FileScan;
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: ScanJob) => {
    void scanLogFile(job.path, job.maxBytes)
      .catch((error: unknown): FileScan =>
        fileProblem(job.path, 'bad', `could not be read (${error instanceof Error ? error.name : 'error'})`),
      )
      .then((scan) => port.postMessage({ id: job.id, scan } satisfies ScanResult));
  });
  port.postMessage({ ready: true });
}
