import { existsSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BuildOptions } from 'esbuild';
import {
  ServerExportVerifier,
  type Pending,
  type ServerExportReport,
  type SplitChainsReport,
  type SplitEntryLine,
} from '../../shared/sync/server-export';
import { fileLines } from '../journal/bundle-file';
import { nativePrimitives } from '../../server/native-primitives';
import type { ChainReply, ChainRequest } from './export-chain-worker';
import type { ExportRangeOutcome, ExportRangeTask } from '../../shared/sync/export-range';
import { ExportJoin } from '../../shared/sync/export-join';
import { strictUtf8 } from '../journal/strict-utf8';

/** How the chain worker is bundled (from a checkout, once per process): one CommonJS script, no TypeScript loader per thread. */
export const EXPORT_CHAIN_WORKER_BUILD: BuildOptions = {
  entryPoints: [fileURLToPath(new URL('./export-chain-worker.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'silent',
};

let source: string | null = null;
async function chainWorkerSource(): Promise<string> {
  const prebuilt = fileURLToPath(new URL('./export-chain-worker.cjs', import.meta.url));
  if (source === null && existsSync(prebuilt)) source = readFileSync(prebuilt, 'utf8');
  source ??= (await (await import('esbuild')).build({ ...EXPORT_CHAIN_WORKER_BUILD, write: false })).outputFiles[0]!.text;
  return source;
}

/** Lines per message to a worker, and messages a worker may have unanswered before the reader waits for it. */
const BATCH = 512;
const IN_FLIGHT = 4;

/** One chain worker: batches sent, answers awaited in order. */
class ChainWorker {
  private batch: SplitEntryLine[] = [];
  private readonly waiting: ((reply: ChainReply | null) => void)[] = [];
  private unanswered = 0;
  clean = true;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: ChainReply) => this.waiting.shift()?.(reply));
    const lost = (): void => {
      this.clean = false;
      for (const w of this.waiting.splice(0)) w(null);
    };
    worker.on('error', lost);
    worker.on('exit', lost);
  }

  static async start(code: string): Promise<ChainWorker> {
    const worker = new Worker(code, { eval: true });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new ChainWorker(worker);
  }

  private ask(request: ChainRequest, transfer: ArrayBuffer[] = []): Promise<ChainReply | null> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.worker.postMessage(request, transfer);
    });
  }

  /** Whether every one of these entries' device signatures verifies; false when the worker is lost. */
  async signatures(signatures: readonly Pending[]): Promise<boolean> {
    const reply = await this.ask({ signatures });
    return reply !== null && 'signed' in reply && reply.signed;
  }

  /** Ranges sent and not answered yet. */
  inFlight = 0;

  /** Verifies a range of the file's bytes (whole lines; `bytes` is handed over); null when the worker is lost. */
  async range(task: ExportRangeTask, bytes: ArrayBuffer, length: number): Promise<ExportRangeOutcome | null> {
    this.inFlight += 1;
    const reply = await this.ask({ range: task, bytes, length }, [bytes]);
    this.inFlight -= 1;
    return reply !== null && 'range' in reply ? reply.range : null;
  }

  async add(line: SplitEntryLine): Promise<void> {
    this.batch.push(line);
    if (this.batch.length >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const lines = this.batch;
    this.batch = [];
    this.unanswered += 1;
    const answered = this.ask({ lines }).then((reply) => {
      this.unanswered -= 1;
      if (reply === null || !('done' in reply) || !reply.clean) this.clean = false;
    });
    if (this.unanswered > IN_FLIGHT) await answered;
  }

  async finish(): Promise<SplitChainsReport | null> {
    await this.flush();
    const reply = await this.ask({ finish: true });
    return reply !== null && 'report' in reply ? reply.report : null;
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * Verifies the org-wide export on several threads, optimistically (anchored mode only): this
 * thread reads the file and checks the log — header, each receipt's fixed layout and audit path,
 * the root, reviews — and routes each entry line to the worker holding its device's chain. A
 * clean export is reported from the pieces; at the first line that is not in the server's exact
 * layout, or any failure anywhere, it answers null and the caller verifies the file in one
 * piece, so a report with failures is always exactly the sequential verifier's.
 */
export async function verifyServerExportSplit(path: string, serverKey: string, workers: number): Promise<ServerExportReport | null> {
  const code = await chainWorkerSource();
  const pool = await Promise.all(Array.from({ length: Math.max(1, workers) }, () => ChainWorker.start(code)));
  try {
    const owner = new Map<string, ChainWorker>();
    const queued: SplitEntryLine[] = [];
    const verifier = new ServerExportVerifier(serverKey, nativePrimitives, { split: (line) => void queued.push(line) });
    for await (const text of fileLines(path)) {
      verifier.pushLine(text);
      if (verifier.splitAbandoned) return null;
      for (const line of queued.splice(0)) {
        let worker = owner.get(line.device);
        if (worker === undefined) {
          // Devices dealt out in order of first appearance: even work when devices sync alike.
          worker = pool[owner.size % pool.length]!;
          owner.set(line.device, worker);
        }
        await worker.add(line);
        if (!worker.clean) return null;
      }
    }
    const log = verifier.finish();
    if (!log.ok || log.devices.length > 0) return null;
    const chains = await Promise.all(pool.map((w) => w.finish()));
    if (chains.some((c) => c === null || !c.clean) || pool.some((w) => !w.clean)) return null;
    // Clean chains have ok devices; checked again here, since this report says VALID on its own.
    if (chains.some((c) => c!.devices.some((d) => !d.ok))) return null;
    const devices = chains
      .flatMap((c) => c!.devices)
      .sort((a, b) => a.firstLine - b.firstLine)
      .map(({ firstLine: _first, ...device }) => device);
    return { ...log, devices };
  } finally {
    await Promise.all(pool.map((w) => w.stop()));
  }
}

/** Bytes per range by default: about 1,700 lines of the server's layout, a few milliseconds of work. */
const RANGE_BYTES = 4 * 1024 * 1024;
/** Ranges each worker may hold (one working, one waiting), so it never waits for the reader. */
const RANGES_PER_WORKER = 2;

/** A range of the file: bytes [position, position + length), whole lines without the last line feed. */
interface SentRange {
  readonly position: number;
  readonly length: number;
  readonly outcome: Promise<ExportRangeOutcome | null>;
}

/**
 * Verifies the org-wide export by ranges (anchored mode only; docs/sync-protocol.md): this thread
 * reads the file in blocks of whole lines and checks the header; worker threads each decode and
 * verify a block on their own (shared/sync/export-range.ts: the receipts' layout, the audit paths
 * inside the range, the leaves, each device's chain from an assumed state); this thread joins the
 * blocks in order (shared/sync/export-join.ts). A block whose assumptions do not hold is verified
 * again with the exact states; any failure answers null, and the caller verifies the file in one
 * piece, so a report with failures is always the one-thread verifier's. `review`: the file holds a
 * review line, which this way does not verify (the caller uses verifyServerExportSplit).
 */
export async function verifyServerExportRanges(
  path: string,
  serverKey: string,
  workers: number,
  rangeBytes = RANGE_BYTES,
): Promise<ServerExportReport | null | 'review'> {
  const code = await chainWorkerSource();
  const pool = await Promise.all(Array.from({ length: Math.max(1, workers) }, () => ChainWorker.start(code)));
  const file = await open(path, 'r');
  try {
    return await joinRanges(file, serverKey, pool, Math.max(1, rangeBytes));
  } finally {
    await file.close();
    await Promise.all(pool.map((w) => w.stop()));
  }
}

async function joinRanges(
  file: FileHandle,
  serverKey: string,
  pool: ChainWorker[],
  rangeBytes: number,
): Promise<ServerExportReport | null | 'review'> {
  let join: ExportJoin | null = null;
  let head: Pick<ExportRangeTask, 'head' | 'headJson'> | null = null;
  const sent: SentRange[] = [];
  const idlest = (): ChainWorker => pool.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  const send = (bytes: ArrayBuffer, position: number, length: number, exact: boolean): SentRange => ({
    position,
    length,
    outcome: idlest().range({ ...head!, states: join!.states(), exact }, bytes, length),
  });
  /** Joins the oldest range sent; false when the file is to be verified in one piece. */
  const joinOldest = async (): Promise<boolean | 'review'> => {
    const range = sent.shift()!;
    let outcome = await range.outcome;
    if (outcome === 'review') return 'review';
    let joined = outcome !== null && outcome !== 'failed' ? join!.join(outcome) : 'retry';
    if (joined === 'retry') {
      // Again, from the exact states before it (every earlier range has joined).
      const bytes = new ArrayBuffer(range.length);
      const { bytesRead } = await file.read(new Uint8Array(bytes), 0, range.length, range.position);
      if (bytesRead !== range.length) return false;
      outcome = await send(bytes, range.position, range.length, true).outcome;
      joined = outcome !== null && typeof outcome === 'object' ? join!.join(outcome) : 'fault';
    }
    return joined === 'joined';
  };

  let carry = new Uint8Array(0);
  let position = 0; // of carry[0] in the file
  // A short first range: it is verified alone.
  let block = Math.max(1, Math.floor(rangeBytes / 16));
  let joinedAny = false;
  for (let eof = false; !eof;) {
    const bytes = new ArrayBuffer(carry.length + block);
    const view = new Uint8Array(bytes);
    view.set(carry);
    const { bytesRead } = await file.read(view, carry.length, block, position + carry.length);
    eof = bytesRead === 0;
    const filled = carry.length + bytesRead;
    // Lines up to `end` (the last line feed, or the file's end): the rest waits for the next block.
    const end = eof ? filled : view.lastIndexOf(0x0a, filled - 1);
    if (end < 0) {
      // One line longer than a block: read on until it ends.
      carry = view.slice(0, filled);
      block *= 2;
      continue;
    }
    block = rangeBytes;
    const next = end + 1;
    carry = view.slice(Math.min(next, filled), filled);
    let from = 0;
    if (join === null) {
      // The header, this thread's own: its signed head is what every range is verified under.
      const newline = view.indexOf(0x0a);
      if (newline < 0 || newline >= filled) return null;
      let text: string;
      try {
        text = strictUtf8(view.subarray(0, newline));
      } catch {
        return null;
      }
      const verifier = new ServerExportVerifier(serverKey, nativePrimitives);
      verifier.pushLine(text);
      head = verifier.trustedHead();
      if (head === null) return null;
      join = new ExportJoin(serverKey, head.head, nativePrimitives.sha256);
      from = newline + 1;
    }
    // An empty range between two line feeds is an empty line: sent, so the range fails as that line does.
    if (eof ? end > from : end >= from) {
      const length = end - from;
      sent.push(send(from === 0 ? bytes : view.slice(from, end).buffer, position + from, length, false));
    }
    position += next;
    // The first range joins before any other is sent: it holds the devices' first entries, which the others start from.
    while (sent.length > (joinedAny ? pool.length * RANGES_PER_WORKER : 0)) {
      joinedAny = true;
      const ok = await joinOldest();
      if (ok !== true) return ok === 'review' ? 'review' : null;
    }
  }
  while (sent.length > 0) {
    const ok = await joinOldest();
    if (ok !== true) return ok === 'review' ? 'review' : null;
  }
  if (join === null) return null;
  // Device signatures no checkpoint covers: each verified, as one thread does at the end, shared out among the workers.
  const pending = join.pendingSignatures();
  const share = Math.ceil(pending.length / pool.length);
  const signed = await Promise.all(pool.map((w, i) => w.signatures(pending.slice(i * share, (i + 1) * share))));
  return signed.every(Boolean) ? join.finish() : null;
}
