// Verifying the server's org-wide reviewer export (`halfkey journal verify FILE --server-key HEX`),
// anchored, on one thread, by ranges on worker threads (what `--workers` does now), and split over
// chain workers with the log on the reading thread (the previous way, kept for files with review
// lines) (electron/sync/export-parallel.ts), back to back in the same run, each
// printed as a ratio to raw libsodium Ed25519 verifies/s on one core measured in the same run, with
// the cores the process kept busy (its CPU time over the wall time) and the ratio per busy core,
// and to the hashing floor (bench/hashing-floor.ts) over the export's own lines, measured right before.
// The export is built as the server builds it: real journals from JournalStore (real SQLite),
// interleaved, leaves appended with the server's own log code, receipts with its inclusion proofs.
// Run: npx tsx bench/server-export-verify.ts [--entries N] [--devices N] [--export FILE]
//   --export FILE: the export is FILE, written there on the first run and reused after (building
//   1,000,000 entries signs each one and holds them all: minutes, and a large heap:
//   NODE_OPTIONS=--max-old-space-size=14000).
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sodiumReady } from '../shared/sodium';
import { canonicalize } from '../shared/journal/canonical';
import { ed25519Signer, type SignedEntry } from '../shared/journal/entry';
import { treeHeadSignatureMessage } from '../shared/sync/receipt';
import { SERVER_EXPORT_FORMAT, SERVER_EXPORT_VERSION } from '../shared/sync/server-export';
import { openDatabase } from '../electron/base/database';
import { JournalStore } from '../electron/journal/store';
import { verifyServerExportFile } from '../electron/sync/server-export-file';
import { verifyServerExportSplit } from '../electron/sync/export-parallel';
import { fileLines } from '../electron/journal/bundle-file';
import { hashingFloor } from './hashing-floor';
import { NodeSet, appendLeaves, inclusionProofs } from '../server/merkle-log';

const { values } = parseArgs({
  options: { entries: { type: 'string' }, devices: { type: 'string' }, export: { type: 'string' } },
  strict: true,
});
const TOTAL = Number(values.entries ?? 50_000);
const DEVICES = Number(values.devices ?? 4);
const sodium = await sodiumReady();
const dir = mkdtempSync(join(tmpdir(), 'halfkey-bench-export-'));

