// Central server throughput, each ingest figure printed as a ratio to raw Ed25519 verifies/s
// (libsodium, measured in the same run) per core the server used, and to the hashing floor
// (bench/hashing-floor.ts: JSON.parse + SHA-256 of each entry's JSON as a batch carries it + the
// Merkle hashes, on one core, over 10,000 entries of a bench journal) per core used, with the
// machine's CPU count. Both references are sampled just before and just after each figure. "Cores used" is measured, not
// assumed: the server process's CPU time (all its threads, from /proc/PID/stat) divided by the
// wall time of the measurement. The ratio against the cores the server could use (its signature
// workers, one per core unless --verify-threads) is printed beside it.
//   - ingest entries/s through HTTP (anchored: journals with checkpoints every 256 entries, each
//     batch ending on one, as the sync client sends them), 1 device and 20 concurrent devices,
//     on SQLite and on PostgreSQL (when HALFKEY_TEST_PG or --pg is set), measured after a warm-up
//     device (--warmup N entries, default 20,000) whose cold-start figure is printed too: a
//     server runs for days, and V8 spends its first seconds compiling (a `perf record` of the
//     server put V8's compiler threads at about 10% of its CPU in seconds 3–7, about 3% in 9–13);
//   - a 100,000-entry offline backlog synced end to end (client → server → verified receipts
//     stored), wall time, with the server's and the client's RSS sampled at start, middle, end.
// The server runs as a real `halfkey server` child process; the client (this process) shares the
// machine with it, so on 2 cores the client's receipt checks take CPU the server could have used.
// Run: npx tsx bench/server.ts [--single N] [--devices N] [--per-device N] [--backlog N] [--warmup N] [--pg URL] [--verify-threads N]
//   [--only backlog] (the backlog figure alone)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { sodiumReady } from '../shared/sodium';
import { ed25519Signer, entrySignatureMessage } from '../shared/journal/entry';
import { openDatabase, type Db } from '../electron/base/database';
import { JournalStore } from '../electron/journal/store';
import { SyncClient } from '../electron/sync/client';
import { openStorage } from '../server/storage/storage';
import { hashToken, newToken } from '../server/tokens';
import { entryJsonHash, hashingFloor } from './hashing-floor';

const { values } = parseArgs({
  options: {
    single: { type: 'string' },
    devices: { type: 'string' },
    'per-device': { type: 'string' },
    backlog: { type: 'string' },
    warmup: { type: 'string' },
    pg: { type: 'string' },
    'verify-threads': { type: 'string' },
    only: { type: 'string' },
  },
  strict: true,
});
const SINGLE = Number(values.single ?? 10_000);
const DEVICES = Number(values.devices ?? 20);
const PER_DEVICE = Number(values['per-device'] ?? 1_000);
const BACKLOG = Number(values.backlog ?? 100_000);
const WARMUP = Number(values.warmup ?? 20_000);
const PG = values.pg ?? process.env.HALFKEY_TEST_PG ?? null;
const THREADS = values['verify-threads'];
/** `--only backlog` runs the backlog figure alone (for comparing code changes back to back). */
const ONLY = values.only ?? null;
if (ONLY !== null && ONLY !== 'backlog') throw new Error(`--only takes "backlog", not "${ONLY}"`);
const CLI = fileURLToPath(new URL('../build/halfkey.mjs', import.meta.url));
const sodium = await sodiumReady();
const work = mkdtempSync(join(tmpdir(), 'halfkey-bench-server-'));
let seed = 1;

/**
 * Raw single-thread Ed25519 verifies/s over the same messages: libsodium (the targets' reference)
 * and node:crypto with a cached KeyObject (what the server's signature workers run).
 */
function rawVerifiesPerSecond(n = 3_000): { lib: number; node: number } {
  const pair = sodium.crypto_sign_keypair();
  const messages = Array.from({ length: n }, (_, i) => entrySignatureMessage(sodium.crypto_hash_sha256(sodium.from_string(`m${i}`))));
  const sigs = messages.map((m) => sodium.crypto_sign_detached(m, pair.privateKey));
  let start = performance.now();
  for (let i = 0; i < n; i++)
    if (!sodium.crypto_sign_verify_detached(sigs[i]!, messages[i]!, pair.publicKey)) throw new Error('verify failed');
  const lib = n / ((performance.now() - start) / 1000);
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pair.publicKey)]),
    format: 'der',
    type: 'spki',
  });
  start = performance.now();
  for (let i = 0; i < n; i++) if (!nodeVerify(null, messages[i]!, key, sigs[i]!)) throw new Error('verify failed');
  return { lib, node: n / ((performance.now() - start) / 1000) };
}

