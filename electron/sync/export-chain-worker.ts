import { parentPort } from 'node:worker_threads';
import { sodiumReady } from '../../shared/sodium';
import { ServerExportVerifier, type SplitChainsReport, type SplitEntryLine } from '../../shared/sync/server-export';
import { nativePrimitives } from '../../server/native-primitives';

/**
 * A worker thread of the split org-export verifier (electron/sync/export-parallel.ts): it holds
 * the chains of the devices the main thread routes to it and verifies their entry lines in file
 * order per device — canonical form, hash, chain, custodian signatures, checkpoints, and device
 * signatures anchored on checkpoints — and says whether every one verified. It loads libsodium
 * (two-person entries carry proposal signatures) and uses node:crypto for the rest.
 */

export type ChainRequest = { readonly lines: readonly SplitEntryLine[] } | { readonly finish: true };
export type ChainReply =
  { readonly ready: true } | { readonly done: number; readonly clean: boolean } | { readonly report: SplitChainsReport };

if (parentPort) {
  const port = parentPort;
  void sodiumReady().then(() => {
    // The server key is the main thread's to check: this verifier reads no header, only entries.
    const verifier = new ServerExportVerifier('', nativePrimitives);
    let clean = true;
    port.on('message', (request: ChainRequest) => {
      if ('finish' in request) {
        const report = verifier.finishChains();
        port.postMessage({ report: { ...report, clean: clean && report.clean } } satisfies ChainReply);
        return;
      }
      // After the first failure the main thread verifies the file in one piece: nothing more to do here.
      for (const line of request.lines) if (clean && !verifier.pushChainLine(line)) clean = false;
      port.postMessage({ done: request.lines.length, clean } satisfies ChainReply);
    });
    port.postMessage({ ready: true } satisfies ChainReply);
  });
}