try {
  const server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(9));
  const message = treeHeadSignatureMessage({ size: 1, root: '00'.repeat(32), timestamp: 1 }, sodium);
  const signature = sodium.crypto_sign_detached(message, server.privateKey);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 1_500) {
    for (let i = 0; i < 100; i++) sodium.crypto_sign_verify_detached(signature, message, server.publicKey);
    n += 100;
  }
  const rawVerify = n / ((performance.now() - start) / 1000);
  console.log(`raw libsodium Ed25519: ${rawVerify.toFixed(0)} verifies/s (1 core)`);

  const path = values.export ?? join(dir, 'export.jsonl');
  const serverKey = sodium.to_hex(server.publicKey);
  // Built in a function of its own, so the million entries it holds are garbage before the timed runs.
  if (!existsSync(path)) await writeExport(path, server);
  else console.log(`reusing ${path}`);

  // The hashing floor (bench/hashing-floor.ts) over the export's first lines, and the CPU count.
  const sample: string[] = [];
  for await (const line of fileLines(path)) {
    if (sample.length > 0 || line.startsWith('{"entry":')) sample.push(line);
    if (sample.length === 20_000) break;
  }
  const cores = availableParallelism();
  const ways = [
    { name: 'one thread', run: () => verifyServerExportFile(path, serverKey, { workers: 0 }) },
    { name: `by ranges on ${cores} workers`, run: () => verifyServerExportFile(path, serverKey, { workers: cores, splitMinBytes: 0 }) },
    {
      name: `split, ${cores} chain workers + the reader (previous)`,
      run: async () => (await verifyServerExportSplit(path, serverKey, cores)) ?? Promise.reject(new Error('the split gave up')),
    },
  ];
  for (const way of ways) {
    const floor = hashingFloor(sample);
    console.log(
      `hashing floor (JSON.parse + SHA-256 of each export line + Merkle hashes, 1 core): ${floor.toFixed(0)} entries/s; ${cores} CPUs`,
    );
    const t = performance.now();
    const cpu = process.cpuUsage();
    const report = await way.run();
    const seconds = (performance.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    if (!report.ok) throw new Error(`the bench export did not verify: ${JSON.stringify(report.failures.slice(0, 3))}`);
    const perSec = report.entries / seconds;
    const busy = (used.user + used.system) / 1e6 / seconds;
    console.log(
      `server export verify, ${way.name}: ${report.entries} entries from ${report.devices.length} devices in ${seconds.toFixed(2)} s = ${perSec.toFixed(0)} entries/s = ${(perSec / rawVerify).toFixed(3)}x raw libsodium verifies/s (1 core); ${busy.toFixed(2)} cores busy of ${availableParallelism()} = ${(perSec / busy / rawVerify).toFixed(3)}x raw per busy core; ${(perSec / (floor * cores)).toFixed(3)}x hashing floor x ${cores} cores, ${(perSec / (floor * busy)).toFixed(3)}x per busy core; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes the bench export to `path`: each device's journal (real JournalStore on real SQLite), then the log. */
async function writeExport(path: string, server: { publicKey: Uint8Array; privateKey: Uint8Array }): Promise<void> {
  // Each device's journal, then the log: devices' batches of 100 taking turns, as uploads land.
  const perDevice: SignedEntry[][] = [];
  for (let d = 0; d < DEVICES; d++) {
    let clock = 1_700_000_000_000;
    const store = JournalStore.open(openDatabase(join(dir, `device-${d}.db`)), {
      deviceSigner: ed25519Signer(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(d + 1)).privateKey),
      now: () => (clock += 10),
    });
    store.init('ab'.repeat(16), { name: `device ${d}` });
    while ((store.head()?.seq ?? 0) + 1 < TOTAL / DEVICES)
      store.appendBatch(Array.from({ length: 100 }, (_v, i) => ({ type: 'bench.event', data: { i } })));
    perDevice.push([...store.read()]);
  }
  const log: SignedEntry[] = [];
  for (let at = 0; log.length < perDevice.reduce((s, e) => s + e.length, 0); at += 100)
    for (const entries of perDevice) log.push(...entries.slice(at, at + 100));

  const nodes = new Map<number, string>();
  const set = new NodeSet({
    getLogNodes: async (keys) => new Map(keys.flatMap((k) => (nodes.has(k) ? [[k, nodes.get(k)!] as const] : []))),
    entryHashesAt: async (indexes) => new Map(indexes.flatMap((i) => (i < log.length ? [[i, log[i]!.hash] as const] : []))),
  });
  const appended = await appendLeaves(
    0,
    log.map((e) => e.hash),
    set,
  );
  for (const node of appended.nodes) nodes.set(node.key, node.hash);
  const unsigned = { size: appended.size, root: appended.root, timestamp: Date.now() };
  const treeHead = {
    ...unsigned,
    signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(unsigned, sodium), server.privateKey)),
  };
  const proofs = await inclusionProofs(
    log.map((_e, i) => i),
    log.length,
    set,
  );
  const serverKey = sodium.to_hex(server.publicKey);
  // Canonical JSON, as the server writes it (the verifier refuses any other form).
  // Written in slices: a million lines joined would pass V8's longest string.
  writeFileSync(
    path,
    `${canonicalize({ kind: 'header', format: SERVER_EXPORT_FORMAT, version: SERVER_EXPORT_VERSION, serverKey, treeHead })}\n`,
  );
  for (let from = 0; from < log.length; from += 10_000) {
    const slice = log.slice(from, from + 10_000).map((entry, i) => {
      const logIndex = from + i;
      const receipt = {
        device: entry.device,
        seq: entry.seq,
        entryHash: entry.hash,
        logIndex,
        treeHead,
        inclusionProof: proofs.get(logIndex)!,
      };
      return `${canonicalize({ kind: 'entry', entry, receipt })}\n`;
    });
    appendFileSync(path, slice.join(''));
  }
}
