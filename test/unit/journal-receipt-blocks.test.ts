import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sodiumNow, sodiumReady } from '../../shared/sodium';
import { appendedLeafProofs, perfectSubtrees } from '../../shared/journal/merkle';
import {
  receiptBlockProblem,
  receiptsOfBlock,
  treeHeadSignatureMessage,
  verifyReceipt,
  type Receipt,
  type ReceiptBlock,
} from '../../shared/sync/receipt';
import { migrate, openDatabase, type Db } from '../../electron/base/database';
import { JournalStore, type StoredReceipt } from '../../electron/journal/store';
import { exportJournal } from '../../electron/journal/export';
import { nativePrimitives } from '../../server/native-primitives';
import { seededSigner, TestJournal } from '../support/journal-builder';

const sha256 = nativePrimitives.sha256;
const open: { close(): void }[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  await sodiumReady();
});
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const server = (() => {
  const kp = () => sodiumNow().crypto_sign_seed_keypair(new Uint8Array(32).fill(77));
  return { publicKey: () => hex(kp().publicKey), privateKey: () => kp().privateKey };
})();

/**
 * A server log holding `before` leaves of other devices, then `hashes`: the block the server's
 * batch answer describes, and the receipts it would send one by one (what journal_receipts held).
 */
function logged(device: string, firstSeq: number, hashes: readonly string[], before: number): { block: ReceiptBlock; receipts: Receipt[] } {
  const others = Array.from({ length: before }, (_, i) => sha256(Buffer.from(`other leaf ${i}`)));
  const all = [...others, ...hashes.map((h) => Buffer.from(h, 'hex'))];
  // The frontier at `before`: the roots of the perfect subtrees covering the first leaves.
  const frontier = perfectSubtrees(0, before).map(([first, width]) =>
    hex(appendedLeafProofs(0, [], all.slice(first, first + width), sha256).root),
  );
  const { root, proofs } = appendedLeafProofs(0, [], all, sha256);
  const unsigned = { size: all.length, root: hex(root), timestamp: 1_700_000_500_000 };
  const signature = hex(sodiumNow().crypto_sign_detached(treeHeadSignatureMessage(unsigned), server.privateKey()));
  const treeHead = { ...unsigned, signature };
  const receipts = hashes.map((entryHash, i) => ({
    device,
    seq: firstSeq + i,
    entryHash,
    logIndex: before + i,
    treeHead,
    inclusionProof: proofs[before + i]!.map(hex),
  }));
  return { block: { device, firstSeq, logStart: before, treeHead, frontier, entryHashes: [...hashes] }, receipts };
}

function journal(): TestJournal {
  const j = new TestJournal({ checkpointEvery: 8 });
  open.push(j);
  for (let i = 0; i < 40; i++) j.store.append({ type: 'test.event', data: { i } });
  return j;
}

/** What journal_receipts held for a receipt the server sent (or the client derived before blocks). */
const asStored = (r: Receipt): StoredReceipt => ({
  ...r,
  treeHead: { root: r.treeHead.root, signature: r.treeHead.signature, size: r.treeHead.size, timestamp: r.treeHead.timestamp },
  serverKey: server.publicKey(),
  signature: r.treeHead.signature,
});

/** The receipt as the bundle and the verifiers see it (without the store's bookkeeping). */
const plain = (r: StoredReceipt): Receipt => ({
  device: r.device,
  seq: r.seq,
  entryHash: r.entryHash,
  logIndex: r.logIndex,
  treeHead: r.treeHead as unknown as Receipt['treeHead'],
  inclusionProof: [...r.inclusionProof],
});

