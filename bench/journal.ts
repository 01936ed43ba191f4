// Journal throughput, each figure printed as a ratio to the raw libsodium primitive measured in
// the same run (Ed25519 signs/s for appends, verifies/s for verification). Verification runs on
// node:crypto's Ed25519, so raw node:crypto verifies/s is printed too, with the ratio against it:
//   - single durable append (own transaction, WAL + synchronous=FULL, real file): appends/s, p50;
//   - appendBatch of 100: entries/s;
//   - bundle verification on 1 core and on all cores, anchored (the default) and --full: entries/s,
//     also per core the process used (its CPU time, main thread and workers, over wall time);
//   - a hashing floor, measured in the same run on 1 core over lines of the big bundle:
//     JSON.parse + SHA-256 of each line + the RFC 6962 Merkle hashes of its entry hash. Anchored
//     verification does that work and a little more, so it is printed as a ratio to it too;
//   - peak RSS and wall time verifying a bundle of --entries entries (default 1,000,000) on all cores,
//     anchored and --full, each in a child process running an esbuild bundle of
//     bench/journal-verify-child.ts on plain node.
// Run: npx tsx bench/journal.ts [--entries N] [--appends N] [--mid N] [--workers N] [--big-only] [--bundle FILE]
//   --bundle FILE: the big bundle is FILE, written there on the first run and reused after (writing
//   1,000,000 entries signs each one, which takes minutes on this machine).
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { closeSync, existsSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createReadStream } from 'node:fs';
import type { BuildOptions } from 'esbuild';
import { sodiumReady } from '../shared/sodium';
import {
  ENTRY_SIGNATURE_DOMAIN,
  GENESIS_PREV,
  ed25519Signer,
  sealEntry,
  type EntrySigner,
  type SignedEntry,
  type UnsealedEntry,
} from '../shared/journal/entry';
import { checkpointData } from '../shared/journal/entry-types';
import { MerkleFrontier } from '../shared/journal/merkle';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  PartHash,
  entryLine,
  headerLine,
  manifestLine,
  type BundleManifest,
} from '../shared/journal/bundle';
import { openDatabase } from '../electron/base/database';
import { JournalStore } from '../electron/journal/store';
import { verifyBundleFile } from '../electron/journal/bundle-file';
import { VERIFY_WORKER_BUILD, verifyBundleFileParallel } from '../electron/journal/parallel-verify';
import { hashingFloor } from './hashing-floor';
import { nativePrimitives } from '../server/native-primitives';

const { values } = parseArgs({
  options: {
    entries: { type: 'string' },
    appends: { type: 'string' },
    mid: { type: 'string' },
    workers: { type: 'string' },
    'big-only': { type: 'boolean' },
    bundle: { type: 'string' },
  },
  strict: true,
});
const sodium = await sodiumReady();
const cores = availableParallelism();

const TOTAL = Number(values.entries ?? 1_000_000);
const APPENDS = Number(values.appends ?? 1_000);
const dir = mkdtempSync(join(tmpdir(), 'halfkey-bench-'));
const seed = new Uint8Array(32).fill(7);
const keys = sodium.crypto_sign_seed_keypair(seed);
const device = ed25519Signer(keys.privateKey);
const VAULT = 'ab'.repeat(16);

/** Operations per second of `run`, for about `ms` milliseconds. */
function rate(run: () => void, ms = 1_500): number {
  for (let i = 0; i < 200; i++) run();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 100; i++) run();
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

