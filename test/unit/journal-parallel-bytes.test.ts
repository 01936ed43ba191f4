import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumNow, sodiumReady } from '../../shared/sodium';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import { inclusionProof, merkleRoot } from '../../shared/journal/merkle';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import type { BundleReport } from '../../shared/journal/bundle';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { verifyBundleFileParallel } from '../../electron/journal/parallel-verify';
import { journalsClosedAfterEach } from '../support/journal-builder';
import { bundleOf, scratchDir } from '../support/journal-bundles';

/**
 * The parallel bundle verifier reads the file as bytes (electron/journal/parallel-verify.ts): it
 * finds line ends and tells entry from receipt lines by their first bytes, sends each range as
 * bytes, and hashes the entries part over them; the workers decode. Whatever the bytes, and
 * however the reads cut them, it must report exactly what the one-core verifier (which decodes
 * every line itself) reports. Reads shorter than a line make lines and ranges straddle them.
 */

const scratch = scratchDir();
const journal = journalsClosedAfterEach();
let fileNo = 0;

beforeAll(async () => {
  await sodiumReady();
});
afterAll(() => scratch.remove());

/** 1,100 entries (several ranges of 256 to 1,024), notes in several scripts, a checkout signed by a custodian now and then. */
function longJournal(): { entries: SignedEntry[]; device: EntrySigner } {
  const j = journal({ checkpointEvery: 16 });
  j.store.append({ type: 'session.started', data: {} });
  const alice = j.enrol('alice', 2, { role: 'admin' });
  for (let n = 0; n < 1_100; n++) {
    j.tick(100);
    if (n % 97 === 0) j.store.append({ type: 'checkout.opened', actor: alice, data: { n, reason: 'Zoë’s quarterly check ✓ 日本' } });
    else j.store.append({ type: 'heartbeat.note', data: { n, text: n % 3 === 0 ? 'ascii' : 'Ωmega – “quoted” 🔑' } });
  }
  j.store.append({ type: 'session.ended', data: {} });
  j.store.checkpoint();
  return { entries: [...j.entries()], device: j.device };
}

/** Valid server receipts (one log of this device, signed by a test server key) for every seventh entry. */
function receiptsFor(entries: readonly SignedEntry[]): (e: SignedEntry) => { receipt: never; serverKey: string }[] {
  const sodium = sodiumNow();
  const server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(211));
  const leaves = entries.map((e) => sodium.from_hex(e.hash));
  const head = { size: leaves.length, root: sodium.to_hex(merkleRoot(leaves)), timestamp: entries.at(-1)!.time };
  const treeHead = { ...head, signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(head), server.privateKey)) };
  return (e) =>
    e.seq % 7 === 3
      ? [
          {
            serverKey: sodium.to_hex(server.publicKey),
            receipt: {
              device: e.device,
              seq: e.seq,
              entryHash: e.hash,
              logIndex: e.seq,
              treeHead,
              inclusionProof: inclusionProof(e.seq, leaves).map((h) => sodium.to_hex(h)),
            } as never,
          },
        ]
      : [];
}

/** Verifies the bytes on one core and in parallel with reads of several sizes; every parallel report must equal the one-core one. */
async function sameEverywhere(bytes: Buffer): Promise<BundleReport> {
  const path = join(scratch.dir, `p${fileNo++}.hkj`);
  writeFileSync(path, bytes);
  const one = await verifyBundleFile(path);
  for (const chunkBytes of [997, 65_536, undefined]) {
    const parallel = await verifyBundleFileParallel(path, { workers: 2, chunkBytes });
    expect(parallel, `reads of ${chunkBytes ?? 'default'} bytes`).toEqual(one);
  }
  return one;
}