const receiptLines = (path: string): string[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"inclusionProof"'));

describe('receipt blocks (one row per accepted batch, receipts derived when read)', () => {
  it('derives for every entry exactly the receipt a per-entry row held, and the same bundle receipt lines', () => {
    const j = journal();
    const entries = [...j.store.read()];
    const first = 3;
    const { block, receipts } = logged(
      j.device.publicKey,
      first,
      entries.slice(first).map((e) => e.hash),
      13,
    );
    expect(receiptBlockProblem(block, server.publicKey(), sha256)).toBeNull();
    expect(receiptsOfBlock(block, sha256)).toEqual(receipts);

    j.store.addReceiptBlock(block, server.publicKey());
    expect(j.db.prepare('SELECT COUNT(*) AS n FROM journal_receipt_blocks').get()).toEqual({ n: 1 });
    expect(j.db.prepare('SELECT COUNT(*) AS n FROM journal_receipts').get()).toEqual({ n: 0 });
    const derived = [...j.store.receipts()];
    expect(derived).toEqual(receipts.map(asStored));
    for (const r of derived) expect(verifyReceipt(plain(r), server.publicKey())).toBe(true);
    // A window inside the block reads just its part.
    expect([...j.store.receipts({ from: 10, to: 12 })].map((r) => r.seq)).toEqual([10, 11, 12]);
    expect([...j.store.receipts({ from: 0, to: 2 })]).toEqual([]);

    const fromBlocks = join(j.dir, 'blocks.hkj');
    exportJournal(j.store, { out: fromBlocks, signer: j.device, now: () => j.clock });
    // The same receipts as per-entry rows (how they were stored before blocks).
    j.db.exec('DELETE FROM journal_receipt_blocks');
    for (const r of receipts) j.store.addReceipt(asStored(r));
    const fromRows = join(j.dir, 'rows.hkj');
    exportJournal(j.store, { out: fromRows, signer: j.device, now: () => j.clock });
    const lines = receiptLines(fromBlocks);
    expect(lines).toHaveLength(receipts.length);
    expect(lines).toEqual(receiptLines(fromRows));
  });

  it('reads per-entry rows and blocks together in seq order, one receipt per entry, the row first', () => {
    const j = journal();
    const entries = [...j.store.read()];
    const device = j.device.publicKey;
    const early = logged(
      device,
      0,
      entries.slice(0, 5).map((e) => e.hash),
      2,
    );
    for (const r of early.receipts) j.store.addReceipt(asStored(r));
    const a = logged(
      device,
      5,
      entries.slice(5, 20).map((e) => e.hash),
      9,
    );
    const b = logged(
      device,
      20,
      entries.slice(20).map((e) => e.hash),
      30,
    );
    j.store.addReceiptBlock(b.block, server.publicKey());
    j.store.addReceiptBlock(a.block, server.publicKey());
    // A resend answered one by one for seq 7, stored as a row: it is read instead of the block's.
    const resent = logged(device, 7, [entries[7]!.hash], 50).receipts[0]!;
    j.store.addReceipt(asStored(resent));
    const all = [...j.store.receipts()];
    expect(all.map((r) => r.seq)).toEqual(entries.map((e) => e.seq));
    expect(all[7]).toEqual(asStored(resent));
    expect(all).toEqual([...early.receipts, ...a.receipts.slice(0, 2), resent, ...a.receipts.slice(3), ...b.receipts].map(asStored));
    expect([...j.store.receipts({ from: 4, to: 8 })]).toEqual(all.slice(4, 9));
    // A block that is not hashes of entries is refused and nothing is stored.
    expect(() => j.store.addReceiptBlock({ ...a.block, firstSeq: 40, entryHashes: ['xy'.repeat(32)] }, server.publicKey())).toThrow(
      /64 lowercase hex/,
    );
    expect(() => j.store.addReceiptBlock({ ...a.block, firstSeq: 40, entryHashes: [] }, server.publicKey())).toThrow(/64 lowercase hex/);
    // Storing the same block again changes nothing.
    j.store.addReceiptBlock(a.block, server.publicKey());
    expect([...j.store.receipts()]).toEqual(all);
  });

  it('refuses a block whose head, position, frontier or entries are not the signed ones', () => {
    const j = journal();
    const entries = [...j.store.read()];
    const { block } = logged(
      j.device.publicKey,
      0,
      entries.slice(0, 12).map((e) => e.hash),
      21,
    );
    const key = server.publicKey();
    expect(receiptBlockProblem(block, key, sha256)).toBeNull();
    const otherEntry = { ...block, entryHashes: block.entryHashes.map((h, i) => (i === 4 ? 'ab'.repeat(32) : h)) };
    expect(receiptBlockProblem(otherEntry, key, sha256)).toMatch(/do not lead to the signed root/);
    const reordered = { ...block, entryHashes: [block.entryHashes[1]!, block.entryHashes[0]!, ...block.entryHashes.slice(2)] };
    expect(receiptBlockProblem(reordered, key, sha256)).toMatch(/do not lead to the signed root/);
    const frontier = { ...block, frontier: ['cd'.repeat(32), ...block.frontier.slice(1)] };
    expect(receiptBlockProblem(frontier, key, sha256)).toMatch(/do not lead to the signed root/);
    const resigned = { ...block, treeHead: { ...block.treeHead, timestamp: block.treeHead.timestamp + 1 } };
    expect(receiptBlockProblem(resigned, key, sha256)).toMatch(/signature does not verify/);
    expect(receiptBlockProblem(block, seededSigner(5).publicKey, sha256)).toMatch(/signature does not verify/);
    expect(receiptBlockProblem({ ...block, logStart: 20 }, key, sha256)).toMatch(/cannot hold/);
    expect(receiptBlockProblem({ ...block, entryHashes: block.entryHashes.slice(1) }, key, sha256)).toMatch(/cannot hold/);
    expect(receiptBlockProblem({ ...block, frontier: block.frontier.slice(1) }, key, sha256)).toMatch(/needs a 32-byte root/);
  });

  it('migration 0003 keeps the per-entry receipts of a journal written before it, and blocks are added after', () => {
    const j = journal();
    const entries = [...j.store.read()];
    const device = j.device.publicKey;
    const early = logged(
      device,
      0,
      entries.slice(0, 25).map((e) => e.hash),
      4,
    );

    // The same journal in a file that has only migrations 0001 and 0002, with per-entry receipts.
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-rblock-'));
    dirs.push(dir);
    const before0003 = join(dir, 'migrations');
    mkdirSync(before0003);
    const migrations = fileURLToPath(new URL('../../electron/journal/migrations', import.meta.url));
    for (const f of ['0001_journal.sql', '0002_entries_without_hash_index.sql']) copyFileSync(join(migrations, f), join(before0003, f));
    const path = join(dir, 'vault.db');
    const old: Db = openDatabase(path);
    migrate(old, 'journal', before0003);
    expect(old.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'journal_receipt_blocks'").get()).toEqual({ n: 0 });
    const insert = old.prepare(
      'INSERT INTO journal_entries (seq, v, vault, device, prev, time, type, actor, data, hash, sigs, account) VALUES (@seq, @v, @vault, @device, @prev, @time, @type, @actor, @data, @hash, @sigs, @account)',
    );
    const receipt = old.prepare(
      `INSERT INTO journal_receipts (device, seq, entry_hash, log_index, tree_head, inclusion_proof, server_key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`,
    );
    old.transaction(() => {
      for (const row of j.db.prepare('SELECT * FROM journal_entries ORDER BY seq').all()) insert.run(row);
      const frontier = j.db.prepare('SELECT size, nodes FROM journal_frontier').get() as { size: number; nodes: string };
      old.prepare('INSERT INTO journal_frontier (id, size, nodes) VALUES (1, ?, ?)').run(frontier.size, frontier.nodes);
      for (const r of early.receipts) {
        const t = r.treeHead;
        receipt.run(
          r.device,
          r.seq,
          r.entryHash,
          r.logIndex,
          `{"root":"${t.root}","signature":"${t.signature}","size":${t.size},"timestamp":${t.timestamp}}`,
          JSON.stringify(r.inclusionProof),
          server.publicKey(),
          t.signature,
        );
      }
    })();
    old.close();

    const db = openDatabase(path);
    open.push(db);
    const store = JournalStore.open(db, { deviceSigner: j.device, now: () => j.clock });
    expect([...store.receipts()]).toEqual(early.receipts.map(asStored));
    const later = logged(
      device,
      25,
      entries.slice(25).map((e) => e.hash),
      60,
    );
    store.addReceiptBlock(later.block, server.publicKey());
    expect([...store.receipts()]).toEqual([...early.receipts, ...later.receipts].map(asStored));
    for (const r of store.receipts()) expect(verifyReceipt(plain(r), server.publicKey())).toBe(true);
  });

  it('a damaged stored block reads as receipts that do not verify, or as a clear error', () => {
    const j = journal();
    const entries = [...j.store.read()];
    const { block } = logged(
      j.device.publicKey,
      0,
      entries.map((e) => e.hash),
      6,
    );
    j.store.addReceiptBlock(block, server.publicKey());
    for (const r of j.store.receipts()) expect(verifyReceipt(plain(r), server.publicKey())).toBe(true);
    // The first entry hash changed in the file: that receipt names the changed hash, and no receipt reaches the signed root any more.
    const stored = j.db.prepare('SELECT entry_hashes FROM journal_receipt_blocks').get() as { entry_hashes: Buffer };
    j.db
      .prepare('UPDATE journal_receipt_blocks SET entry_hashes = ?')
      .run(Buffer.concat([Buffer.alloc(32), stored.entry_hashes.subarray(32)]));
    const changed = [...j.store.receipts()];
    expect(changed.map((r) => r.seq)).toEqual(entries.map((e) => e.seq));
    expect(changed[0]!.entryHash).toBe('00'.repeat(32));
    expect(changed.filter((r) => verifyReceipt(plain(r), server.publicKey()))).toEqual([]);
    j.db.prepare("UPDATE journal_receipt_blocks SET frontier = '[]'").run();
    expect(() => [...j.store.receipts()]).toThrow(/stored server receipts for entries 0\.\.\d+ are damaged/);
  });
});