const message = sodium.from_string(`${ENTRY_SIGNATURE_DOMAIN}${'x'.repeat(32)}`);
const signature = sodium.crypto_sign_detached(message, keys.privateKey);
const rawSign = rate(() => sodium.crypto_sign_detached(message, keys.privateKey));
const rawVerify = rate(() => sodium.crypto_sign_verify_detached(signature, message, keys.publicKey));
console.log(`raw libsodium Ed25519: ${rawSign.toFixed(0)} signs/s, ${rawVerify.toFixed(0)} verifies/s (1 core); ${cores} cores available`);
const nodeKey = createPublicKey({
  key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(keys.publicKey)]),
  format: 'der',
  type: 'spki',
});
const nodeMessage = Buffer.from(message);
const nodeSignature = Buffer.from(signature);
const rawNodeVerify = rate(() => nodeVerify(null, nodeMessage, nodeKey, nodeSignature));
console.log(
  `raw node:crypto Ed25519: ${rawNodeVerify.toFixed(0)} verifies/s (1 core, cached KeyObject) = ${(rawNodeVerify / rawVerify).toFixed(2)}x libsodium's`,
);
/** Cores this process used since `since` (main thread and worker threads), over `seconds` of wall time. */
const coresUsed = (since: NodeJS.CpuUsage, seconds: number): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6 / seconds;
};
/** "R x raw libsodium (S x raw node:crypto)" for a verification rate over `n` cores (fractional: cores used). */
const verifyRatios = (perSec: number, n: number): string =>
  `${(perSec / (rawVerify * n)).toFixed(3)}x raw libsodium verifies/s${n === 1 ? '' : ` x ${Number.isInteger(n) ? n : n.toFixed(2)} cores`} (${(perSec / (rawNodeVerify * n)).toFixed(3)}x raw node:crypto)`;

// The floor under a durable append on this disk: one small write + fdatasync, as a WAL commit does.
let rawFsyncP50 = 0;
{
  const fd = openSync(join(dir, 'fsync.bin'), 'w');
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    writeSync(fd, 'x'.repeat(200));
    fdatasyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  times.sort((a, b) => a - b);
  rawFsyncP50 = times[100]!;
  console.log(`raw write+fdatasync on this disk: p50 ${times[100]!.toFixed(3)} ms (the floor under one durable commit)`);
}

// Single durable appends.
if (!values['big-only']) {
  const db = openDatabase(join(dir, 'single.db'));
  const store = JournalStore.open(db, { deviceSigner: device });
  store.init(VAULT, {});
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < APPENDS; i++) {
    const t = performance.now();
    store.append({ type: 'bench.single', data: { i, reason: 'benchmark append' } });
    latencies.push(performance.now() - t);
  }
  const perSec = APPENDS / ((performance.now() - start) / 1000);
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)]!;
  const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
  console.log(
    `single durable append: ${perSec.toFixed(0)} appends/s (${(perSec / rawSign).toFixed(3)}x raw signs/s), p50 ${p50.toFixed(3)} ms = ${(p50 / rawFsyncP50).toFixed(2)}x raw write+fdatasync p50, p99 ${p99.toFixed(3)} ms [target p50 < 2 ms]`,
  );
  db.close();
}

// Batches of 100.
if (!values['big-only']) {
  const db = openDatabase(join(dir, 'batch.db'));
  const store = JournalStore.open(db, { deviceSigner: device });
  store.init(VAULT, {});
  const batch = Array.from({ length: 100 }, (_, i) => ({ type: 'bench.batch', data: { i, reason: 'benchmark append' } }));
  const rounds = Math.max(200, Math.floor(APPENDS / 5));
  for (let i = 0; i < 5; i++) store.appendBatch(batch);
  // The machine is shared, so its load drifts within seconds: each batch is followed by 100 raw
  // signs, measured under the same load, and the ratio compares the two sums (WAL checkpoints and
  // every other periodic cost included). Each 10 rounds also make a block with its own ratio: the
  // median and range show how much the machine's load moved the figure.
  let batchMs = 0;
  let signMs = 0;
  const blocks: number[] = [];
  let blockBatch = 0;
  let blockSign = 0;
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    store.appendBatch(batch);
    const b = performance.now() - t;
    t = performance.now();
    for (let i = 0; i < 100; i++) sodium.crypto_sign_detached(message, keys.privateKey);
    const g = performance.now() - t;
    batchMs += b;
    signMs += g;
    blockBatch += b;
    blockSign += g;
    if ((r + 1) % 10 === 0) {
      blocks.push(blockSign / blockBatch);
      blockBatch = 0;
      blockSign = 0;
    }
  }
  blocks.sort((a, b) => a - b);
  const median = blocks.length % 2 === 1 ? blocks[blocks.length >> 1]! : (blocks[blocks.length / 2 - 1]! + blocks[blocks.length / 2]!) / 2;
  const perSec = (rounds * 100) / (batchMs / 1000);
  const interleavedSign = (rounds * 100) / (signMs / 1000);
  console.log(
    `appendBatch(100): ${perSec.toFixed(0)} entries/s = ${(perSec / interleavedSign).toFixed(3)}x raw libsodium signs/s interleaved with it (${interleavedSign.toFixed(0)}/s; ${(perSec / rawSign).toFixed(3)}x the figure measured at the start); per block of 1,000 entries: median ${median.toFixed(3)}x, range ${blocks[0]!.toFixed(3)}-${blocks[blocks.length - 1]!.toFixed(3)} [target >= 0.6x]`,
  );
  db.close();
}

