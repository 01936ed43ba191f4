// The floor under bench/server.ts's ingest ratio: a server process that does only what no ingest
// can skip — receive the HTTP batch, parse its JSON, and check every entry's hash and the
// signatures anchored ingest verifies (docs/sync-protocol.md, "Anchored ingest": custodian
// signatures, and the device signature of the batch's last checkpoint and of what comes after it)
// in the real signature pool (server/signature-pool.ts) — and nothing else: no request
// authentication, no chain verification, no storage, no Merkle log, no receipts. Batches are
// those the sync client sends: up to MAX_BATCH_ENTRIES, each cut after its last checkpoint (the
// journal has the product's checkpoint every 256 entries). Its CPU per entry, against a raw
// libsodium verify (the ingest target's reference) measured in the same run, just before and just
// after each round, bounds what the real server can reach: the ingest target (≥ 3 × raw verifies/s
// per core used) allows raw ÷ 3 µs of server CPU per entry, and this prints how much of that the
// floor already takes and what is left for the server's own work.
// Run: npx tsx bench/server-floor.ts [--entries N] [--threads N] [--rounds N]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { sodiumReady } from '../shared/sodium';
import { ed25519Signer, entrySignatureMessage, type SignedEntry } from '../shared/journal/entry';
import { openDatabase } from '../electron/base/database';
import { JournalStore } from '../electron/journal/store';
import { startSignaturePool } from '../server/signature-pool';
import { anchoredMask } from '../server/ingest';
import { ENTRY_TYPES } from '../shared/journal/entry-types';
import { MAX_BATCH_ENTRIES } from '../shared/sync/wire';

const { values } = parseArgs({
  options: { serve: { type: 'string' }, entries: { type: 'string' }, threads: { type: 'string' }, rounds: { type: 'string' } },
  strict: true,
});

if (values.serve !== undefined) {
  // The floor server (a child process, so its CPU is measured apart from the client's).
  const pool = await startSignaturePool(Number(values.serve));
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/ingest', async (request) => {
    const body = JSON.parse((request.body as Buffer).toString('utf8')) as { entries: SignedEntry[] };
    const checks = await pool.check(body.entries, anchoredMask(body.entries));
    let valid = 0;
    for (const c of checks) if ('hash' in c && c.signatures.every(Boolean)) valid++;
    return { valid };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.stderr.write(`listening ${(app.server.address() as { port: number }).port}\n`);
} else {
  const ENTRIES = Number(values.entries ?? 40_000);
  const THREADS = Number(values.threads ?? availableParallelism());
  const ROUNDS = Number(values.rounds ?? 3);
  if (![ENTRIES, THREADS, ROUNDS].every((n) => Number.isSafeInteger(n) && n > 0))
    throw new Error('--entries, --threads and --rounds take positive whole numbers');
  const sodium = await sodiumReady();
  const work = mkdtempSync(join(tmpdir(), 'halfkey-bench-floor-'));
  try {
    // A real vault journal, sent as the sync client sends it: batches cut after their last checkpoint, two on the wire.
    const db = openDatabase(join(work, 'device.db'));
    let clock = 1_700_000_000_000;
    const store = JournalStore.open(db, {
      deviceSigner: ed25519Signer(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(7)).privateKey),
      now: () => clock++,
    });
    store.init(sodium.to_hex(sodium.randombytes_buf(16)), { name: 'bench' });
    for (let done = 1; done < ENTRIES; done += 1_000)
      store.appendBatch(
        Array.from({ length: Math.min(1_000, ENTRIES - done) }, (_, i) => ({ type: 'bench.event', data: { i: done + i } })),
      );
    const entries = [...store.read()];
    db.close();
    const bodies: string[] = [];
    for (let i = 0; i < entries.length;) {
      const window = entries.slice(i, i + MAX_BATCH_ENTRIES);
      let cut = window.length;
      if (i + window.length < entries.length)
        for (let k = window.length - 1; k > 0; k--)
          if (window[k]!.type === ENTRY_TYPES.checkpoint) {
            cut = k + 1;
            break;
          }
      bodies.push(JSON.stringify({ entries: window.slice(0, cut) }));
      i += cut;
    }

    /** µs per raw single-thread libsodium Ed25519 verify over entry-signature messages. */
    const rawMicros = (n = 2_000): number => {
      const pair = sodium.crypto_sign_keypair();
      const messages = Array.from({ length: n }, (_, i) => entrySignatureMessage(sodium.crypto_hash_sha256(sodium.from_string(`m${i}`))));
      const sigs = messages.map((m) => sodium.crypto_sign_detached(m, pair.privateKey));
      const start = performance.now();
      for (let i = 0; i < n; i++)
        if (!sodium.crypto_sign_verify_detached(sigs[i]!, messages[i]!, pair.publicKey)) throw new Error('verify failed');
      return ((performance.now() - start) * 1000) / n;
    };
    const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    /** CPU seconds (user + system, every thread) of a process so far. */
    const cpuOf = (pid: number): number => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    };

    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve', String(THREADS)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (c: Buffer) => {
          err += c.toString();
          const m = /listening (\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`floor server exited ${code}: ${err}`)));
      });
      const sendAll = async (): Promise<void> => {
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < bodies.length) {
            const body = bodies[next++]!;
            const answer = (await (
              await fetch(`http://127.0.0.1:${port}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
            ).json()) as { valid: number };
            if (answer.valid !== JSON.parse(body).entries.length) throw new Error('the floor server refused a valid entry');
          }
        };
        await Promise.all([lane(), lane()]);
      };
      console.log(
        `floor server: HTTP + JSON parse + ${THREADS} signature worker(s) checking as anchored ingest does, nothing else; ${entries.length.toLocaleString('en-US')} entries per round in ${bodies.length} batches (up to ${MAX_BATCH_ENTRIES}, each ending on a checkpoint), two on the wire`,
      );
      await sendAll(); // warm-up: V8 compiles the server's paths first
      for (let round = 1; round <= ROUNDS; round++) {
        const before = rawMicros();
        const cpu0 = cpuOf(child.pid!);
        const t = performance.now();
        await sendAll();
        const seconds = (performance.now() - t) / 1000;
        const cpu = cpuOf(child.pid!) - cpu0;
        const raw = (before + rawMicros()) / 2;
        const perEntry = (cpu * 1e6) / entries.length;
        const budget = raw / 3;
        console.log(
          `round ${round}: ${Math.round(entries.length / seconds).toLocaleString('en-US')} entries/s; floor server CPU ${perEntry.toFixed(1)} µs per entry against ${raw.toFixed(0)} µs per raw libsodium verify` +
            ` = ${(raw / perEntry).toFixed(2)} × raw verifies/s per core used (${(cpu / seconds).toFixed(2)} cores); the 3 × target allows ${budget.toFixed(1)} µs per entry, leaving ${(budget - perEntry).toFixed(1)} µs for authentication, the chain, storage, the log and receipts`,
        );
      }
    } finally {
      child.kill();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