interface Device {
  readonly db: Db;
  readonly store: JournalStore;
  readonly signer: ReturnType<typeof ed25519Signer>;
}

/** A real vault journal (SQLite file) with n entries, written in batches. */
function makeDevice(n: number): Device {
  const db = openDatabase(join(work, `device-${seed}.db`));
  const signer = ed25519Signer(
    sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(seed % 256).map((b, i) => (i === 0 ? seed >> 8 : b))).privateKey,
  );
  seed += 1;
  let clock = 1_700_000_000_000;
  const store = JournalStore.open(db, { deviceSigner: signer, now: () => clock++ });
  store.init(sodium.to_hex(sodium.randombytes_buf(16)), { name: 'bench' });
  for (let done = 1; done < n; done += 1_000) {
    store.appendBatch(Array.from({ length: Math.min(1_000, n - done) }, (_, i) => ({ type: 'bench.event', data: { i: done + i } })));
  }
  return { db, store, signer };
}

/** The first `n` entries of a device's journal as JSON, as a sync batch carries them (the lines the server ingests). */
function wireLines(device: Device, n: number): string[] {
  const lines: string[] = [];
  while (lines.length < n) {
    const page = device.store.query({ after: lines.length - 1, limit: Math.min(1_000, n - lines.length) });
    if (page.length === 0) break;
    for (const e of page) lines.push(JSON.stringify(e));
  }
  return lines;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  readonly db: string;
  stop(): Promise<void>;
}