/**
 * Writes a valid bundle of `count` entries quickly: entries sealed as the store seals them, with
 * node:crypto's Ed25519 as the signer (the same signatures libsodium makes), checkpoints every
 * 256, streamed to disk.
 */
function writeBundle(path: string, count: number): void {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const signer: EntrySigner = { publicKey: device.publicKey, sign: (message) => nodeSign(null, message, key) };
  const fd = openSync(path, 'w');
  const frontier = new MerkleFrontier(nativePrimitives.sha256);
  const entries = new PartHash(sodium);
  let out: string[] = [headerLine()];
  let prev = GENESIS_PREV;
  let since = 0;
  let last: SignedEntry | null = null;
  let lastCheckpoint: BundleManifest['lastCheckpoint'] = null;
  const time = 1_767_225_600_000;
  for (let seq = 0; seq < count; seq++) {
    const checkpoint = seq > 0 && (since >= 256 || seq === count - 1);
    const entry: UnsealedEntry = {
      v: 1,
      vault: VAULT,
      device: device.publicKey,
      seq,
      prev,
      time: time + seq,
      type: seq === 0 ? 'vault.genesis' : checkpoint ? 'checkpoint' : 'bench.entry',
      actor: null,
      data:
        seq === 0
          ? { deviceKey: device.publicKey, checkpointEvery: 256, heartbeatMs: 60_000 }
          : checkpoint
            ? checkpointData(seq, sodium.to_hex(frontier.root()), false)
            : { i: seq, reason: 'benchmark entry' },
      hash: '',
      sigs: [],
    };
    frontier.push(sealEntry(entry, [signer], nativePrimitives.sha256Text));
    const hashHex = entry.hash;
    const line = entryLine(entry);
    entries.add(line);
    out.push(line);
    since = checkpoint ? 0 : since + 1;
    if (checkpoint) lastCheckpoint = { seq, hash: hashHex, root: String(entry.data.root) };
    prev = hashHex;
    last = entry;
    if (out.length >= 4_096) {
      writeSync(fd, out.join(''));
      out = [];
    }
  }
  const empty = new PartHash(sodium).digest();
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    vault: VAULT,
    device: device.publicKey,
    signingKey: device.publicKey,
    exportedAt: time + count,
    requested: { from: 0, to: null },
    head: { seq: last!.seq, hash: last!.hash },
    complete: true,
    lastCheckpoint,
    parts: { roster: empty, entries: entries.digest(), receipts: empty, csv: null },
  };
  out.push(manifestLine(manifest, device));
  writeSync(fd, out.join(''));
  closeSync(fd);
}

// Verification throughput on a mid-size bundle.
if (!values['big-only']) {
  const path = join(dir, 'mid.hkj');
  writeBundle(path, Number(values.mid ?? 50_000));
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  // From a checkout the first parallel verification bundles the worker with esbuild (a packaged
  // build ships it prebuilt): that one-time cost is timed on its own, on a small bundle, so the
  // throughput below is the verifier's. Each call still starts its own worker threads.
  const small = join(dir, 'small.hkj');
  writeBundle(small, 1_000);
  let start = performance.now();
  await verifyBundleFileParallel(small);
  console.log(
    `first parallel verification in this process (worker bundled by esbuild, threads started, 1,000 entries): ${(performance.now() - start).toFixed(0)} ms`,
  );
  for (const mode of ['full', 'anchored'] as const) {
    start = performance.now();
    let cpu0 = process.cpuUsage();
    const one = await verifyBundleFile(path, { mode });
    const oneSeconds = (performance.now() - start) / 1000;
    const oneRate = one.entries / oneSeconds;
    const oneCores = coresUsed(cpu0, oneSeconds);
    start = performance.now();
    cpu0 = process.cpuUsage();
    const all = await verifyBundleFileParallel(path, workers === undefined ? { mode } : { mode, workers });
    const allSeconds = (performance.now() - start) / 1000;
    const allRate = all.entries / allSeconds;
    const allCores = coresUsed(cpu0, allSeconds);
    if (!one.ok || !all.ok) throw new Error(`benchmark bundle failed to verify: ${JSON.stringify(one.failures[0] ?? all.failures[0])}`);
    console.log(
      `verify ${mode}, 1 core: ${oneRate.toFixed(0)} entries/s = ${verifyRatios(oneRate, 1)}; per core used (${oneCores.toFixed(2)}): ${verifyRatios(oneRate, oneCores)}`,
    );
    console.log(
      `verify ${mode}, ${workers ?? cores} workers (thread start included): ${allRate.toFixed(0)} entries/s = ${verifyRatios(allRate, cores)}; per core used (${allCores.toFixed(2)} of ${cores}): ${verifyRatios(allRate, allCores)}`,
    );
  }
}

