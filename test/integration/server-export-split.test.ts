import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { verifyServerExportRanges, verifyServerExportSplit } from '../../electron/sync/export-parallel';
import { verifyServerExportFile } from '../../electron/sync/server-export-file';
import { TestJournal } from '../support/journal-builder';
import { appendEntries } from '../support/sync-fixture';
import { exportLinesOf } from '../support/server-export-fixture';

let sodium: Sodium;
let server: { publicKey: Uint8Array; privateKey: Uint8Array };
let serverKey: string;
const dir = mkdtempSync(join(tmpdir(), 'halfkey-export-split-'));
beforeAll(async () => {
  sodium = await sodiumReady();
  server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(0x78));
  serverKey = sodium.to_hex(server.publicKey);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const journals: TestJournal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
});

/** Three real journals with checkpoints, their entries interleaved in batches as uploads land. */
function log(): SignedEntry[] {
  const per = [61, 62, 63].map((seed, d) => {
    const j = new TestJournal({ deviceSeed: seed });
    journals.push(j);
    appendEntries(j, 40 + d * 7);
    j.store.checkpointTail();
    appendEntries(j, 5 + d);
    return [...j.store.read()];
  });
  const out: SignedEntry[] = [];
  for (let at = 0; out.length < per.reduce((s, e) => s + e.length, 0); at += 9) for (const e of per) out.push(...e.slice(at, at + 9));
  return out;
}

let n = 0;
const file = (lines: readonly string[]): string => {
  const path = join(dir, `export-${n++}.jsonl`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
};
const sequential = (path: string) => verifyServerExportFile(path, serverKey, { workers: 0 });
const split = (path: string, rangeBytes?: number) =>
  verifyServerExportFile(path, serverKey, { workers: 2, splitMinBytes: 0, ...(rangeBytes === undefined ? {} : { rangeBytes }) });
/** Range sizes in bytes: a few lines each (many joins, ranges sent on stale states), and the whole file in one. */
const RANGE_BYTES = [900, 7_000, 1 << 22];

describe('org export verified on worker threads (split: the log here, the chains in workers)', () => {
  it('reports a clean export exactly as one thread does', async () => {
    const lines = exportLinesOf(log(), server, sodium);
    const path = file(lines);
    const one = await sequential(path);
    expect(one.ok).toBe(true);
    expect(one.devices).toHaveLength(3);
    expect(await verifyServerExportSplit(path, serverKey, 2)).toEqual(one);
    expect(await split(path)).toEqual(one);
    for (const bytes of RANGE_BYTES) {
      expect(await verifyServerExportRanges(path, serverKey, 2, bytes), `${bytes}`).toEqual(one);
      expect(await split(path, bytes)).toEqual(one);
    }
  });

  it('reads ranges of whole lines at any size: a file without its last line feed, and lines longer than a range', async () => {
    const lines = exportLinesOf(log(), server, sodium);
    const path = join(dir, `export-${n++}.jsonl`);
    writeFileSync(path, lines.join('\n'));
    const one = await sequential(path);
    expect(one.ok).toBe(true);
    // 100 bytes: every line is longer than a range.
    for (const bytes of [100, 5_000]) expect(await verifyServerExportRanges(path, serverKey, 2, bytes), `${bytes}`).toEqual(one);
  });

  it('gives up on any fault, so the report is the one-thread report, failures and all', async () => {
    const entries = log();
    const lines = exportLinesOf(entries, server, sodium);
    const bend = (i: number, change: (row: { entry: Record<string, unknown>; receipt: { inclusionProof: string[] } }) => void): string[] =>
      lines.map((l, at) => {
        if (at !== i) return l;
        const row = JSON.parse(l) as { entry: Record<string, unknown>; receipt: { inclusionProof: string[] } };
        change(row);
        return canonicalize(row);
      });
    const tail = entries.length; // the last line: an entry after its device's last checkpoint
    const cases: [string, string[]][] = [
      ['a bent audit path (a right sibling)', bend(3, (r) => void (r.receipt.inclusionProof[0] = '0'.repeat(64)))],
      ['a changed entry under a checkpoint', bend(20, (r) => void (r.entry.data = { n: 'changed' }))],
      [
        'a bad device signature after the last checkpoint',
        bend(tail, (r) => void ((r.entry.sigs as { sig: string }[])[0]!.sig = 'ab'.repeat(64))),
      ],
      ['a line re-encoded with whitespace', lines.map((l, at) => (at === 30 ? l.replace('{"entry":', '{ "entry":') : l))],
      ['a dropped line', lines.filter((_l, at) => at !== 12)],
    ];
    for (const [what, tampered] of cases) {
      const path = file(tampered);
      expect(await verifyServerExportSplit(path, serverKey, 2), what).toBeNull();
      const one = await sequential(path);
      expect(one.ok, what).toBe(false);
      expect(await split(path), what).toEqual(one);
      for (const bytes of RANGE_BYTES) {
        expect(await verifyServerExportRanges(path, serverKey, 2, bytes), `${what}, ${bytes}`).toBeNull();
        expect(await split(path, bytes), `${what}, ${bytes}`).toEqual(one);
      }
    }
  });
});
