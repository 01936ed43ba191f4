import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SignedEntry } from '../shared/journal/entry';
import { checkEntry, unpackChecks, type EntryCheck, type PackedChecks } from './entry-checks';

/** Runs the per-entry hash and signature checks of a batch; results come back in entry order. */
export interface EntryChecker {
  /** Threads doing the checks (0 when they run on the calling thread). */
  readonly threads: number;
  check(entries: readonly SignedEntry[]): Promise<EntryCheck[]>;
  close(): Promise<void>;
}

/** Checks on the calling thread: for tests and embedders that build the app without a pool. */
export function inlineChecker(): EntryChecker {
  return {
    threads: 0,
    check: (entries) => Promise.resolve(entries.map((e) => checkEntry(e))),
    close: () => Promise.resolve(),
  };
}

/** Below this many entries per chunk, splitting costs more in messaging than it saves. */
const MIN_CHUNK = 32;

type Pending = {
  readonly entries: readonly SignedEntry[];
  readonly resolve: (checks: EntryCheck[]) => void;
  readonly reject: (error: Error) => void;
};

interface Slot {
  worker: Worker;
  readonly pending: Map<number, Pending>;
}

/**
 * How a worker thread is started. Under tsx (the CLI and the tests run TypeScript sources) a
 * worker does not inherit the loader, so a one-line bootstrap registers it before importing the
 * worker module; a compiled build starts the .js file directly.
 */
function spawn(): Worker {
  const url = new URL('./signature-worker.ts', import.meta.url);
  // A chunk is at most 500 entries: a small heap suffices, and a bound keeps the server's memory flat.
  const resourceLimits = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { resourceLimits });
  const require = createRequire(import.meta.url);
  const packageFile = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(packageFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = pathToFileURL(join(dirname(packageFile), pkg.exports['./esm/api']!.import.default)).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(fileURLToPath(url)).href)}); });`;
  return new Worker(code, { eval: true, resourceLimits });
}

/** The pool as startSignaturePool returns it: a checker whose live worker threads can be listed (operations and fault tests). */
export interface SignaturePool extends EntryChecker {
  /** The worker threads now serving the pool (a replacement appears after one dies). */
  readonly workers: readonly Worker[];
}

/**
 * A fixed pool of worker threads (one per core by default), started with the server. A batch is
 * split into one chunk per worker, so signature verification — most of the server's CPU per
 * entry — runs on every core while the main thread only links the chain and writes storage.
 */
export async function startSignaturePool(size: number = availableParallelism()): Promise<SignaturePool> {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`the signature pool needs at least one thread, not ${size}`);
  let nextId = 0;
  let closing = false;

  const start = (slot: Slot | null): Promise<Slot> =>
    new Promise((resolve, reject) => {
      const worker = spawn();
      const s: Slot = slot ?? { worker, pending: new Map() };
      s.worker = worker;
      worker.on('message', (message: { ready?: true; id?: number; checks?: PackedChecks }) => {
        if (message.ready === true) return resolve(s);
        const p = message.id === undefined ? undefined : s.pending.get(message.id);
        if (p === undefined || message.checks === undefined) return;
        s.pending.delete(message.id!);
        try {
          p.resolve(unpackChecks(p.entries, message.checks));
        } catch (error) {
          p.reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      worker.on('error', (error) => reject(error));
      worker.on('exit', () => {
        // A dead worker fails only the batches it held (a 500 the client retries); a new one replaces it.
        for (const p of s.pending.values()) p.reject(new Error('a signature worker stopped while checking a batch'));
        s.pending.clear();
        if (!closing && s.worker === worker) void start(s).catch(() => undefined);
      });
    });

  const slots = await Promise.all(Array.from({ length: size }, () => start(null)));
  const send = (entries: readonly SignedEntry[]): Promise<EntryCheck[]> => {
    // The least busy worker takes the chunk: concurrent batches from many devices share the pool.
    const slot = slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { entries, resolve, reject });
      slot.worker.postMessage({ id, entries });
    });
  };

  return {
    threads: size,
    get workers() {
      return slots.map((s) => s.worker);
    },
    async check(entries) {
      if (closing) throw new Error('the signature pool is closed');
      const chunk = Math.max(MIN_CHUNK, Math.ceil(entries.length / size));
      const parts: Promise<EntryCheck[]>[] = [];
      for (let i = 0; i < entries.length; i += chunk) parts.push(send(entries.slice(i, i + chunk)));
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
