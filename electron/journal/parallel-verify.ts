import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
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
import { rangeLimit } from '../../shared/journal/range-verify';
import { decodedLines, fileSha256 } from './bundle-file';
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

/**
 * What a worker hands back for a range: its summary (null: verify these lines here) and the range's
 * bytes, transferred there and back again, never copied; null when the worker died holding it.
 */
type Verified = { readonly range: BundleRange | null; readonly bytes: Uint8Array } | null;

/** A pool of range verifiers; a worker that dies answers null for what it held (its lines are then read again and verified in order). */
class RangePool {
  private readonly pending = new Map<number, { worker: Worker; resolve: (v: Verified) => void }>();
  private readonly dead = new Set<Worker>();
  private next = 0;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (msg: RangeReply) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        p.resolve({ range: msg.range, bytes: msg.bytes });
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
        const worker = new Worker(source, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 8 } });
        return new Promise<Worker>((resolve, reject) => {
          worker.once('message', () => resolve(worker));
          worker.once('error', reject);
        });
      }),
    );
    return new RangePool(workers);
  }

  /** Sends a range; its bytes' buffer is transferred (detached here) and comes back with the answer. */
  run(task: Omit<RangeRequest, 'id'>): Promise<Verified> {
    const id = this.next++;
    const worker = this.workers[id % this.workers.length]!;
    if (this.dead.has(worker)) return Promise.resolve({ range: null, bytes: task.bytes });
    const request: RangeRequest = { id, ...task };
    return new Promise((resolve) => {
      this.pending.set(id, { worker, resolve });
      worker.postMessage(request, [task.bytes.buffer as ArrayBuffer]);
    });
  }

  /** Terminates the first worker (a fault injected by tests): what it holds is answered null. */
  async terminateOne(): Promise<void> {
    await this.workers[0]!.terminate();
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Bytes read from the file at a time. */
const CHUNK_BYTES = 1 << 20;
const LF = 0x0a;
const ENTRY_PREFIX = new TextEncoder().encode(ENTRY_LINE_START);
const RECEIPT_PREFIX = new TextEncoder().encode(RECEIPT_LINE_START);

/**
 * The longest line a range worker is given: four times the largest entry body a journal writes
 * (store.ts, MAX_ENTRY_BYTES), signatures and all, well inside a worker's 24 MB heap.
 */
const MAX_RANGE_LINE_BYTES = 256 * 1024;

/** Whether bytes [from, to) of `data` begin with `prefix`. */
function startsWith(data: Uint8Array, from: number, to: number, prefix: Uint8Array): boolean {
  if (to - from < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[from + i] !== prefix[i]) return false;
  return true;
}

/** One line's bytes decoded strictly, as fileLines gives it. */
function lineText(bytes: Uint8Array): string {
  return decodedLines(bytes)[0]!;
}

/**
 * Verifies a bundle file using every core, by ranges (docs/journal-format.md, section 10.3):
 * runs of up to 1,024 entry lines, each starting at a leaf offset aligned to its length, are
 * verified whole in worker threads; this thread reads the file, hashes the bundle's parts, and
 * joins each range's summary onto the chain (its links, times, checkpoint roots and key tables)
 * in file order. A range that cannot be joined — something in it failed, or it assumed a state
 * that a range before it changed — is verified here line by line, so the report is exactly the
 * sequential verifier's. Memory stays bounded by the ranges in flight.
 *
 * This thread works on the file's bytes: it finds line ends, tells entry and receipt lines by
 * their first bytes, and sends a range as one copy of its bytes; the workers decode (strictly:
 * a range that is not UTF-8 comes back null and its lines are read here one by one, the faulty
 * one as not UTF-8) and the entries part is hashed over the bytes as they are in the file. Only
 * the lines verified here (header, roster, the first entries, the manifest, anything that could
 * not join) are decoded here.
 */
export async function verifyBundleFileParallel(
  path: string,
  options: BundleVerifyOptions & {
    csvPath?: string;
    workers?: number;
    chunkBytes?: number;
    /** A fault for tests: the first worker is terminated once this many ranges have been sent. */
    terminateWorkerAfter?: number;
  } = {},
): Promise<BundleReport> {
  await sodiumReady();
  const csvSha256 = options.csvPath === undefined ? options.csvSha256 : await fileSha256(options.csvPath);
  const verifier = new BundleVerifier({ primitives: nativePrimitives, ...options, csvSha256 });
  const workers = Math.max(1, options.workers ?? availableParallelism());
  // Bytes read at a time (tests make it small, so lines and ranges straddle reads).
  const chunkBytes = Math.max(1, options.chunkBytes ?? CHUNK_BYTES);
  const pool = await RangePool.start(workers);
  const file = await open(path, 'r');
  // Buffers that carried a range to a worker and back, for the next ranges: in the steady state
  // nothing is allocated per range.
  const spare: ArrayBuffer[] = [];
  const bufferFor = (length: number): Uint8Array => {
    const have = spare.pop();
    return new Uint8Array(have !== undefined && have.byteLength >= length ? have : new ArrayBuffer(Math.max(length, 1 << 20)), 0, length);
  };
  const inFlight: { at: number; length: number; lines: number; entries: number; verified: Promise<Verified> }[] = [];
  let inFlightEntries = 0;
  const joinOne = async (): Promise<void> => {
    const sent = inFlight.shift()!;
    inFlightEntries -= sent.entries;
    const verified = await sent.verified;
    let bytes: Uint8Array;
    if (verified !== null) bytes = verified.bytes;
    else {
      // The worker died holding the bytes: read them again.
      bytes = bufferFor(sent.length);
      const { bytesRead } = await file.read(bytes, 0, sent.length, sent.at);
      if (bytesRead !== sent.length) throw new Error(`the bundle changed while it was being verified: ${path}`);
    }
    const lines = (): string[] => decodedLines(bytes.subarray(0, bytes.length - 1));
    if (verified === null || verified.range === null || !verifier.absorbRange({ bytes, count: sent.lines, lines }, verified.range))
      for (const line of lines()) verifier.pushLine(line);
    spare.push(bytes.buffer as ArrayBuffer);
  };
  const drain = async (): Promise<void> => {
    while (inFlight.length > 0) await joinOne();
  };
  // The bytes read and not yet taken are data[0, length): from the first line of the range being
  // built (or the next line); `base` is data[0]'s offset in the file. One buffer, grown only for a
  // longer run of bytes than it holds, and its unread tail moved to its front before each read.
  let buffer = Buffer.allocUnsafe(chunkBytes * 2);
  let data: Buffer = buffer.subarray(0, 0);
  let base = 0;
  let pos = 0;
  let building: { start: number; end: number; lines: number; entries: number; limit: number; offset: number } | null = null;
  let sentRanges = 0;
  const dispatch = async (): Promise<void> => {
    if (building === null) return;
    const { start, end, lines, entries, offset } = building;
    building = null;
    const bytes = bufferFor(end - start);
    bytes.set(data.subarray(start, end));
    inFlight.push({
      at: base + start,
      length: end - start,
      lines,
      entries,
      verified: pool.run({ bytes, leafOffset: offset, context: verifier.chainState(), mode: verifier.mode }),
    });
    inFlightEntries += entries;
    if (++sentRanges === options.terminateWorkerAfter) await pool.terminateOne();
    if (inFlight.length >= workers * DEPTH) await joinOne();
  };
  /**
   * The line at bytes [from, to) of `data`, its line feed at `to`. Synchronous for a line that
   * joins the range being built (nearly every line); a promise when it has to wait for workers.
   */
  const take = (from: number, to: number): Promise<void> | undefined => {
    // A line far longer than any entry a journal writes is verified here, where the heap has room
    // for it: in a worker's small heap it would take the whole process down.
    if (to - from > MAX_RANGE_LINE_BYTES) return dispatch().then(() => begin(from, to, false));
    const entry = startsWith(data, from, to, ENTRY_PREFIX);
    if (building !== null) {
      if (entry ? building.entries < building.limit : startsWith(data, from, to, RECEIPT_PREFIX)) {
        building.lines += 1;
        building.end = to + 1;
        if (entry) building.entries += 1;
        return undefined;
      }
      return dispatch().then(() => begin(from, to, entry));
    }
    return begin(from, to, entry);
  };
  /** A line that no range under construction takes: it starts one, or is verified here. */
  const begin = (from: number, to: number, entry: boolean): Promise<void> | undefined => {
    if (entry && verifier.acceptsRanges()) {
      const offset = verifier.leafCount() + inFlightEntries;
      const limit = rangeLimit(offset);
      if (limit > 0) {
        building = { start: from, end: to + 1, lines: 1, entries: 1, limit, offset };
        return undefined;
      }
    }
    // The genesis, the first entries, anything after a misaligned join, and every other kind
    // of line: verified here, in order, after everything sent before it.
    return drain().then(() => verifier.pushLine(lineText(data.subarray(from, to))));
  };
  const end = { unterminated: false };
  try {
    for (;;) {
      const keep: number = building === null ? pos : (building as { start: number }).start;
      const held = data.length - keep;
      if (held + chunkBytes > buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, held + chunkBytes));
        data.copy(grown, 0, keep);
        buffer = grown;
      } else if (keep > 0) data.copy(buffer, 0, keep);
      base += keep;
      pos -= keep;
      if (building !== null) {
        const b = building as { start: number; end: number };
        b.start -= keep;
        b.end -= keep;
      }
      const { bytesRead } = await file.read(buffer, held, chunkBytes, null);
      data = buffer.subarray(0, held + bytesRead);
      if (bytesRead === 0) break;
      // Searched from where the last read's search ended, not from the line's start: a long line
      // read in many pieces is scanned once.
      for (let at = data.indexOf(LF, Math.max(pos, held)); at >= 0; at = data.indexOf(LF, pos)) {
        const waiting = take(pos, at);
        if (waiting !== undefined) await waiting;
        pos = at + 1;
      }
    }
    await dispatch();
    await drain();
    if (pos < data.length) {
      // A last line without a line feed: the file was cut short (verified here, as fileLines gives it).
      end.unterminated = true;
      verifier.pushLine(lineText(data.subarray(pos)));
    }
  } finally {
    await file.close();
    await pool.stop();
  }
  return verifier.finish(end);
}
