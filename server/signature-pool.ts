import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SignedEntry } from '../shared/journal/entry';
import { MAX_BATCH_BYTES } from '../shared/sync/wire';
import { checkEntry, unpackChecks, type EntryCheck, type PackedChecks } from './entry-checks';

/** Runs the per-entry hash and signature checks of a batch; results come back in entry order. */
export interface EntryChecker {
  /** Threads doing the checks (0 when they run on the calling thread). */
  readonly threads: number;
  /**
   * `anchored[i]`: entry i's device signature is covered by a checkpoint of the batch and is not
   * verified (checkEntry). Fails only with a PoolFailure.
   */
  check(entries: readonly SignedEntry[], anchored?: readonly boolean[]): Promise<EntryCheck[]>;
  close(): Promise<void>;
}

/**
 * Why the checker could not check a batch. `input`: the batch cannot be handed to a worker (it
 * does not survive the structured clone); `unwell`: the pool itself failed (a worker stopped
 * while holding the batch, answered in the wrong shape, or the pool is closed). The server
 * answers the first 422 ENTRY_INVALID and the second 503 UNAVAILABLE, never 500; either way the
 * pool has let go of the batch.
 */
export class PoolFailure extends Error {
  override readonly name = 'PoolFailure';
  constructor(
    readonly kind: 'input' | 'unwell',
    message: string,
  ) {
    super(message);
  }
}

/** Checks on the calling thread: for tests and embedders that build the app without a pool. */
export function inlineChecker(): EntryChecker {
  return {
    threads: 0,
    check: (entries, anchored) => Promise.resolve(entries.map((e, i) => checkEntry(e, true, anchored?.[i] === true))),
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
  // A chunk is at most a whole batch (one entry can fill the body), and its objects live only while
  // it is checked: the young generation is sized to hold a chunk of ordinary entries. The old
  // generation must hold the widest chunk a body allows: a 4 MiB body of empty objects, each one
  // becoming an object here, took between 128 and 256 MB (test/integration/server-attacks.test.ts);
  // a worker past its limit dies, and the batch was answered 503 and sent again for ever. 96 MB per
  // MiB of body leaves half as much again; honest batches use a few MB of it.
  const resourceLimits = { maxOldGenerationSizeMb: 96 * Math.ceil(MAX_BATCH_BYTES / (1024 * 1024)), maxYoungGenerationSizeMb: 32 };
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
  /** Entries the pool holds now (handed to a worker, not yet answered): 0 when idle, also after any failure. */
  readonly heldEntries: number;
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
          p.reject(new PoolFailure('unwell', error instanceof Error ? error.message : String(error)));
        }
      });
      worker.on('error', (error) => reject(error));
      worker.on('exit', () => {
        // A dead worker fails only the batches it held (a 503 the client retries); a new one replaces it.
        for (const p of s.pending.values()) p.reject(new PoolFailure('unwell', 'a signature worker stopped while checking a batch'));
        s.pending.clear();
        if (!closing && s.worker === worker) void start(s).catch(() => undefined);
      });
    });

  const slots = await Promise.all(Array.from({ length: size }, () => start(null)));
  const send = (entries: readonly SignedEntry[], anchored: Uint8Array | undefined): Promise<EntryCheck[]> => {
    // The least busy worker takes the chunk: concurrent batches from many devices share the pool.
    const slot = slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { entries, resolve, reject });
      try {
        slot.worker.postMessage(anchored === undefined ? { id, entries } : { id, entries, anchored });
      } catch (error) {
        // The chunk never reached the worker (the structured clone refused it): let go of it now,
        // or the pending map would keep the whole batch alive for good.
        slot.pending.delete(id);
        reject(
          new PoolFailure('input', `the batch cannot be handed to a signature worker (${error instanceof Error ? error.name : 'error'})`),
        );
      }
    });
  };

  return {
    threads: size,
    get workers() {
      return slots.map((s) => s.worker);
    },
    get heldEntries() {
      let n = 0;
      for (const s of slots) for (const p of s.pending.values()) n += p.entries.length;
      return n;
    },
    async check(entries, anchored) {
      if (closing) throw new PoolFailure('unwell', 'the signature pool is closed');
      const chunk = Math.max(MIN_CHUNK, Math.ceil(entries.length / size));
      const mask = anchored?.some((a) => a) === true ? Uint8Array.from(entries, (_e, i) => (anchored[i] === true ? 1 : 0)) : undefined;
      const parts: Promise<EntryCheck[]>[] = [];
      for (let i = 0; i < entries.length; i += chunk) parts.push(send(entries.slice(i, i + chunk), mask?.slice(i, i + chunk)));
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
