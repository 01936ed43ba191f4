import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { canonicalize } from '../../shared/journal/canonical';
import { signEntry, type SignedEntry } from '../../shared/journal/entry';
import { manifestLine, type BundleManifest } from '../../shared/journal/bundle';
import { verifyEntries, type FailureCode } from '../../shared/journal/verifier';
import { openDatabase, type Db } from '../../electron/services/database';
import { JournalStore } from '../../electron/services/journal/store';
import { exportJournal } from '../../electron/services/journal/export';
import { verifyBundleFile } from '../../electron/services/journal/bundle-file';
import { TestJournal, seededSigner } from '../support/journal-builder';

const open: TestJournal[] = [];
const extraDbs: Db[] = [];
beforeAll(async () => {
  await sodiumReady();
});
afterEach(() => {
  for (const db of extraDbs.splice(0)) if (db.open) db.close();
  for (const j of open.splice(0)) j.close();
});

/** A live journal in a real SQLite file: a session, two custodians, checkouts, checkpoints every 4. */
function liveJournal(entries = 12): TestJournal {
  const j = new TestJournal({ checkpointEvery: 4, heartbeatMs: 60_000 });
  open.push(j);
  j.store.append({ type: 'session.started', data: {} });
  const alice = j.enrol('alice', 2);
  j.enrol('bob', 3);
  for (let i = 0; i < entries; i++) {
    j.tick(1_000);
    j.store.append({ type: 'checkout.opened', actor: alice, account: '123456789012', data: { item: 'password', reason: `ticket ${i}` } });
  }
  return j;
}

/** Reads the journal back through a fresh connection, as a reviewer on this machine would. */
function readBack(j: TestJournal): SignedEntry[] {
  const db = openDatabase(j.path);
  extraDbs.push(db);
  const entries = [...JournalStore.open(db, { deviceSigner: j.store.currentDeviceKey() === j.device.publicKey ? j.device : seededSigner(7) }).read({})];
  db.close();
  return entries;
}

const codesAt = (entries: readonly unknown[], options: Parameters<typeof verifyEntries>[1] = {}): { seq: number | null; code: FailureCode }[] =>
  verifyEntries(entries, options).failures.map((f) => ({ seq: f.seq, code: f.code }));

