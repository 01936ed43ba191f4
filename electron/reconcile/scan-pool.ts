import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { fileProblem, ScanFold, type FileScan, type ScanTotals } from '../../shared/reconcile/log-scan';
import { cloudTrailFiles } from './cloudtrail-files';
import { MAX_LOG_BYTES, scanLogFile } from './log-file';
import type { ScanJob, ScanResult } from './scan-worker';

let source: Promise<string> | null = null;

/**
 * The scan worker as one CommonJS script: prebuilt beside this module in a packaged build
 * (scan-worker.cjs), else bundled once per process with esbuild, so a thread carries no
 * TypeScript loader (electron/journal/parallel-verify.ts does the same for its workers).
 */
function workerSource(): Promise<string> {
  source ??= (async () => {
    const prebuilt = fileURLToPath(new URL('./scan-worker.cjs', import.meta.url));
    if (existsSync(prebuilt)) return readFileSync(prebuilt, 'utf8');
    const { build } = await import('esbuild');
    const entry = fileURLToPath(new URL('./scan-worker.ts', import.meta.url));
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  })().catch((error: unknown) => {
    source = null;
    throw error;
  });
  return source;
}

/** Heap a reader thread may use: room to parse the largest file accepted, and a clean per-file failure beyond it. */
const WORKER_HEAP_MB = 2048;

/** One worker thread and the job it runs; a worker that dies (out of memory) fails its file, not the run, and is replaced. */
class Reader {
  private worker!: Worker;
  private job: { id: number; path: string; resolve: (scan: FileScan) => void } | null = null;
  private next = 0;
  private replacing: Promise<void> | null = null;

  private constructor(private readonly code: string) {}

  static async start(code: string): Promise<Reader> {
    const reader = new Reader(code);
    await reader.spawn();
    return reader;
  }

  private spawn(): Promise<void> {
    const worker = new Worker(this.code, { eval: true, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    this.worker = worker;
    // Events of a worker already replaced (its exit after a failure) must not touch the next job.
    const current = (): boolean => this.worker === worker;
    worker.on('message', (message: ScanResult | { ready: true }) => {
      if (!current() || !('id' in message) || this.job === null || message.id !== this.job.id) return;
      const job = this.job;
      this.job = null;
      job.resolve(message.scan);
    });
    worker.on(
      'error',
      (error) => current() && this.lost(`the reader failed on this file (${error.name}${'code' in error ? ` ${String(error.code)}` : ''})`),
    );
    worker.on('exit', () => current() && this.lost('the reader thread stopped while reading this file'));
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
  }

  private lost(reason: string): void {
    const job = this.job;
    if (job === null) return;
    this.job = null;
    job.resolve(fileProblem(job.path, 'bad', reason));
    void this.worker.terminate();
    // The next job waits for the replacement in read().
    this.replacing = this.spawn();
  }

  async read(path: string, maxBytes: number): Promise<FileScan> {
    if (this.replacing !== null) {
      await this.replacing;
      this.replacing = null;
    }
    const id = this.next++;
    return new Promise((resolve) => {
      this.job = { id, path, resolve };
      this.worker.postMessage({ id, path, maxBytes } satisfies ScanJob);
    });
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

export interface ScanOptions {
  /** Reader threads (default: one per core); 0 reads on this thread. */
  readonly workers?: number;
  readonly maxBytes?: number;
}

/**
 * Reads every CloudTrail file under the paths, in parallel across cores, folding each file's
 * result as it arrives: the walk waits for a free reader, so at most one file per reader is in
 * memory and nothing grows with the number of files but the root actions found.
 */
export async function scanCloudTrail(
  paths: readonly string[],
  options: ScanOptions = {},
): Promise<{ totals: ScanTotals; workers: number }> {
  const maxBytes = options.maxBytes ?? MAX_LOG_BYTES;
  const workers = options.workers ?? availableParallelism();
  const fold = new ScanFold();
  const onThisThread = async (): Promise<{ totals: ScanTotals; workers: number }> => {
    for await (const found of cloudTrailFiles(paths)) fold.add('read' in found ? await scanLogFile(found.read, maxBytes) : found.passed);
    return { totals: fold.totals(), workers: 0 };
  };
  if (workers === 0) return onThisThread();
  let code: string;
  try {
    code = await workerSource();
  } catch {
    // No prebuilt worker and no esbuild (a packaged build that did not ship scan-worker.cjs): the
    // same reading on this thread, slower; the report says 0 worker threads.
    return onThisThread();
  }
  const readers = await Promise.all(Array.from({ length: workers }, () => Reader.start(code)));
  const idle = [...readers];
  const waiting: ((reader: Reader) => void)[] = [];
  const acquire = (): Promise<Reader> => {
    const reader = idle.pop();
    return reader !== undefined ? Promise.resolve(reader) : new Promise((resolve) => waiting.push(resolve));
  };
  const release = (reader: Reader): void => {
    const next = waiting.shift();
    if (next !== undefined) next(reader);
    else idle.push(reader);
  };
  const running = new Set<Promise<void>>();
  try {
    for await (const found of cloudTrailFiles(paths)) {
      if ('passed' in found) {
        fold.add(found.passed);
        continue;
      }
      const reader = await acquire();
      const job: Promise<void> = reader
        .read(found.read, maxBytes)
        .then((scan) => fold.add(scan))
        .finally(() => {
          running.delete(job);
          release(reader);
        });
      running.add(job);
    }
    await Promise.all(running);
  } finally {
    await Promise.all(readers.map((r) => r.stop()));
  }
  return { totals: fold.totals(), workers };
}
