// Worker thread of the signature pool (signature-pool.ts): every message is a chunk of entries
// answered with their checks, in order, packed (entry-checks.ts); `anchored` marks (1) the entries
// whose device signature a checkpoint of the same batch stands for (checkEntry).
import { parentPort } from 'node:worker_threads';
import type { SignedEntry } from '../shared/journal/entry';
import { checkEntry, packChecks } from './entry-checks';

const port = parentPort;
if (port === null) throw new Error('signature-worker.ts runs only as a worker thread');
port.on('message', (message: { readonly id: number; readonly entries: readonly SignedEntry[]; readonly anchored?: Uint8Array }) => {
  const checks = packChecks(message.entries.map((e, i) => checkEntry(e, true, message.anchored?.[i] === 1)));
  port.postMessage({ id: message.id, checks });
});
port.postMessage({ ready: true });
