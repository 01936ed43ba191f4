import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { HalfkeyError } from '../../shared/api/result';
import type { KdfParams } from './passphrase';

/**
 * Argon2id at MODERATE costs about 1 s of CPU and 256 MiB, and libsodium's wasm heap never
 * shrinks. Each derivation therefore runs in a short-lived worker: the main process (which
 * answers the UI) never blocks on it, and the 256 MiB is returned when the worker exits.
 * The worker is a few lines of CommonJS evaluated in place, so it needs no TypeScript loader
 * and no file beside this one in a packaged build.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const sodium = require(workerData.sodiumPath);
parentPort.once('message', async (job) => {
  await sodium.ready;
  try {
    const key = sodium.crypto_pwhash(job.keyBytes, job.passphrase, job.salt, job.opslimit, job.memlimit, job.alg);
    parentPort.postMessage({ key });
  } catch (error) {
    parentPort.postMessage({ error: error && error.message ? String(error.message) : 'crypto_pwhash failed' });
  }
});`;

const sodiumPath = createRequire(import.meta.url).resolve('libsodium-wrappers-sumo');

/** Derives a keyBytes-long key from a passphrase with Argon2id in a worker thread; resolves with the key. */
export function derivePassphraseKeyInWorker(passphrase: string, params: KdfParams, keyBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { sodiumPath } });
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (reply: { key?: Uint8Array; error?: string }) =>
      finish(() =>
        reply.key
          ? resolve(reply.key)
          : reject(new HalfkeyError('INTERNAL', `The passphrase key derivation failed (${reply.error ?? 'no key'}).`)),
      ),
    );
    worker.once('error', (error) =>
      finish(() => reject(new HalfkeyError('INTERNAL', `The passphrase key derivation worker failed (${error.name}).`))),
    );
    worker.once('exit', (code) =>
      finish(() => reject(new HalfkeyError('INTERNAL', `The passphrase key derivation worker exited early (code ${code}).`))),
    );
    // The passphrase crosses to the worker by structured clone, in memory only.
    worker.postMessage({ passphrase, salt: params.salt, opslimit: params.opslimit, memlimit: params.memlimit, alg: params.alg, keyBytes });
  });
}