/** The first `count` entry lines of a bundle file. */
async function entryLines(path: string, count: number): Promise<string[]> {
  const out: string[] = [];
  let carry = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const parts = (carry + (chunk as string)).split('\n');
    carry = parts.pop() ?? '';
    for (const line of parts) if (line.startsWith('{"entry":') && out.length < count) out.push(line);
    if (out.length >= count) break;
  }
  return out;
}

// The big one, in a child process so its peak RSS is the verifier's alone.
{
  const path = values.bundle ?? join(dir, 'big.hkj');
  if (values.bundle === undefined || !existsSync(path)) {
    const genStart = performance.now();
    writeBundle(path, TOTAL);
    console.log(`generated a ${TOTAL}-entry bundle in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);
  } else console.log(`reusing the bundle at ${path}`);
  // The child and its worker script are bundled as a packaged build ships them (parallel-verify
  // loads verify-worker.cjs from beside the module that imports it).
  const { build } = await import('esbuild');
  const bundle: BuildOptions = { bundle: true, platform: 'node', target: 'node20', logLevel: 'silent', external: ['esbuild'] };
  await build({
    ...bundle,
    entryPoints: [fileURLToPath(new URL('./journal-verify-child.ts', import.meta.url))],
    format: 'esm',
    outfile: join(dir, 'verify-child.mjs'),
  });
  await build({ ...VERIFY_WORKER_BUILD, outfile: join(dir, 'verify-worker.cjs') });
  // The floor and the raw verifies again, right before the runs they scale (the load drifts).
  const floor = hashingFloor(await entryLines(path, 100_000));
  const rawNow = rate(() => nodeVerify(null, nodeMessage, nodeKey, nodeSignature));
  console.log(
    `hashing floor (JSON.parse + SHA-256 of each line + Merkle hashes, 1 core): ${floor.toFixed(0)} entries/s; raw node:crypto Ed25519 now ${rawNow.toFixed(0)} verifies/s`,
  );
  const used = values.workers === undefined ? cores : Number(values.workers);
  for (const mode of ['anchored', 'full'] as const) {
    const child = spawnSync(
      process.execPath,
      [
        join(dir, 'verify-child.mjs'),
        '--path',
        path,
        '--mode',
        mode,
        ...(values.workers === undefined ? [] : ['--workers', values.workers]),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (child.status !== 0) throw new Error(`verifier child failed: ${child.stderr}`);
    const r = JSON.parse(child.stdout) as { ms: number; cpuMs: number; ok: boolean; entries: number; anchored: number; maxRssKb: number };
    const perSec = r.entries / (r.ms / 1000);
    const busy = r.cpuMs / r.ms;
    const target =
      mode === 'anchored' ? '[targets: < 8 s on 2 cores, >= 0.6x floor x cores, < 200 MB]' : '[target: no slower than before (75.1 s)]';
    console.log(
      `verify ${mode} ${r.entries} entries, ${used} worker threads on ${cores} cores: ${(r.ms / 1000).toFixed(2)} s, ${perSec.toFixed(0)} entries/s = ` +
        `${(perSec / (floor * cores)).toFixed(3)}x hashing floor x ${cores} cores, ${(perSec / (rawNow * cores)).toFixed(2)}x raw node:crypto verifies/s x ${cores} cores; ` +
        `${busy.toFixed(2)} cores busy (${(perSec / (floor * busy)).toFixed(3)}x hashing floor per core busy); ${r.anchored} entries anchored; ok=${r.ok}; peak RSS ${(r.maxRssKb / 1024).toFixed(0)} MB ${target}`,
    );
  }
}

rmSync(dir, { recursive: true, force: true });
