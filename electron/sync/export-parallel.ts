import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BuildOptions } from 'esbuild';
import {
  ServerExportVerifier,
  type ServerExportReport,
  type SplitChainsReport,
  type SplitEntryLine,
} from '../../shared/sync/server-export';
import { fileLines } from '../journal/bundle-file';
import { nativePrimitives } from '../../server/native-primitives';
import type { ChainReply, ChainRequest } from './export-chain-worker';

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

  private ask(request: ChainRequest): Promise<ChainReply | null> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.worker.postMessage(request);
    });
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