async function startServer(db: string): Promise<Server> {
  const port = await freePort();
  // HALFKEY_BENCH_PROFILE=DIR writes a V8 CPU profile of each server process there.
  const profile = process.env.HALFKEY_BENCH_PROFILE;
  // A PostgreSQL server never makes its own key (docs/operations.md): it is made first, as an operator would.
  const keyFile = join(work, `server-${port}.key`);
  const keygen = spawnSync(process.execPath, [CLI, 'server', 'keygen', '--key-file', keyFile], { encoding: 'utf8' });
  if (keygen.status !== 0) throw new Error(`halfkey server keygen failed: ${keygen.stderr}`);
  const child = spawn(
    process.execPath,
    [
      ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []),
      CLI,
      'server',
      '--db',
      db,
      '--listen',
      `127.0.0.1:${port}`,
      '--key-file',
      keyFile,
      '--rate-limit',
      '1000000/1000000',
      ...(THREADS === undefined ? [] : ['--verify-threads', THREADS]),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    db,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function enrolled(server: Server, device: Device): Promise<SyncClient> {
  const storage = await openStorage(server.db);
  const token = newToken(sodium);
  await storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
  await storage.close();
  const client = new SyncClient({ db: device.db, journal: device.store, signer: device.signer, requestTimeoutMs: 120_000 });
  await client.enroll(server.url, token);
  return client;
}

async function syncAll(client: SyncClient): Promise<void> {
  const status = await client.syncNow();
  if (status.pending !== 0) throw new Error(`sync left ${status.pending} pending: ${status.lastError}`);
}

/** CPU seconds (user + system, every thread) the process has used so far. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
/** User and system CPU seconds of one proc(5) stat file (fields 14 and 15: the 12th and 13th after the command name). */
function statCpu(path: string): { user: number; system: number } {
  try {
    const stat = readFileSync(path, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
  } catch {
    return { user: 0, system: 0 }; // a thread that ended between the listing and the read
  }
}
/** The server's CPU seconds: the whole process, its main thread, and user/system split. */
function cpuOf(pid: number): { total: number; main: number; user: number; system: number } {
  const all = statCpu(`/proc/${pid}/stat`);
  const main = statCpu(`/proc/${pid}/task/${pid}/stat`);
  return { total: all.user + all.system, main: main.user + main.system, user: all.user, system: all.system };
}

interface Measured {
  readonly seconds: number;
  readonly serverCores: number;
  readonly clientCores: number;
  /** Server CPU per entry in µs: the main thread, every other thread (signature workers, libuv), and the kernel's share of the total. */
  readonly perEntry: { readonly main: number; readonly others: number; readonly system: number };
}

/** Runs `work` (which moves `entries` entries) and returns its wall seconds and the cores the server and this client used meanwhile. */
async function measured(pid: number, entries: number, work: () => Promise<void>): Promise<Measured> {
  const server0 = cpuOf(pid);
  const client0 = process.cpuUsage();
  const t = performance.now();
  await work();
  const seconds = (performance.now() - t) / 1000;
  const client = process.cpuUsage(client0);
  const server1 = cpuOf(pid);
  const us = (s: number): number => (s * 1e6) / entries;
  return {
    seconds,
    serverCores: (server1.total - server0.total) / seconds,
    clientCores: (client.user + client.system) / 1e6 / seconds,
    perEntry: {
      main: us(server1.main - server0.main),
      others: us(server1.total - server0.total - (server1.main - server0.main)),
      system: us(server1.system - server0.system),
    },
  };
}

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function storageUrl(kind: 'sqlite' | 'postgres', name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (kind === 'sqlite') return { url: `sqlite:${join(work, `${name}.db`)}`, drop: async () => {} };
  const schema = `bench_${name}_${process.pid}`;
  const url = new URL(PG!);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG! });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** Cores the server process may use: its signature workers (one per core unless --verify-threads; 0 = the main thread), at most the machine's. */
const CORES = Math.max(1, Math.min(availableParallelism(), THREADS === undefined ? availableParallelism() : Number(THREADS)));

try {
  console.log(
    `generating journals: warm-up ${fmt(WARMUP)}, 1 × ${fmt(SINGLE)}, ${DEVICES} × ${fmt(PER_DEVICE)} (per storage), backlog ${fmt(BACKLOG)}`,
  );
  // The hashing floor's lines: entries of a bench journal (checkpoints every 256) as a batch carries them.
  const floorDevice = makeDevice(10_000);
  const floorLines = wireLines(floorDevice, 10_000);
  floorDevice.db.close();
  /** The raw primitive and the hashing floor (entries/s, 1 core), sampled together. */
  const references = (): { lib: number; node: number; floor: number } => ({
    ...rawVerifiesPerSecond(),
    floor: hashingFloor(floorLines, entryJsonHash),
  });
  // Other load on a shared machine moves the primitive's speed: each figure is compared with the
  // mean of samples taken just before and just after it.
  const sample = references();
  let raw = sample.lib;
  let rawNode = sample.node;
  let floor = sample.floor;
  let rawBefore = sample;
  const bracket = (): void => {
    const after = references();
    raw = (rawBefore.lib + after.lib) / 2;
    rawNode = (rawBefore.node + after.node) / 2;
    floor = (rawBefore.floor + after.floor) / 2;
  };
  console.log(
    `raw Ed25519 verify (1 thread): libsodium ${fmt(raw)} verifies/s, node:crypto ${fmt(rawNode)} verifies/s (what the server runs); hashing floor (JSON.parse + SHA-256 of each entry's JSON + Merkle hashes, 1 thread) ${fmt(floor)} entries/s; CPUs: ${availableParallelism()}; server cores available: ${CORES} (signature workers: ${THREADS ?? availableParallelism()}${THREADS === '0' ? ', checks on the main thread' : ', plus the main thread'})`,
  );
  const ratio = (perSecond: number, m: Measured): string =>
    `${(perSecond / (raw * m.serverCores)).toFixed(2)} × (raw libsodium verifies/s × ${m.serverCores.toFixed(2)} server cores used) [target >= 3], ${(perSecond / (rawNode * m.serverCores)).toFixed(2)} × raw node:crypto; ${(perSecond / (floor * m.serverCores)).toFixed(3)} × (hashing floor × ${m.serverCores.toFixed(2)} server cores used), ${(perSecond / (floor * CORES)).toFixed(3)} × (hashing floor × ${CORES} cores available); ${(perSecond / (raw * CORES)).toFixed(2)} × (raw libsodium × ${CORES} cores available); client used ${m.clientCores.toFixed(2)} cores` +
    `; server CPU per entry: main thread ${m.perEntry.main.toFixed(0)} µs, other threads ${m.perEntry.others.toFixed(0)} µs (kernel ${m.perEntry.system.toFixed(0)} µs of the two) against ${(1e6 / rawNode).toFixed(0)} µs per raw node:crypto verify`;
  const kinds: ('sqlite' | 'postgres')[] = ONLY === 'backlog' ? [] : PG ? ['sqlite', 'postgres'] : ['sqlite'];
  /** 20-device ingest entries/s per storage, for the PostgreSQL-to-SQLite ratio (each normalised by its raw bracket). */
  const concurrentRate = new Map<string, number>();
  if (!PG && ONLY === null) console.log('PostgreSQL: skipped (set HALFKEY_TEST_PG or --pg to include it)');
  for (const kind of kinds) {
    const { url, drop } = await storageUrl(kind, 'ingest');
    const server = await startServer(url);
    try {
      if (WARMUP > 0) {
        const cold = makeDevice(WARMUP);
        const cc = await enrolled(server, cold);
        rawBefore = references();
        const mc = await measured(server.child.pid!, WARMUP, () => syncAll(cc));
        bracket();
        console.log(
          `${kind}: warm-up, cold server ${fmt(WARMUP / mc.seconds)} entries/s  = ${ratio(WARMUP / mc.seconds, mc)}  (not a target figure: includes V8 compiling the server)`,
        );
        cold.db.close();
      }
      const one = makeDevice(SINGLE);
      const c1 = await enrolled(server, one);
      rawBefore = references();
      const m1 = await measured(server.child.pid!, SINGLE, () => syncAll(c1));
      const single = SINGLE / m1.seconds;
      bracket();
      console.log(
        `${kind}: ingest 1 device      ${fmt(single)} entries/s  = ${ratio(single, m1)}  [raw libsodium ${fmt(raw)}/s, node:crypto ${fmt(rawNode)}/s, hashing floor ${fmt(floor)}/s; ${availableParallelism()} CPUs]`,
      );
      const many = Array.from({ length: DEVICES }, () => makeDevice(PER_DEVICE));
      const clients = await Promise.all(many.map((d) => enrolled(server, d)));
      rawBefore = references();
      const mN = await measured(
        server.child.pid!,
        DEVICES * PER_DEVICE,
        async () => void (await Promise.all(clients.map((c) => syncAll(c)))),
      );
      const concurrent = (DEVICES * PER_DEVICE) / mN.seconds;
      bracket();
      concurrentRate.set(kind, concurrent / raw);
      console.log(
        `${kind}: ingest ${DEVICES} devices     ${fmt(concurrent)} entries/s  = ${ratio(concurrent, mN)}  [raw libsodium ${fmt(raw)}/s, node:crypto ${fmt(rawNode)}/s, hashing floor ${fmt(floor)}/s; ${availableParallelism()} CPUs]`,
      );
      for (const d of [one, ...many]) d.db.close();
    } finally {
      await server.stop();
      await drop();
    }
  }

  if (concurrentRate.has('postgres')) {
    const slower = concurrentRate.get('sqlite')! / concurrentRate.get('postgres')!;
    console.log(
      `postgres vs sqlite, ${DEVICES} devices: SQLite is ${slower.toFixed(2)} × PostgreSQL's entries/s (each over its own raw bracket) [target <= 1.5]`,
    );
  }
  const { url, drop } = await storageUrl('sqlite', 'backlog');
  const server = await startServer(url);
  try {
    const device = makeDevice(BACKLOG);
    const client = await enrolled(server, device);
    const pid = server.child.pid!;
    rawBefore = references();
    const samples: { server: number; client: number }[] = [];
    const sample = (): void => {
      samples.push({ server: rssKiB(pid) / 1024, client: process.memoryUsage().rss / 1024 / 1024 });
    };
    sample();
    const timer = setInterval(sample, 250);
    const m = await measured(pid, BACKLOG, () => syncAll(client));
    const seconds = m.seconds;
    clearInterval(timer);
    sample();
    bracket();
    const at = (k: 'server' | 'client'): string =>
      [samples[0]!, samples[Math.floor(samples.length / 2)]!, samples[samples.length - 1]!].map((s) => s[k].toFixed(0)).join(' / ');
    const peak = (k: 'server' | 'client'): string => Math.max(...samples.map((s) => s[k])).toFixed(0);
    console.log(
      `backlog: ${fmt(BACKLOG)} entries synced end to end in ${seconds.toFixed(1)} s (${fmt(BACKLOG / seconds)} entries/s = ${ratio(BACKLOG / seconds, m)}; target < 5 s)  [raw libsodium ${fmt(raw)}/s, node:crypto ${fmt(rawNode)}/s, hashing floor ${fmt(floor)}/s; ${availableParallelism()} CPUs]`,
    );
    console.log(
      `backlog: server RSS MiB start / middle / end ${at('server')} (peak ${peak('server')}); client RSS MiB ${at('client')} (peak ${peak('client')}); ${samples.length} samples`,
    );
    device.db.close();
  } finally {
    await server.stop();
    await drop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