/** Runs SQL against the file with the sqlite3 command-line tool, as an attacker with file access would. */
function sqlite(j: TestJournal, sql: string): void {
  // The app's connection stays open, like a running app whose file is edited under it.
  execFileSync('sqlite3', [j.path, sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const flipHex = (hex: string, at = 10): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);

describe('tampering with the SQLite file', () => {
  const target = 6; // a checkout.opened entry signed by device and alice
  const cases: { field: string; sql: (e: SignedEntry) => string; expect: FailureCode[] }[] = [
    { field: 'v', sql: () => `UPDATE journal_entries SET v = 2 WHERE seq = ${target}`, expect: ['MALFORMED_ENTRY'] },
    { field: 'vault', sql: (e) => `UPDATE journal_entries SET vault = '${flipHex(e.vault)}' WHERE seq = ${target}`, expect: ['HASH_MISMATCH', 'WRONG_VAULT'] },
    { field: 'device', sql: (e) => `UPDATE journal_entries SET device = '${flipHex(e.device)}' WHERE seq = ${target}`, expect: ['HASH_MISMATCH', 'WRONG_DEVICE'] },
    { field: 'prev', sql: (e) => `UPDATE journal_entries SET prev = '${flipHex(e.prev)}' WHERE seq = ${target}`, expect: ['HASH_MISMATCH', 'BROKEN_LINK'] },
    { field: 'time', sql: () => `UPDATE journal_entries SET time = time + 1 WHERE seq = ${target}`, expect: ['HASH_MISMATCH'] },
    { field: 'type', sql: () => `UPDATE journal_entries SET type = 'checkout.closed' WHERE seq = ${target}`, expect: ['HASH_MISMATCH'] },
    { field: 'actor', sql: () => `UPDATE journal_entries SET actor = 'bob' WHERE seq = ${target}`, expect: ['HASH_MISMATCH', 'MISSING_ACTOR_SIGNATURE'] },
    { field: 'data', sql: () => `UPDATE journal_entries SET data = replace(data, 'ticket 1', 'ticket 4') WHERE seq = ${target}`, expect: ['HASH_MISMATCH'] },
    { field: 'hash', sql: (e) => `UPDATE journal_entries SET hash = '${flipHex(e.hash)}' WHERE seq = ${target}`, expect: ['HASH_MISMATCH', 'BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'] },
    { field: 'sigs', sql: (e) => `UPDATE journal_entries SET sigs = '${JSON.stringify([e.sigs[0], { ...e.sigs[1]!, sig: flipHex(e.sigs[1]!.sig, 40) }])}' WHERE seq = ${target}`, expect: ['BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'] },
  ];
  for (const c of cases) {
    it(`flipping ${c.field} of one entry fails with ${c.expect.join(' + ')}`, () => {
      const j = liveJournal();
      const before = readBack(j);
      expect(codesAt(before)).toEqual([]);
      sqlite(j, c.sql(before[target]!));
      const found = codesAt(readBack(j)).filter((f) => f.seq === target).map((f) => f.code);
      expect(new Set(found)).toEqual(new Set(c.expect));
    });
  }

  it('a flipped hash also breaks the link from the next entry', () => {
    const j = liveJournal();
    const e = readBack(j)[target]!;
    sqlite(j, `UPDATE journal_entries SET hash = '${flipHex(e.hash)}' WHERE seq = ${target}`);
    expect(codesAt(readBack(j))).toContainEqual({ seq: target + 1, code: 'BROKEN_LINK' });
  });

  it('deleting an entry fails SEQUENCE_GAP', () => {
    const j = liveJournal();
    sqlite(j, `DELETE FROM journal_entries WHERE seq = ${target}`);
    expect(codesAt(readBack(j))).toContainEqual({ seq: target + 1, code: 'SEQUENCE_GAP' });
  });

  it('dropping a checkpoint fails SEQUENCE_GAP and, over a longer run, MISSING_CHECKPOINT', () => {
    const j = liveJournal(20);
    const checkpoints = readBack(j).filter((e) => e.type === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThan(2);
    sqlite(j, `DELETE FROM journal_entries WHERE seq = ${checkpoints[1]!.seq}`);
    const found = codesAt(readBack(j));
    expect(found).toContainEqual({ seq: checkpoints[1]!.seq + 1, code: 'SEQUENCE_GAP' });
    // A later checkpoint now covers a tree with a hole: its root cannot match.
    expect(found).toContainEqual({ seq: checkpoints[2]!.seq, code: 'CHECKPOINT_ROOT_MISMATCH' });
  });

  it('deleting the tail fails TRUNCATED_TAIL against a known head and against the clock of a live session', () => {
    const j = liveJournal();
    const head = j.store.head()!;
    sqlite(j, `DELETE FROM journal_entries WHERE seq > ${head.seq - 3}`);
    expect(codesAt(readBack(j), { expectHead: head })).toEqual([{ seq: head.seq - 3, code: 'TRUNCATED_TAIL' }]);
    expect(codesAt(readBack(j), { now: j.clock + 60_000 * 3 })).toEqual([{ seq: head.seq - 3, code: 'TRUNCATED_TAIL' }]);
  });

  it('truncating then continuing (systemd FSS CVE-2023-31438 style) fails, though every remaining link is valid', () => {
    const j = liveJournal();
    const old = readBack(j);
    const cut = old.length - 4;
    sqlite(j, `DELETE FROM journal_entries WHERE seq >= ${cut}; UPDATE journal_frontier SET size = 0, nodes = '[]'`);
    // The app keeps running: five minutes later it appends again on top of the cut.
    j.tick(300_000);
    const db = openDatabase(j.path);
    extraDbs.push(db);
    JournalStore.open(db, { deviceSigner: j.device, now: () => j.clock }).append({ type: 'checkout.closed', data: {} });
    const after = readBack(j);
    expect(after[cut]!.seq).toBe(cut);
    expect(codesAt(after)).toContainEqual({ seq: cut, code: 'MISSING_CHECKPOINT' });
    // And anyone holding the old hashes (the server's receipts) sees the fork.
    expect(codesAt(after, { anchors: [{ seq: cut, hash: old[cut]!.hash }] })).toContainEqual({ seq: cut, code: 'FORK' });
  });

  it('reordering two entries fails HASH_MISMATCH at both places', () => {
    const j = liveJournal();
    // Each row keeps its content but takes the other's place in the order.
    sqlite(j, `UPDATE journal_entries SET seq = 1000000 WHERE seq = ${target}; UPDATE journal_entries SET seq = ${target} WHERE seq = ${target + 1}; UPDATE journal_entries SET seq = ${target + 1} WHERE seq = 1000000;`);
    const found = codesAt(readBack(j));
    expect(found).toContainEqual({ seq: target, code: 'HASH_MISMATCH' });
    expect(found).toContainEqual({ seq: target + 1, code: 'HASH_MISMATCH' });
  });

  it('duplicating an entry as a new row fails verification, whatever hash the copy carries', () => {
    const j = liveJournal();
    const head = j.store.head()!;
    const copy = (hashSql: string): string => `INSERT INTO journal_entries SELECT ${head.seq + 1}, v, vault, device, prev, time, type, actor, data, ${hashSql}, sigs, account FROM journal_entries WHERE seq = ${target}`;
    // An exact copy (same hash, same signatures) appended as the next row: its body now says another seq.
    sqlite(j, copy('hash'));
    const found = codesAt(readBack(j));
    expect(found).toContainEqual({ seq: head.seq + 1, code: 'HASH_MISMATCH' });
    expect(found).toContainEqual({ seq: head.seq + 1, code: 'BROKEN_LINK' });
    sqlite(j, `DELETE FROM journal_entries WHERE seq = ${head.seq + 1}`);
    sqlite(j, copy('upper(hash)'));
    expect(codesAt(readBack(j))).toContainEqual({ seq: head.seq + 1, code: 'MALFORMED_ENTRY' });
  });

  it('an edited entry re-signed with another key fails MISSING_DEVICE_SIGNATURE and breaks the next link', () => {
    const j = liveJournal();
    const e = readBack(j)[target]!;
    const forged = signEntry({ ...e, data: { ...e.data, reason: 'nothing to see' } }, [seededSigner(66), seededSigner(2)]);
    sqlite(j, `UPDATE journal_entries SET data = '${canonicalize(forged.data)}', hash = '${forged.hash}', sigs = '${JSON.stringify(forged.sigs)}' WHERE seq = ${target}`);
    const found = codesAt(readBack(j));
    expect(found).toContainEqual({ seq: target, code: 'MISSING_DEVICE_SIGNATURE' });
    expect(found).toContainEqual({ seq: target + 1, code: 'BROKEN_LINK' });
  });

  it('stripping signatures fails MISSING_ACTOR_SIGNATURE, MISSING_DEVICE_SIGNATURE or MALFORMED_ENTRY', () => {
    const j = liveJournal();
    const e = readBack(j)[target]!;
    sqlite(j, `UPDATE journal_entries SET sigs = '${JSON.stringify([e.sigs[0]])}' WHERE seq = ${target}`);
    expect(codesAt(readBack(j))).toEqual([{ seq: target, code: 'MISSING_ACTOR_SIGNATURE' }]);
    sqlite(j, `UPDATE journal_entries SET sigs = '${JSON.stringify([e.sigs[1]])}' WHERE seq = ${target}`);
    expect(codesAt(readBack(j)).map((f) => f.code)).toEqual(['MISSING_DEVICE_SIGNATURE', 'MISSING_ACTOR_SIGNATURE']);
    sqlite(j, `UPDATE journal_entries SET sigs = '[]' WHERE seq = ${target}`);
    expect(codesAt(readBack(j))[0]).toEqual({ seq: target, code: 'MALFORMED_ENTRY' });
  });

  it('swapping in an older copy of the database and appending fails FORK against the server hashes', () => {
    const j = liveJournal();
    j.db.pragma('wal_checkpoint(TRUNCATE)');
    const backup = join(j.dir, 'old.db');
    copyFileSync(j.path, backup);
    const oldHead = j.store.head()!;
    j.tick();
    const hidden = j.store.append({ type: 'checkout.opened', data: { reason: 'the one to hide' } });
    j.db.close();
    copyFileSync(backup, j.path);
    const db = openDatabase(j.path);
    extraDbs.push(db);
    j.tick();
    const replacement = JournalStore.open(db, { deviceSigner: j.device, now: () => j.clock }).append({ type: 'checkout.closed', data: {} });
    expect(replacement.seq).toBe(hidden.seq);
    expect(replacement.prev).toBe(oldHead.hash);
    const entries = [...JournalStore.open(db, { deviceSigner: j.device }).read({})];
    expect(codesAt(entries, { anchors: [{ seq: hidden.seq, hash: hidden.hash }] })).toEqual([{ seq: hidden.seq, code: 'FORK' }]);
  });
});

describe('tampering with an exported bundle', () => {
  async function exported(): Promise<{ j: TestJournal; path: string; lines: string[] }> {
    const j = liveJournal();
    const path = join(j.dir, 'j.hkj');
    exportJournal(j.store, { out: path, signer: j.device });
    return { j, path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
  }
  const codesOf = async (path: string, lines: string[]): Promise<FailureCode[]> => {
    writeFileSync(path, `${lines.join('\n')}\n`);
    return (await verifyBundleFile(path)).failures.map((f) => f.code);
  };
  const entryIndex = (lines: string[], seq: number): number => lines.findIndex((l) => l.startsWith('{"entry":') && JSON.parse(l).entry.seq === seq);

  it('the untouched bundle verifies', async () => {
    const { path, lines } = await exported();
    expect(await codesOf(path, lines)).toEqual([]);
  });

  it('a flipped byte in an entry fails HASH_MISMATCH and the part hash', async () => {
    const { path, lines } = await exported();
    const i = entryIndex(lines, 6);
    lines[i] = lines[i]!.replace('ticket 1', 'ticket 8');
    expect(new Set(await codesOf(path, lines))).toEqual(new Set(['HASH_MISMATCH', 'PART_HASH_MISMATCH']));
  });

  it('a deleted entry line fails SEQUENCE_GAP; a deleted tail fails TRUNCATED_TAIL; a lost manifest fails BAD_BUNDLE', async () => {
    const { path, lines } = await exported();
    const gap = lines.filter((_, i) => i !== entryIndex(lines, 6));
    expect(await codesOf(path, gap)).toEqual(expect.arrayContaining(['SEQUENCE_GAP', 'PART_HASH_MISMATCH']));
    const tail = [...lines.slice(0, -3), lines.at(-1)!];
    expect(await codesOf(path, tail)).toEqual(expect.arrayContaining(['TRUNCATED_TAIL', 'PART_HASH_MISMATCH']));
    expect(await codesOf(path, lines.slice(0, -1))).toContain('BAD_BUNDLE');
  });

  it('reordered and duplicated lines fail OUT_OF_ORDER and DUPLICATE_ENTRY', async () => {
    const { path, lines } = await exported();
    const a = entryIndex(lines, 6);
    const b = entryIndex(lines, 7);
    const swapped = [...lines];
    [swapped[a], swapped[b]] = [lines[b]!, lines[a]!];
    expect(await codesOf(path, swapped)).toEqual(expect.arrayContaining(['SEQUENCE_GAP', 'OUT_OF_ORDER']));
    const duplicated = [...lines.slice(0, a + 1), lines[a]!, ...lines.slice(a + 1)];
    expect(await codesOf(path, duplicated)).toEqual(expect.arrayContaining(['DUPLICATE_ENTRY', 'PART_HASH_MISMATCH']));
  });

  it('a manifest edited and re-signed by another key fails BAD_MANIFEST_SIGNATURE; an edited roster fails ROSTER_MISMATCH', async () => {
    const { path, lines } = await exported();
    const record = JSON.parse(lines.at(-1)!) as { manifest: BundleManifest };
    const forged = manifestLine({ ...record.manifest, exportedAt: 1 }, seededSigner(66)).trimEnd();
    expect(await codesOf(path, [...lines.slice(0, -1), forged])).toEqual(['BAD_MANIFEST_SIGNATURE']);
    const edited = lines.map((l) => (l.startsWith('{"custodian":') ? l.replace('"organisation":"acme"', '"organisation":"other"') : l));
    expect(new Set(await codesOf(path, edited))).toEqual(new Set(['ROSTER_MISMATCH', 'PART_HASH_MISMATCH']));
  });
});

describe('properties over random journals', () => {
  type Op = { kind: 'append'; actor: 0 | 1 | 2; n: number } | { kind: 'checkpoint' } | { kind: 'session' } | { kind: 'tick'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), actor: fc.constantFrom(0 as const, 1 as const, 2 as const), n: fc.integer({ min: -1_000_000, max: 1_000_000 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'session' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 200_000 }) }) },
  );

  /** Builds a real journal in a real SQLite file from random operations; returns its entries. */
  function build(ops: readonly Op[]): SignedEntry[] {
    const j = new TestJournal({ checkpointEvery: 5, heartbeatMs: 30_000 });
    try {
      const actors = [null, j.enrol('alice', 2), j.enrol('bob', 3)];
      let inSession = false;
      let last = j.clock;
      for (const o of ops) {
        switch (o.kind) {
          case 'append':
            j.store.append({ type: 'random.op', actor: actors[o.actor] ?? null, data: { n: o.n } });
            break;
          case 'checkpoint':
            j.store.checkpoint({ heartbeat: true });
            break;
          case 'session':
            j.store.append({ type: inSession ? 'session.ended' : 'session.started', data: {} });
            inSession = !inSession;
            break;
          case 'tick': {
            // Time passes as it does in the app: inside a session the heartbeat writes a
            // checkpoint whenever the journal has been quiet for half an interval.
            let left = o.ms;
            while (left > 0) {
              const step = Math.min(left, 5_000);
              j.tick(step);
              left -= step;
              if (inSession && j.clock - last >= 15_000) {
                j.store.checkpoint({ heartbeat: true });
                last = j.clock;
              }
            }
            break;
          }
        }
        if (o.kind !== 'tick') last = j.clock;
      }
      return [...j.entries()];
    } finally {
      j.close();
    }
  }

  type Mutation = 'field' | 'delete' | 'swap' | 'duplicate' | 'strip' | 'resign';
  function mutate(entries: SignedEntry[], kind: Mutation, at: number, other: number): unknown[] {
    const out: unknown[] = [...entries];
    const e = entries[at]!;
    switch (kind) {
      case 'field':
        out[at] = { ...e, data: { ...e.data, tampered: true } };
        break;
      case 'delete':
        out.splice(at, 1);
        break;
      case 'swap': {
        const b = other === at ? (at + 1) % entries.length : other;
        [out[at], out[b]] = [entries[b], entries[at]];
        break;
      }
      case 'duplicate':
        out.splice(at, 0, e);
        break;
      case 'strip':
        out[at] = { ...e, sigs: e.sigs.length > 1 ? e.sigs.slice(0, -1) : [] };
        break;
      case 'resign':
        out[at] = signEntry({ ...e, time: e.time + 1 }, [seededSigner(66)]);
        break;
    }
    return out;
  }

  it('an untouched random journal always verifies', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const entries = build(ops);
        const report = verifyEntries(entries, { expectHead: { seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash } });
        expect(report.failures).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('any single mutation of a random journal is detected', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 30 }),
        fc.constantFrom<Mutation>('field', 'delete', 'swap', 'duplicate', 'strip', 'resign'),
        fc.nat(),
        fc.nat(),
        (ops, kind, a, b) => {
          const entries = build(ops);
          const at = a % entries.length;
          const mutated = mutate(entries, kind, at, b % entries.length);
          // The verifier knows the true head (from the manifest or a receipt), as a reviewer does.
          const report = verifyEntries(mutated, { expectHead: { seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash } });
          expect(report.ok).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });
});
