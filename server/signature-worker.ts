// Worker thread of the signature pool (signature-pool.ts): every message is a chunk of entries
// answered with their checks, in order, packed (entry-checks.ts).
import { parentPort } from 'node:worker_threads';
import type { SignedEntry } from '../shared/journal/entry';
import { checkEntry, packChecks } from './entry-checks';

const port = parentPort;
if (port === null) throw new Error('signature-worker.ts runs only as a worker thread');
port.on('message', (message: { readonly id: number; readonly entries: readonly SignedEntry[] }) => {
  const checks = packChecks(message.entries.map((e) => checkEntry(e)));
  port.postMessage({ id: message.id, checks });
});
port.postMessage({ ready: true });