describe('the parallel verifier reads bytes and reports what the one-core verifier reports', () => {
  let entries: SignedEntry[];
  let text: string;
  beforeAll(() => {
    const j = longJournal();
    entries = j.entries;
    text = bundleOf(entries, j.device, { receipts: receiptsFor(entries) });
  });
  /** The byte offset of the line of entry `seq` in the bundle. */
  const lineOf = (bytes: Buffer, seq: number): number => {
    const at = bytes.indexOf(`"seq":${seq},"sigs":`);
    expect(at).toBeGreaterThan(0);
    return bytes.lastIndexOf('\n', at) + 1;
  };

  it('a clean bundle with receipts between entries and text in several scripts: valid, receipts checked', async () => {
    const r = await sameEverywhere(Buffer.from(text, 'utf8'));
    expect(r.failures).toEqual([]);
    expect(r.entries).toBe(entries.length);
    expect(r.receipts.count).toBeGreaterThan(150);
    expect(r.receipts.valid).toBe(r.receipts.count);
    expect(r.chain.anchoredEntries).toBeGreaterThan(1_000);
  });

  it('a byte that is not UTF-8 inside a range: that line is BAD_BUNDLE, the rest as one core reads it', async () => {
    const bytes = Buffer.from(text, 'utf8');
    // The first byte of a multi-byte character in entry 700's note, replaced by one that starts none.
    const at = bytes.indexOf('Ω', lineOf(bytes, 700));
    bytes[at] = 0xff;
    const r = await sameEverywhere(bytes);
    expect(r.failures.map((f) => f.code)).toContain('BAD_BUNDLE');
    expect(r.failures.some((f) => /is not UTF-8 text/.test(f.reason))).toBe(true);
  });

  it('a file cut short inside a range, in the middle of a line: no line feed at the end, no manifest', async () => {
    const bytes = Buffer.from(text, 'utf8');
    const r = await sameEverywhere(bytes.subarray(0, lineOf(bytes, 800) + 120));
    expect(r.ok).toBe(false);
    expect(r.failures.some((f) => /no manifest/.test(f.reason))).toBe(true);
  });

  it('an empty line and an edited entry inside ranges: each reported in its place', async () => {
    const bytes = Buffer.from(text, 'utf8');
    const empty = lineOf(bytes, 600);
    const withEmpty = Buffer.concat([bytes.subarray(0, empty), Buffer.from('\n'), bytes.subarray(empty)]);
    const at = withEmpty.indexOf('"n":', lineOf(withEmpty, 900));
    withEmpty[at + 4] = withEmpty[at + 4] === 0x31 ? 0x32 : 0x31;
    const r = await sameEverywhere(withEmpty);
    expect(r.failures.some((f) => f.code === 'BAD_BUNDLE' && /is empty/.test(f.reason))).toBe(true);
    // Entry 900 or, when it is a checkpoint (no `n`), the one after it.
    expect(r.failures.some((f) => f.code === 'HASH_MISMATCH' && (f.seq === 900 || f.seq === 901))).toBe(true);
  });

  it('a line longer than a worker’s heap holds is verified on the main thread (in a worker it took the process down)', async () => {
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf('"text":"ascii"', lineOf(bytes, 600)) + '"text":"'.length;
    // 40 MB of text in one entry's note: more than a range worker's 24 MB old generation holds.
    const huge = Buffer.concat([bytes.subarray(0, at), Buffer.alloc(40 << 20, 'a'), bytes.subarray(at)]);
    const r = await sameEverywhere(huge);
    expect(r.failures.some((f) => f.code === 'HASH_MISMATCH')).toBe(true);
  }, 120_000);

  it('a worker that dies (the fault injected) loses nothing: its ranges are read from the file again and verified here', async () => {
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf('"n":', lineOf(bytes, 1_000));
    bytes[at + 4] = bytes[at + 4] === 0x31 ? 0x32 : 0x31;
    const path = join(scratch.dir, `p${fileNo++}.hkj`);
    writeFileSync(path, bytes);
    const one = await verifyBundleFile(path);
    expect(one.failures.length).toBeGreaterThan(0);
    for (const terminateWorkerAfter of [1, 2]) {
      expect(await verifyBundleFileParallel(path, { workers: 2, terminateWorkerAfter })).toEqual(one);
      expect(await verifyBundleFileParallel(path, { workers: 2, terminateWorkerAfter, chunkBytes: 997 })).toEqual(one);
    }
    const clean = join(scratch.dir, `p${fileNo++}.hkj`);
    writeFileSync(clean, text);
    expect((await verifyBundleFileParallel(clean, { workers: 2, terminateWorkerAfter: 1 })).failures).toEqual([]);
  });
});
