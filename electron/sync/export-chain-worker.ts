import { parentPort } from 'node:worker_threads';
import { sodiumReady } from '../../shared/sodium';
import { ServerExportVerifier, type Pending, type SplitChainsReport, type SplitEntryLine } from '../../shared/sync/server-export';
import { nativePrimitives } from '../../server/native-primitives';
import { ExportRangeVerifier, type ExportRangeOutcome, type ExportRangeTask } from '../../shared/sync/export-range';
import { strictUtf8 } from '../journal/strict-utf8';

/**
 * A worker thread of the org-export verifier (electron/sync/export-parallel.ts). Given a range of
 * the file's bytes (whole lines), it decodes and verifies them on its own (shared/sync/export-range.ts)
 * and answers what the reading thread joins. In the older split, it holds
 * the chains of the devices the main thread routes to it and verifies their entry lines in file
 * order per device — canonical form, hash, chain, custodian signatures, checkpoints, and device
 * signatures anchored on checkpoints — and says whether every one verified. It loads libsodium
 * (two-person entries carry proposal signatures) and uses node:crypto for the rest.
 */

export type ChainRequest =
  | { readonly lines: readonly SplitEntryLine[] }
  | { readonly finish: true }
  | { readonly range: ExportRangeTask; readonly bytes: ArrayBuffer; readonly length: number }
  | { readonly signatures: readonly Pending[] };
export type ChainReply =
  | { readonly ready: true }
  | { readonly done: number; readonly clean: boolean }
  | { readonly report: SplitChainsReport }
  | { readonly range: ExportRangeOutcome }
  | { readonly signed: boolean };

/** A range of the file's bytes, verified on its own; a range that is not UTF-8 fails like an unreadable line. */
function verifyRangeBytes(request: {
  readonly range: ExportRangeTask;
  readonly bytes: ArrayBuffer;
  readonly length: number;
}): ExportRangeOutcome {
  let text: string;
  try {
    text = strictUtf8(new Uint8Array(request.bytes, 0, request.length));
  } catch {
    return 'failed';
  }
  return new ExportRangeVerifier(request.range, nativePrimitives).verify(text);
}

if (parentPort) {
  const port = parentPort;
  void sodiumReady().then(() => {
    // The server key is the main thread's to check: this verifier reads no header, only entries.
    const verifier = new ServerExportVerifier('', nativePrimitives);
    let clean = true;
    port.on('message', (request: ChainRequest) => {
      if ('signatures' in request) {
        port.postMessage({
          signed: request.signatures.every((p) => nativePrimitives.verifyEntrySignature(p.hash, p.sig)),
        } satisfies ChainReply);
        return;
      }
      if ('range' in request) {
        port.postMessage({ range: verifyRangeBytes(request) } satisfies ChainReply);
        return;
      }
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
