import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BuildOptions, Plugin } from 'esbuild';
import { sodiumReady } from '../../shared/sodium';
import { nativePrimitives } from '../../server/native-primitives';
import {
  BundleVerifier,
  ENTRY_LINE_START,
  RECEIPT_LINE_START,
  type BundleRange,
  type BundleReport,
  type BundleVerifyOptions,
} from '../../shared/journal/bundle';
import { rangeLimit, type RangeTask } from '../../shared/journal/range-verify';
import { fileLines, fileSha256 } from './bundle-file';
import type { RangeReply, RangeRequest } from './verify-worker';

/**
 * The worker never loads libsodium (the verifier imports it only for proposal signatures, which
 * a worker leaves to the main thread): shared/sodium is replaced by a module that says so.
 */
const noSodium: Plugin = {
  name: 'no-libsodium-in-verify-worker',
  setup(build) {
    build.onResolve({ filter: /(^|\/)sodium$/ }, (args) =>
      args.importer.includes('shared') ? { path: 'sodium', namespace: 'no-sodium' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'no-sodium' }, () => ({
      contents:
        "export function sodiumNow() { throw new Error('libsodium is not loaded in a verify worker'); }\n" +
        "export function sodiumReady() { return Promise.reject(new Error('libsodium is not loaded in a verify worker')); }\n",
      loader: 'js',
    }));
  },
};

/** How the worker script is bundled: here from a checkout, and by a packaged build or the bench ahead of time. */
export const VERIFY_WORKER_BUILD: BuildOptions = {
  entryPoints: [fileURLToPath(new URL('./verify-worker.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'silent',
  plugins: [noSodium],
};

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
  const result = await build({ ...VERIFY_WORKER_BUILD, write: false });
  bundled = result.outputFiles[0]!.text;
  return bundled;
}

/** Ranges in flight per worker: enough to keep every core busy, few enough to bound memory. */
const DEPTH = 2;

/** A pool of range verifiers; a worker that dies answers null for what it held (its lines are then verified in order). */
class RangePool {
  private readonly pending = new Map<number, { worker: Worker; resolve: (r: BundleRange | null) => void }>();
  private readonly dead = new Set<Worker>();
  private next = 0;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (msg: RangeReply) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        p.resolve(msg.range);
      });
      const lost = (): void => {
        this.dead.add(w);
        for (const [id, p] of this.pending) {
          if (p.worker !== w) continue;
          this.pending.delete(id);
          p.resolve(null);
        }
      };
      w.on('error', lost);
      w.on('exit', lost);
    }
  }

  static async start(count: number): Promise<RangePool> {
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
    return new RangePool(workers);
  }

  run(task: RangeTask): Promise<BundleRange | null> {
    const id = this.next++;
    const worker = this.workers[id % this.workers.length]!;
    if (this.dead.has(worker)) return Promise.resolve(null);
    const request: RangeRequest = { id, task };
    return new Promise((resolve) => {
      this.pending.set(id, { worker, resolve });
      worker.postMessage(request);
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Verifies a bundle file using every core, by ranges (docs/journal-format.md, section 10.3):
 * runs of up to 1,024 entry lines, each starting at a leaf offset aligned to its length, are
 * verified whole in worker threads; this thread reads the file, hashes the bundle's parts, and
 * joins each range's summary onto the chain (its links, times, checkpoint roots and key tables)
 * in file order. A range that cannot be joined — something in it failed, or it assumed a state
 * that a range before it changed — is verified here line by line, so the report is exactly the
 * sequential verifier's. Memory stays bounded by the ranges in flight.
 */
export async function verifyBundleFileParallel(
  path: string,
  options: BundleVerifyOptions & { csvPath?: string; workers?: number } = {},
): Promise<BundleReport> {
  await sodiumReady();
  const csvSha256 = options.csvPath === undefined ? options.csvSha256 : await fileSha256(options.csvPath);
  const verifier = new BundleVerifier({ primitives: nativePrimitives, ...options, csvSha256 });
  const workers = Math.max(1, options.workers ?? availableParallelism());
  const pool = await RangePool.start(workers);
  const inFlight: { lines: string[]; entries: number; range: Promise<BundleRange | null> }[] = [];
  let inFlightEntries = 0;
  const joinOne = async (): Promise<void> => {
    const sent = inFlight.shift()!;
    inFlightEntries -= sent.entries;
    const range = await sent.range;
    if (range === null || !verifier.absorbRange(sent.lines, range)) for (const line of sent.lines) verifier.pushLine(line);
  };
  const drain = async (): Promise<void> => {
    while (inFlight.length > 0) await joinOne();
  };
  let building: { lines: string[]; entries: number; limit: number; offset: number } | null = null;
  const dispatch = async (): Promise<void> => {
    if (building === null) return;
    const { lines, entries, offset } = building;
    building = null;
    const task: RangeTask = { lines, leafOffset: offset, context: verifier.chainState(), mode: verifier.mode };
    inFlight.push({ lines, entries, range: pool.run(task) });
    inFlightEntries += entries;
    if (inFlight.length >= workers * DEPTH) await joinOne();
  };
  const end = { unterminated: false };
  try {
    for await (const line of fileLines(path, end)) {
      const entry = line.startsWith(ENTRY_LINE_START);
      if (building !== null) {
        if (entry ? building.entries < building.limit : line.startsWith(RECEIPT_LINE_START)) {
          building.lines.push(line);
          if (entry) building.entries += 1;
          continue;
        }
        await dispatch();
      }
      if (entry && verifier.acceptsRanges()) {
        const offset = verifier.leafCount() + inFlightEntries;
        const limit = rangeLimit(offset);
        if (limit > 0) {
          building = { lines: [line], entries: 1, limit, offset };
          continue;
        }
      }
      // The genesis, the first entries, anything after a misaligned join, and every other kind
      // of line: verified here, in order, after everything sent before it.
      await drain();
      verifier.pushLine(line);
    }
    await dispatch();
    await drain();
  } finally {
    await pool.stop();
  }
  return verifier.finish(end);
}
