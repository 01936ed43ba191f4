// Worker thread of the signature pool (signature-pool.ts): every message is a chunk of entries
// answered with their checks, in order.
import { parentPort } from 'node:worker_threads';
import type { SignedEntry } from '../shared/journal/entry';
import { checkEntry } from './entry-checks';

const port = parentPort;
if (port === null) throw new Error('signature-worker.ts runs only as a worker thread');
port.on('message', (message: { readonly id: number; readonly entries: readonly SignedEntry[] }) => {
  port.postMessage({ id: message.id, checks: message.entries.map((e) => checkEntry(e)) });
});
port.postMessage({ ready: true });
