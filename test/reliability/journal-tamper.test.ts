import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { canonicalize } from '../../shared/journal/canonical';
import { signEntry, type EntrySigner, type SignedEntry } from '../../shared/journal/entry';
import { entryLine as bundleEntryLine, manifestLine, type BundleManifest } from '../../shared/journal/bundle';
import { verifyEntries, type FailureCode } from '../../shared/journal/verifier';
import { openDatabase, type Db } from '../../electron/base/database';
import { JournalStore } from '../../electron/journal/store';
import { exportJournal } from '../../electron/journal/export';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { TestJournal, insiderRewrite, rewriteRowsSql, seededSigner } from '../support/journal-builder';

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
  const alice = j.enrol('alice', 2, { role: 'admin' });
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
  const entries = [
    ...JournalStore.open(db, { deviceSigner: j.store.currentDeviceKey() === j.device.publicKey ? j.device : seededSigner(7) }).read({}),
  ];
  db.close();
  return entries;
}

const codesAt = (
  entries: readonly unknown[],
  options: Parameters<typeof verifyEntries>[1] = {},
): { seq: number | null; code: FailureCode }[] => verifyEntries(entries, options).failures.map((f) => ({ seq: f.seq, code: f.code }));

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
    {
      field: 'vault',
      sql: (e) => `UPDATE journal_entries SET vault = '${flipHex(e.vault)}' WHERE seq = ${target}`,
      expect: ['HASH_MISMATCH', 'WRONG_VAULT'],
    },
    {
      field: 'device',
      sql: (e) => `UPDATE journal_entries SET device = '${flipHex(e.device)}' WHERE seq = ${target}`,
      expect: ['HASH_MISMATCH', 'WRONG_DEVICE'],
    },
    {
      field: 'prev',
      sql: (e) => `UPDATE journal_entries SET prev = '${flipHex(e.prev)}' WHERE seq = ${target}`,
      expect: ['HASH_MISMATCH', 'BROKEN_LINK'],
    },
    { field: 'time', sql: () => `UPDATE journal_entries SET time = time + 1 WHERE seq = ${target}`, expect: ['HASH_MISMATCH'] },
    { field: 'type', sql: () => `UPDATE journal_entries SET type = 'checkout.closed' WHERE seq = ${target}`, expect: ['HASH_MISMATCH'] },
    {
      field: 'actor',
      sql: () => `UPDATE journal_entries SET actor = 'bob' WHERE seq = ${target}`,
      expect: ['HASH_MISMATCH', 'MISSING_ACTOR_SIGNATURE'],
    },
    {
      field: 'data',
      sql: () => `UPDATE journal_entries SET data = replace(data, 'ticket 1', 'ticket 4') WHERE seq = ${target}`,
      expect: ['HASH_MISMATCH'],
    },
    {
      field: 'hash',
      sql: (e) => `UPDATE journal_entries SET hash = '${flipHex(e.hash)}' WHERE seq = ${target}`,
      expect: ['HASH_MISMATCH', 'BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'],
    },
    {
      field: 'sigs',
      sql: (e) =>
        `UPDATE journal_entries SET sigs = '${JSON.stringify([e.sigs[0], { ...e.sigs[1]!, sig: flipHex(e.sigs[1]!.sig, 40) }])}' WHERE seq = ${target}`,
      expect: ['BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'],
    },
  ];
  for (const c of cases) {
    it(`flipping ${c.field} of one entry fails with ${c.expect.join(' + ')}`, () => {
      const j = liveJournal();
      const before = readBack(j);
      expect(codesAt(before)).toEqual([]);
      sqlite(j, c.sql(before[target]!));
      const found = codesAt(readBack(j))
        .filter((f) => f.seq === target)
        .map((f) => f.code);
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
    sqlite(
      j,
      `UPDATE journal_entries SET seq = 1000000 WHERE seq = ${target}; UPDATE journal_entries SET seq = ${target} WHERE seq = ${target + 1}; UPDATE journal_entries SET seq = ${target + 1} WHERE seq = 1000000;`,
    );
    const found = codesAt(readBack(j));
    expect(found).toContainEqual({ seq: target, code: 'HASH_MISMATCH' });
    expect(found).toContainEqual({ seq: target + 1, code: 'HASH_MISMATCH' });
  });

  it('duplicating an entry as a new row fails verification, whatever hash the copy carries', () => {
    const j = liveJournal();
    const head = j.store.head()!;
    const copy = (hashSql: string): string =>
      `INSERT INTO journal_entries SELECT ${head.seq + 1}, v, vault, device, prev, time, type, actor, data, ${hashSql}, sigs, account FROM journal_entries WHERE seq = ${target}`;
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
    sqlite(
      j,
      `UPDATE journal_entries SET data = '${canonicalize(forged.data)}', hash = '${forged.hash}', sigs = '${JSON.stringify(forged.sigs)}' WHERE seq = ${target}`,
    );
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

  it('moving an entry back in time fails TIME_BACKWARDS, also when an insider re-signs and re-links the rest', () => {
    const j = liveJournal();
    const before = readBack(j);
    const earlier = before[target - 1]!.time - 1;
    sqlite(j, `UPDATE journal_entries SET time = ${earlier} WHERE seq = ${target}`);
    expect(codesAt(readBack(j))).toEqual([
      { seq: target, code: 'HASH_MISMATCH' },
      { seq: target, code: 'TIME_BACKWARDS' },
    ]);
    // With the device and custodian keys every hash, link, signature and checkpoint root is redone: only the clock gives it away.
    sqlite(j, rewriteRowsSql(insiderRewrite(before, j, (b) => (b.seq === target ? { body: { ...b, time: earlier } } : undefined))));
    expect(codesAt(readBack(j))).toEqual([{ seq: target, code: 'TIME_BACKWARDS' }]);
  });

  it('entries written past the head a reviewer was given fail HEAD_MISMATCH', () => {
    const j = liveJournal();
    const known = j.store.head()!;
    expect(codesAt(readBack(j), { expectHead: known })).toEqual([]);
    // An insider holding the device key writes more through the store after the head was handed over.
    j.tick();
    j.store.append({
      type: 'checkout.opened',
      actor: { id: 'alice', signer: j.custodians.get('alice')! },
      data: { reason: 'after the fact' },
    });
    const now = j.store.head()!;
    expect(codesAt(readBack(j), { expectHead: known })).toEqual([{ seq: now.seq, code: 'HEAD_MISMATCH' }]);
  });

  it('deleting or editing the genesis row fails BAD_GENESIS', () => {
    const j = liveJournal();
    const before = readBack(j);
    sqlite(j, `UPDATE journal_entries SET prev = '${flipHex(before[0]!.prev)}' WHERE seq = 0`);
    expect(codesAt(readBack(j))).toEqual([
      { seq: 0, code: 'HASH_MISMATCH' },
      { seq: 0, code: 'BAD_GENESIS' },
    ]);
    // Re-signed by an insider: the genesis claims a predecessor, which a genesis never has.
    sqlite(j, rewriteRowsSql(insiderRewrite(before, j, (b) => (b.seq === 0 ? { body: { ...b, prev: flipHex(b.prev) } } : undefined))));
    expect(codesAt(readBack(j))).toEqual([{ seq: 0, code: 'BAD_GENESIS' }]);
    sqlite(j, 'DELETE FROM journal_entries WHERE seq = 0');
    expect(codesAt(readBack(j))[0]).toEqual({ seq: 1, code: 'BAD_GENESIS' });
  });

  it('a co-signature by a key the journal never enrolled fails UNKNOWN_KEY, and so does revoking such a key', () => {
    const j = liveJournal();
    const e = readBack(j)[target]!;
    const outsider = seededSigner(66);
    // Anyone can sign an entry hash with a key of their own: no device key is needed to add one.
    const extra = signEntry(e, [outsider]).sigs[0]!;
    sqlite(j, `UPDATE journal_entries SET sigs = '${JSON.stringify([...e.sigs, extra])}' WHERE seq = ${target}`);
    expect(codesAt(readBack(j))).toEqual([{ seq: target, code: 'UNKNOWN_KEY' }]);
    sqlite(j, `UPDATE journal_entries SET sigs = '${JSON.stringify([e.sigs[0], extra])}' WHERE seq = ${target}`);
    expect(codesAt(readBack(j))).toEqual([
      { seq: target, code: 'UNKNOWN_KEY' },
      { seq: target, code: 'MISSING_ACTOR_SIGNATURE' },
    ]);
    sqlite(j, `UPDATE journal_entries SET sigs = '${JSON.stringify(e.sigs)}' WHERE seq = ${target}`);
    const revoked = j.revoke('mallory', outsider.publicKey);
    expect(codesAt(readBack(j))).toEqual([{ seq: revoked.seq, code: 'UNKNOWN_KEY' }]);
  });

  it('a signature by a revoked custodian key fails REVOKED_KEY', () => {
    const j = liveJournal();
    j.tick();
    // Bob's revocation is proposed by alice (admin) and approved by carol, a third custodian.
    j.enrol('carol', 4);
    j.tick();
    const revocation = j.revoke('bob');
    for (let i = 0; i < 3; i++) {
      j.tick();
      j.store.append({
        type: 'checkout.opened',
        actor: { id: 'alice', signer: j.custodians.get('alice')! },
        data: { reason: `later ${i}` },
      });
    }
    const before = readBack(j);
    expect(codesAt(before)).toEqual([]);
    const later = before.find((e) => e.seq > revocation.seq && e.actor === 'alice')!;
    // Bob's old key (revoked because it leaked) is used to co-sign a later entry, re-signed and re-linked by an insider.
    sqlite(j, rewriteRowsSql(insiderRewrite(before, j, (b) => (b.seq === later.seq ? { body: { ...b, actor: 'bob' } } : undefined))));
    expect(codesAt(readBack(j))).toEqual([{ seq: later.seq, code: 'REVOKED_KEY' }]);
  });

  it('emptying the entries table fails EMPTY_JOURNAL', () => {
    const j = liveJournal();
    sqlite(j, 'DELETE FROM journal_entries');
    expect(codesAt(readBack(j))).toEqual([{ seq: null, code: 'EMPTY_JOURNAL' }]);
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
  const entryIndex = (lines: string[], seq: number): number =>
    lines.findIndex((l) => l.startsWith('{"entry":') && JSON.parse(l).entry.seq === seq);

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

  type Found = { seq: number | null; code: FailureCode };
  const failuresOf = async (path: string, lines: readonly string[], mode: 'anchored' | 'full' = 'anchored'): Promise<Found[]> => {
    writeFileSync(path, `${lines.join('\n')}\n`);
    return (await verifyBundleFile(path, { mode })).failures.map((f) => ({ seq: f.seq, code: f.code }));
  };
  const entryOf = (line: string): SignedEntry => (JSON.parse(line) as { entry: SignedEntry }).entry;
  const lineOf = (entry: unknown): string => bundleEntryLine(entry as SignedEntry).trimEnd();

  /**
   * The manifest re-signed over edited lines, as whoever holds `signer` would write it: every
   * part hash and line count recomputed, and the head and last checkpoint too unless `keepHead`.
   */
  function resigned(lines: readonly string[], signer: EntrySigner, options: { keepHead?: boolean } = {}): string[] {
    const body = lines.slice(0, -1);
    const { manifest } = JSON.parse(lines.at(-1)!) as { manifest: BundleManifest };
    const part = (kind: string): { sha256: string; lines: number } => {
      const mine = body.filter((l) => (JSON.parse(l) as { kind: string }).kind === kind);
      return {
        sha256: createHash('sha256')
          .update(mine.map((l) => `${l}\n`).join(''))
          .digest('hex'),
        lines: mine.length,
      };
    };
    const entries = body.filter((l) => l.startsWith('{"entry":')).map(entryOf);
    const last = entries.at(-1)!;
    const checkpoint = entries.filter((e) => e.type === 'checkpoint').at(-1);
    const next: BundleManifest = {
      ...manifest,
      signingKey: signer.publicKey,
      parts: { ...manifest.parts, roster: part('custodian'), entries: part('entry'), receipts: part('receipt') },
      ...(options.keepHead
        ? {}
        : {
            head: { seq: last.seq, hash: last.hash },
            lastCheckpoint:
              checkpoint === undefined ? null : { seq: checkpoint.seq, hash: checkpoint.hash, root: String(checkpoint.data.root) },
          }),
    };
    return [...body, manifestLine(next, signer).trimEnd()];
  }

  const target = 6; // checkout.opened, signed by the device and alice
  const flipped = (e: SignedEntry, sig: 0 | 1, member: 'key' | 'sig'): unknown => ({
    ...e,
    sigs: e.sigs.map((s, i) => (i === sig ? { ...s, [member]: flipHex(s[member], member === 'sig' ? 40 : 10) } : s)),
  });
  // `anchored`: what anchored verification (the default) reports instead, where it differs from --full.
  const fieldCases: { field: string; edit: (e: SignedEntry) => unknown; at?: number; expect: FailureCode[]; anchored?: FailureCode[] }[] = [
    { field: 'v', edit: (e) => ({ ...e, v: 2 }), expect: ['MALFORMED_ENTRY'] },
    // 6 becomes 7: a gap where it stands, and the real seq 7 then comes "before" it.
    { field: 'seq', edit: (e) => ({ ...e, seq: e.seq + 1 }), at: target + 1, expect: ['HASH_MISMATCH', 'SEQUENCE_GAP', 'OUT_OF_ORDER'] },
    { field: 'prev', edit: (e) => ({ ...e, prev: flipHex(e.prev) }), expect: ['HASH_MISMATCH', 'BROKEN_LINK'] },
    { field: 'time', edit: (e) => ({ ...e, time: e.time + 1 }), expect: ['HASH_MISMATCH'] },
    { field: 'type', edit: (e) => ({ ...e, type: e.type.replace('opened', 'opener') }), expect: ['HASH_MISMATCH'] },
    { field: 'actor', edit: (e) => ({ ...e, actor: 'alicf' }), expect: ['HASH_MISMATCH', 'MISSING_ACTOR_SIGNATURE'] },
    { field: 'data', edit: (e) => ({ ...e, data: { ...e.data, reason: 'ticket 8' } }), expect: ['HASH_MISMATCH'] },
    {
      field: 'hash',
      edit: (e) => ({ ...e, hash: flipHex(e.hash) }),
      expect: ['HASH_MISMATCH', 'BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'],
    },
    { field: 'sigs[0].key', edit: (e) => flipped(e, 0, 'key'), expect: ['BAD_SIGNATURE', 'MISSING_DEVICE_SIGNATURE'] },
    // The one difference between the modes (docs/journal-format.md, section 10.2): the checkpoint
    // after seq 6 attests it, so anchored verification does not check its own device signature.
    { field: 'sigs[0].sig', edit: (e) => flipped(e, 0, 'sig'), expect: ['BAD_SIGNATURE'], anchored: [] },
    { field: 'sigs[1].key', edit: (e) => flipped(e, 1, 'key'), expect: ['BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'] },
    { field: 'sigs[1].sig', edit: (e) => flipped(e, 1, 'sig'), expect: ['BAD_SIGNATURE', 'MISSING_ACTOR_SIGNATURE'] },
    { field: 'vault', edit: (e) => ({ ...e, vault: flipHex(e.vault) }), expect: ['HASH_MISMATCH', 'WRONG_VAULT'] },
    { field: 'device', edit: (e) => ({ ...e, device: flipHex(e.device) }), expect: ['HASH_MISMATCH', 'WRONG_DEVICE'] },
  ];
  for (const c of fieldCases) {
    it(`a flipped ${c.field} in an entry line fails ${c.expect.join(' + ')}, whoever re-signs the manifest`, async () => {
      const { j, path, lines } = await exported();
      const i = entryIndex(lines, target);
      const edited = [...lines];
      edited[i] = lineOf(c.edit(entryOf(lines[i]!)));
      expect(edited[i]).not.toBe(lines[i]);
      const at = c.at ?? target;
      const check = async (bundle: readonly string[], bundleLevel: FailureCode[]): Promise<void> => {
        for (const mode of ['full', 'anchored'] as const) {
          const found = await failuresOf(path, bundle, mode);
          const want = mode === 'anchored' ? (c.anchored ?? c.expect) : c.expect;
          expect(new Set(found.filter((f) => f.seq === at).map((f) => f.code)), mode).toEqual(new Set(want));
          expect(found.filter((f) => f.seq === null).map((f) => f.code)).toEqual(bundleLevel);
        }
      };
      // As edited: the entries part no longer has the hash the signed manifest names.
      await check(edited, ['PART_HASH_MISMATCH']);
      // Parts recomputed and signed by another key: the manifest check fails, the entry check still does.
      await check(resigned(edited, seededSigner(66)), ['BAD_MANIFEST_SIGNATURE']);
      // Signed by the device key, as an insider would: only the entry-level check is left, and it fails.
      await check(resigned(edited, j.device), []);
    });
  }

  it('a stripped actor signature fails MISSING_ACTOR_SIGNATURE, also under a manifest the insider re-signed', async () => {
    const { j, path, lines } = await exported();
    const i = entryIndex(lines, target);
    const e = entryOf(lines[i]!);
    const stripped = [...lines];
    stripped[i] = lineOf({ ...e, sigs: [e.sigs[0]] });
    expect(await failuresOf(path, stripped)).toEqual([
      { seq: target, code: 'MISSING_ACTOR_SIGNATURE' },
      { seq: null, code: 'PART_HASH_MISMATCH' },
    ]);
    expect(await failuresOf(path, resigned(stripped, j.device))).toEqual([{ seq: target, code: 'MISSING_ACTOR_SIGNATURE' }]);
  });

  it('a dropped checkpoint line fails SEQUENCE_GAP, MISSING_CHECKPOINT and CHECKPOINT_ROOT_MISMATCH, also re-signed', async () => {
    const { j, path, lines } = await exported();
    const checkpoints = lines
      .filter((l) => l.startsWith('{"entry":'))
      .map(entryOf)
      .filter((e) => e.type === 'checkpoint');
    const dropped = checkpoints[1]!.seq;
    const without = lines.filter((_, i) => i !== entryIndex(lines, dropped));
    const entryLevel = [
      { seq: dropped + 1, code: 'SEQUENCE_GAP' },
      // With the checkpoint gone, more than checkpointEvery (4) entries run without one.
      { seq: dropped + 1, code: 'MISSING_CHECKPOINT' },
      // Every later checkpoint covers a tree that had that leaf.
      ...checkpoints.slice(2).map((c) => ({ seq: c.seq, code: 'CHECKPOINT_ROOT_MISMATCH' })),
    ];
    expect(await failuresOf(path, without)).toEqual([...entryLevel, { seq: null, code: 'PART_HASH_MISMATCH' }]);
    expect(await failuresOf(path, resigned(without, j.device))).toEqual(entryLevel);
  });

  it('an edited entry re-signed with another key fails MISSING_DEVICE_SIGNATURE and breaks the next link, also re-signed', async () => {
    const { j, path, lines } = await exported();
    const i = entryIndex(lines, target);
    const e = entryOf(lines[i]!);
    const forged = [...lines];
    forged[i] = lineOf(signEntry({ ...e, data: { ...e.data, reason: 'nothing to see' } }, [seededSigner(66), j.custodians.get('alice')!]));
    const laterCheckpoints = lines
      .filter((l) => l.startsWith('{"entry":'))
      .map(entryOf)
      .filter((c) => c.type === 'checkpoint' && c.seq > target);
    const entryLevel = [
      { seq: target, code: 'MISSING_DEVICE_SIGNATURE' },
      { seq: target + 1, code: 'BROKEN_LINK' },
      // The forged hash is a leaf of every later checkpoint's tree.
      ...laterCheckpoints.map((c) => ({ seq: c.seq, code: 'CHECKPOINT_ROOT_MISMATCH' })),
    ];
    expect(await failuresOf(path, forged)).toEqual([...entryLevel, { seq: null, code: 'PART_HASH_MISMATCH' }]);
    expect(await failuresOf(path, resigned(forged, seededSigner(66)))).toEqual([
      ...entryLevel,
      { seq: null, code: 'BAD_MANIFEST_SIGNATURE' },
    ]);
    expect(await failuresOf(path, resigned(forged, j.device))).toEqual(entryLevel);
  });

  it('a bundle re-written by an insider with an entry moved back in time fails TIME_BACKWARDS', async () => {
    const { j, path, lines } = await exported();
    const entries = lines.filter((l) => l.startsWith('{"entry":')).map(entryOf);
    const earlier = entries[target - 1]!.time - 1;
    const rewritten = insiderRewrite(entries, j, (b) => (b.seq === target ? { body: { ...b, time: earlier } } : undefined));
    const first = lines.findIndex((l) => l.startsWith('{"entry":'));
    const forged = resigned([...lines.slice(0, first), ...rewritten.map(lineOf), lines.at(-1)!], j.device);
    expect(await failuresOf(path, forged)).toEqual([{ seq: target, code: 'TIME_BACKWARDS' }]);
  });

  it('entry lines spliced in past the manifest head fail HEAD_MISMATCH', async () => {
    const { j, path, lines } = await exported();
    const head = entryOf(lines.at(-2)!).seq;
    // The journal goes on; a later export's genuine, correctly chained entries are added to this bundle.
    j.tick();
    j.store.append({ type: 'checkout.closed', data: {} });
    const later = join(j.dir, 'later.hkj');
    exportJournal(j.store, { out: later, signer: j.device });
    const extra = readFileSync(later, 'utf8')
      .trimEnd()
      .split('\n')
      .filter((l) => l.startsWith('{"entry":') && entryOf(l).seq > head);
    expect(extra.length).toBeGreaterThan(0);
    const spliced = [...lines.slice(0, -1), ...extra, lines.at(-1)!];
    const newHead = entryOf(extra.at(-1)!).seq;
    const plain = await failuresOf(path, spliced);
    expect(plain.filter((f) => f.seq !== null)).toEqual([{ seq: newHead, code: 'HEAD_MISMATCH' }]);
    expect(plain).toContainEqual({ seq: null, code: 'PART_HASH_MISMATCH' });
    // An insider re-signs the parts but keeps the old head: the chain still runs past it.
    const insider = await failuresOf(path, resigned(spliced, j.device, { keepHead: true }));
    expect(insider.filter((f) => f.seq !== null)).toEqual([{ seq: newHead, code: 'HEAD_MISMATCH' }]);
    expect(insider).not.toContainEqual({ seq: null, code: 'PART_HASH_MISMATCH' });
  });

  it('a bundle without its genesis line fails BAD_GENESIS; one without any entry line fails EMPTY_JOURNAL', async () => {
    const { j, path, lines } = await exported();
    const noGenesis = lines.filter((_, i) => i !== entryIndex(lines, 0));
    expect((await failuresOf(path, noGenesis))[0]).toEqual({ seq: 1, code: 'BAD_GENESIS' });
    expect((await failuresOf(path, resigned(noGenesis, j.device))).filter((f) => f.code === 'BAD_GENESIS')).toEqual([
      { seq: 1, code: 'BAD_GENESIS' },
    ]);
    const noEntries = lines.filter((l) => !l.startsWith('{"entry":'));
    expect(await failuresOf(path, noEntries)).toContainEqual({ seq: null, code: 'EMPTY_JOURNAL' });
  });
});

describe('properties over random journals', () => {
  type Op = { kind: 'append'; actor: 0 | 1 | 2; n: number } | { kind: 'checkpoint' } | { kind: 'session' } | { kind: 'tick'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('append' as const),
        actor: fc.constantFrom(0 as const, 1 as const, 2 as const),
        n: fc.integer({ min: -1_000_000, max: 1_000_000 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'session' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 200_000 }) }) },
  );

  /** Builds a real journal in a real SQLite file from random operations; the caller closes it. */
  function buildJournal(ops: readonly Op[]): TestJournal {
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
      return j;
    } catch (error) {
      j.close();
      throw error;
    }
  }

  /** Builds a random journal and returns its entries, read back from the file. */
  function build(ops: readonly Op[]): SignedEntry[] {
    const j = buildJournal(ops);
    try {
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

  /**
   * The first failure a mutation must cause, by kind and place (in-memory mutations, as done by
   * mutate()): a verifier that notices something, but not what, fails this.
   */
  function expectedFirst(
    entries: readonly SignedEntry[],
    kind: Mutation,
    at: number,
    other: number,
  ): { seq: number | null; code: FailureCode } {
    const e = entries[at]!;
    switch (kind) {
      case 'field':
        return { seq: e.seq, code: 'HASH_MISMATCH' };
      case 'delete':
        if (entries.length === 1) return { seq: null, code: 'EMPTY_JOURNAL' };
        if (at === 0) return { seq: entries[1]!.seq, code: 'BAD_GENESIS' };
        // The last entry gone: the chain still links, it just ends short of the known head.
        if (at === entries.length - 1) return { seq: entries[at - 1]!.seq, code: 'TRUNCATED_TAIL' };
        return { seq: entries[at + 1]!.seq, code: 'SEQUENCE_GAP' };
      case 'swap': {
        const b = other === at ? (at + 1) % entries.length : other;
        const [lo, hi] = [Math.min(at, b), Math.max(at, b)];
        // The later entry, genuine, now stands first: a jump ahead (or no genesis at all).
        return { seq: entries[hi]!.seq, code: lo === 0 ? 'BAD_GENESIS' : 'SEQUENCE_GAP' };
      }
      case 'duplicate':
        return { seq: e.seq, code: 'DUPLICATE_ENTRY' };
      case 'strip':
        // Entries signed twice are an actor's: the actor's signature goes. A lone device signature leaves none at all.
        return { seq: e.seq, code: e.sigs.length > 1 ? 'MISSING_ACTOR_SIGNATURE' : 'MALFORMED_ENTRY' };
      case 'resign':
        return { seq: e.seq, code: 'MISSING_DEVICE_SIGNATURE' };
    }
  }

  const mutationKinds = fc.constantFrom<Mutation>('field', 'delete', 'swap', 'duplicate', 'strip', 'resign');

  it('any single mutation of a random journal is detected, with the code that mutation calls for', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), mutationKinds, fc.nat(), fc.nat(), (ops, kind, a, b) => {
        const entries = build(ops);
        // A one-entry journal has nothing to swap with.
        fc.pre(kind !== 'swap' || entries.length > 1);
        const at = a % entries.length;
        const mutated = mutate(entries, kind, at, b % entries.length);
        // The verifier knows the true head (from the manifest or a receipt), as a reviewer does.
        const report = verifyEntries(mutated, { expectHead: { seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash } });
        expect(report.ok).toBe(false);
        const first = report.failures[0]!;
        expect({ seq: first.seq, code: first.code }).toEqual(expectedFirst(entries, kind, at, b % entries.length));
      }),
      { numRuns: 60 },
    );
  });

  /** The same mutations made to the SQLite file itself with the sqlite3 tool; returns the first failure they must cause. */
  function mutateFile(
    j: TestJournal,
    entries: readonly SignedEntry[],
    kind: Mutation,
    at: number,
    other: number,
  ): { seq: number | null; code: FailureCode } {
    const e = entries[at]!;
    const head = entries.at(-1)!;
    switch (kind) {
      case 'field':
        sqlite(j, `UPDATE journal_entries SET data = json_set(data, '$.tampered', json('true')) WHERE seq = ${e.seq}`);
        return { seq: e.seq, code: 'HASH_MISMATCH' };
      case 'delete':
        sqlite(j, `DELETE FROM journal_entries WHERE seq = ${e.seq}`);
        return expectedFirst(entries, kind, at, other);
      case 'swap': {
        // Rows are read in seq order: the contents trade places, each now under a seq its body does not name.
        const b = other === at ? (at + 1) % entries.length : other;
        const [lo, hi] = [entries[Math.min(at, b)]!.seq, entries[Math.max(at, b)]!.seq];
        sqlite(
          j,
          `UPDATE journal_entries SET seq = 1000000 WHERE seq = ${lo}; UPDATE journal_entries SET seq = ${lo} WHERE seq = ${hi}; UPDATE journal_entries SET seq = ${hi} WHERE seq = 1000000;`,
        );
        return { seq: lo, code: 'HASH_MISMATCH' };
      }
      case 'duplicate':
        // seq is the key of the table: a copy can only go in as a new row, after the head.
        sqlite(
          j,
          `INSERT INTO journal_entries SELECT ${head.seq + 1}, v, vault, device, prev, time, type, actor, data, hash, sigs, account FROM journal_entries WHERE seq = ${e.seq}`,
        );
        return { seq: head.seq + 1, code: 'HASH_MISMATCH' };
      case 'strip':
        sqlite(j, `UPDATE journal_entries SET sigs = '${JSON.stringify(e.sigs.slice(0, -1))}' WHERE seq = ${e.seq}`);
        return expectedFirst(entries, kind, at, other);
      case 'resign': {
        const forged = signEntry({ ...e, time: e.time + 1 }, [seededSigner(66)]);
        sqlite(
          j,
          `UPDATE journal_entries SET time = ${forged.time}, hash = '${forged.hash}', sigs = '${JSON.stringify(forged.sigs)}' WHERE seq = ${e.seq}`,
        );
        return { seq: e.seq, code: 'MISSING_DEVICE_SIGNATURE' };
      }
    }
  }

  it('any single mutation of the SQLite file of a random journal is detected, with the code that mutation calls for', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), mutationKinds, fc.nat(), fc.nat(), (ops, kind, a, b) => {
        const j = buildJournal(ops);
        try {
          const entries = [...j.entries()];
          fc.pre(kind !== 'swap' || entries.length > 1);
          const at = a % entries.length;
          const want = mutateFile(j, entries, kind, at, b % entries.length);
          const report = verifyEntries(readBack(j), { expectHead: { seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash } });
          expect(report.ok).toBe(false);
          expect({ seq: report.failures[0]!.seq, code: report.failures[0]!.code }).toEqual(want);
        } finally {
          j.close();
        }
      }),
      { numRuns: 15 },
    );
  });
});
