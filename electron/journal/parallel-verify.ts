import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { sodiumReady } from '../../shared/sodium';
import { nativePrimitives } from '../../server/native-primitives';
import { BundleVerifier, type BundleReport, type BundleVerifyOptions } from '../../shared/journal/bundle';
import type { PrecomputedChecks } from '../../shared/journal/verifier';
import { fileLines, fileSha256 } from './bundle-file';
import type { VerifyBatch, VerifyBatchResult } from './verify-worker';

/** Lines per batch: large enough to amortise messaging, small enough that few lines wait (and get promoted to the old generation). */
const BATCH = 512;

let bundled: string | null = null;
/**
 * The worker as one small CommonJS script. A packaged build ships it prebuilt beside this file
 * (verify-worker.cjs); from a source checkout it is bundled once per process with esbuild, so
 * workers need no TypeScript loader (which would cost ~30 MB per thread).
 */
async function workerSource(): Promise<string> {
  if (bundled !== null) return bundled;
  const prebuilt = fileURLToPath(new URL('./verify-worker.cjs', import.meta.url));
  if (existsSync(prebuilt)) {
    bundled = readFileSync(prebuilt, 'utf8');
    return bundled;
  }
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./verify-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  bundled = result.outputFiles[0]!.text;
  return bundled;
}
/** Batches in flight per worker: enough to keep every core busy, few enough to bound memory. */
const DEPTH = 2;

/** A pool of signature/hash checkers; results come back per batch, consumed in order. */
class CheckerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (r: readonly (PrecomputedChecks | null)[]) => void; reject: (e: Error) => void }>();
  private next = 0;

  private constructor(workers: Worker[]) {
    this.workers = workers;
    for (const w of workers) {
      w.on('message', (msg: VerifyBatchResult) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        p.resolve(msg.results);
      });
      w.on('error', (error) => {
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
      });
    }
  }

  static async start(count: number): Promise<CheckerPool> {
    const source = await workerSource();
    const workers = await Promise.all(
      Array.from({ length: count }, () => {
        const worker = new Worker(source, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 } });
        return new Promise<Worker>((resolve, reject) => {
          worker.once('message', () => resolve(worker));
          worker.once('error', reject);
        });
      }),
    );
    return new CheckerPool(workers);
  }

  check(lines: readonly string[]): Promise<readonly (PrecomputedChecks | null)[]> {
    const id = this.next++;
    const batch: VerifyBatch = { id, lines };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[id % this.workers.length]!.postMessage(batch);
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Verifies a bundle file using every core: worker threads recompute entry hashes and check
 * signatures, batch by batch; this thread runs the cheap sequential part (chain links, keys,
 * Merkle frontier, checkpoints) in file order. Memory stays bounded by the batches in flight.
 */
export async function verifyBundleFileParallel(
  path: string,
  options: BundleVerifyOptions & { csvPath?: string; workers?: number } = {},
): Promise<BundleReport> {
  await sodiumReady();
  const csvSha256 = options.csvPath === undefined ? options.csvSha256 : await fileSha256(options.csvPath);
  const verifier = new BundleVerifier({ primitives: nativePrimitives, ...options, csvSha256 });
  const pool = await CheckerPool.start(Math.max(1, options.workers ?? availableParallelism()));
  const inFlight: { lines: string[]; checks: Promise<readonly (PrecomputedChecks | null)[]> }[] = [];
  const maxInFlight = Math.max(1, options.workers ?? availableParallelism()) * DEPTH;
  const drainOne = async (): Promise<void> => {
    const batch = inFlight.shift()!;
    const checks = await batch.checks;
    batch.lines.forEach((line, i) => verifier.pushLine(line, checks[i] ?? undefined));
  };
  const end = { unterminated: false };
  try {
    let lines: string[] = [];
    for await (const line of fileLines(path, end)) {
      lines.push(line);
      if (lines.length === BATCH) {
        inFlight.push({ lines, checks: pool.check(lines) });
        lines = [];
        if (inFlight.length >= maxInFlight) await drainOne();
      }
    }
    if (lines.length > 0) inFlight.push({ lines, checks: pool.check(lines) });
    while (inFlight.length > 0) await drainOne();
  } finally {
    await pool.stop();
  }
  return verifier.finish(end);
}
