import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { ed25519Signer, entryHashBytes, verifyEntrySignature, type EntrySigner } from '../../shared/journal/entry';
import { merkleRoot } from '../../shared/journal/merkle';
import { migrate, openDatabase, type Db } from '../../electron/base/database';
import { verifyEntries } from '../../shared/journal/verifier';
import { fileURLToPath } from 'node:url';
import { JournalStore, MAX_ENTRY_BYTES, type AppendInput } from '../../electron/journal/store';

let sodium: Sodium;
const dirs: string[] = [];
const dbs: Db[] = [];
const VAULT = '0123456789abcdef0123456789abcdef';

function signer(seedByte: number): EntrySigner {
  return ed25519Signer(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(seedByte)).privateKey);
}

function freshDb(): { db: Db; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-journal-'));
  dirs.push(dir);
  const path = join(dir, 'vault.db');
  const db = openDatabase(path);
  dbs.push(db);
  return { db, path };
}

beforeAll(async () => {
  sodium = await sodiumReady();
});

afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('JournalStore', () => {
  it('writes a signed genesis, chains appends and reads them back from the file', () => {
    const { db, path } = freshDb();
    const device = signer(1);
    const alice = signer(2);
    let clock = 1_000;
    const store = JournalStore.open(db, { deviceSigner: device, now: () => clock++ });
    const genesis = store.init(VAULT, { name: 'prod roots' });
    expect(genesis).toMatchObject({ seq: 0, type: 'vault.genesis', vault: VAULT, device: device.publicKey });
    expect(genesis.data).toMatchObject({ name: 'prod roots', deviceKey: device.publicKey });
    const opened = store.append({
      type: 'checkout.opened',
      actor: { id: 'alice', signer: alice },
      account: '123456789012',
      data: { half: 'password', reason: 'incident 7' },
    });
    expect(opened.prev).toBe(genesis.hash);
    expect(opened.data.account).toBe('123456789012');
    expect(opened.sigs.map((s) => s.key)).toEqual([device.publicKey, alice.publicKey]);
    for (const sig of opened.sigs) expect(verifyEntrySignature(opened.hash, sig)).toBe(true);
    expect(sodium.to_hex(entryHashBytes(opened))).toBe(opened.hash);
    db.close();

    const again = JournalStore.open(openDatabase(path), { deviceSigner: device });
    expect(again.head()).toEqual({ seq: 1, hash: opened.hash });
    expect(again.vaultId()).toBe(VAULT);
    expect([...again.read({})]).toEqual([genesis, opened]);
  });

  it('refuses a second genesis and appends before genesis', () => {
    const { db } = freshDb();
    const store = JournalStore.open(db, { deviceSigner: signer(1) });
    expect(() => store.append({ type: 'x.y', data: {} })).toThrow(/no genesis/);
    store.init(VAULT, {});
    expect(() => store.init(VAULT, {})).toThrow(HalfkeyError);
    expect(store.size()).toBe(1);
  });

  it('refuses bad input with a named field and writes nothing of the batch', () => {
    const { db } = freshDb();
    const store = JournalStore.open(db, { deviceSigner: signer(1) });
    store.init(VAULT, {});
    const head = store.head();
    expect(() =>
      store.appendBatch([
        { type: 'ok.one', data: {} },
        { type: 'ok.two', data: { ratio: 0.5 } },
      ]),
    ).toThrow(/inputs\[1\]|floating point/);
    expect(() => store.append({ type: 'Bad Type', data: {} })).toThrow(/dotted lowercase/);
    expect(() => store.append({ type: 'checkpoint', data: {} })).toThrow(/written by the journal itself/);
    // What the central server would refuse on every resend (PostgreSQL cannot store U+0000).
    expect(() =>
      store.appendBatch([
        { type: 'ok.one', data: {} },
        { type: 'custody.checkout', actor: { id: 'c-1\u0000', signer: signer(2) }, data: {} },
      ]),
    ).toThrow(/inputs\[1\]\.actor|control characters/);
    expect(() => store.append({ type: 'custodian.enrolled', data: { custodian: 'c-2', role: 'admin\u001b[31m' } })).toThrow(
      /data\.role must not contain control characters/,
    );
    expect(store.head()).toEqual(head);
  });

  it('refuses an entry above MAX_ENTRY_BYTES of canonical JSON, naming the limit, and writes nothing of the batch', () => {
    const { db } = freshDb();
    const store = JournalStore.open(db, { deviceSigner: signer(1) });
    store.init(VAULT, {});
    const head = store.head();
    const refused = (() => {
      try {
        store.appendBatch([
          { type: 'ok.one', data: {} },
          { type: 'ok.big', data: { note: 'é'.repeat(MAX_ENTRY_BYTES / 2) } },
        ]);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(refused).toBeInstanceOf(HalfkeyError);
    expect(refused).toMatchObject({
      code: 'INVALID_PAYLOAD',
      message: expect.stringMatching(
        new RegExp(`#\\d+ \\(ok\\.big\\) would be \\d+ bytes; an entry holds at most ${MAX_ENTRY_BYTES} bytes`),
      ) as unknown,
    });
    expect(store.head()).toEqual(head);
    // Just below the limit is an ordinary entry.
    expect(store.append({ type: 'ok.large', data: { note: 'x'.repeat(MAX_ENTRY_BYTES - 1024) } }).seq).toBe(head!.seq + 1);
  });

  it('keeps time monotonic when the wall clock goes backwards', () => {
    const { db } = freshDb();
    const times = [5_000, 4_000, 3_000];
    const store = JournalStore.open(db, { deviceSigner: signer(1), now: () => times.shift() ?? 0 });
    store.init(VAULT, {});
    const a = store.append({ type: 'a.b', data: {} });
    const b = store.append({ type: 'a.b', data: {} });
    expect(a.time).toBe(5_000);
    expect(b.time).toBe(5_000);
  });

  it('commits with the caller transaction and forgets an append the caller rolls back', () => {
    const { db } = freshDb();
    db.exec('CREATE TABLE vault_items (id TEXT PRIMARY KEY)');
    const store = JournalStore.open(db, { deviceSigner: signer(1) });
    store.init(VAULT, {});
    const before = store.head();
    expect(() =>
      db.transaction(() => {
        db.prepare('INSERT INTO vault_items VALUES (?)').run('item-1');
        const entry = store.append({ type: 'item.added', data: { id: 'item-1' } });
        expect(store.head()).toEqual({ seq: entry.seq, hash: entry.hash });
        throw new Error('vault change failed after the append');
      })(),
    ).toThrow('vault change failed');
    expect(store.head()).toEqual(before);
    expect(db.prepare('SELECT COUNT(*) AS n FROM vault_items').get()).toEqual({ n: 0 });
    const next = store.append({ type: 'item.added', data: { id: 'item-2' } });
    expect(next.seq).toBe(1);
    expect(next.prev).toBe(before?.hash);

    db.transaction(() => {
      db.prepare('INSERT INTO vault_items VALUES (?)').run('item-3');
      store.append({ type: 'item.added', data: { id: 'item-3' } });
    })();
    expect(store.head()?.seq).toBe(2);
    expect(db.prepare('SELECT COUNT(*) AS n FROM vault_items').get()).toEqual({ n: 1 });
  });

  it('sees appends made by another connection to the same file', () => {
    const { db, path } = freshDb();
    const device = signer(1);
    const store = JournalStore.open(db, { deviceSigner: device });
    store.init(VAULT, {});
    expect(store.head()?.seq).toBe(0);
    const other = openDatabase(path);
    dbs.push(other);
    const cli = JournalStore.open(other, { deviceSigner: device });
    const e = cli.append({ type: 'cli.ran', data: {} });
    expect(store.head()).toEqual({ seq: e.seq, hash: e.hash });
  });

  it('writes a checkpoint with the RFC 6962 root after every N entries', () => {
    const { db } = freshDb();
    const store = JournalStore.open(db, { deviceSigner: signer(1), checkpointEvery: 4 });
    store.init(VAULT, {});
    store.appendBatch(Array.from({ length: 9 }, (_, i) => ({ type: 'n.th', data: { i } })));
    const all = [...store.read({})];
    const checkpoints = all.filter((e) => e.type === 'checkpoint');
    expect(checkpoints.map((c) => c.seq)).toEqual([4, 9]);
    for (const c of checkpoints) {
      expect(c.data.size).toBe(c.seq);
      expect(c.data.root).toBe(sodium.to_hex(merkleRoot(all.slice(0, c.seq).map((e) => sodium.from_hex(e.hash)))));
    }
    expect(all.length).toBe(12);
  });

  it('writes a long batch (rows past one multi-row INSERT, checkpoints among them) exactly as it returns it', () => {
    const { db } = freshDb();
    const alice = signer(2);
    const store = JournalStore.open(db, { deviceSigner: signer(1), checkpointEvery: 40 });
    store.init(VAULT, {});
    // 130 entries and three checkpoints: 133 rows, written 50 to a statement. Alice's key is
    // introduced by the batch's first entry and co-signs every seventh.
    const inputs = Array.from({ length: 130 }, (_, i): AppendInput =>
      i === 0
        ? { type: 'custodian.enrolled', data: { i, custodian: 'alice', signingKey: alice.publicKey, role: 'custodian' } }
        : i % 7 === 0
          ? { type: 'checkout.opened', actor: { id: 'alice', signer: alice }, account: `acct-${i}`, data: { i } }
          : { type: 'n.th', data: { i } },
    );
    const returned = store.appendBatch(inputs);
    expect(returned.map((e) => e.data.i)).toEqual(inputs.map((_, i) => i));
    const all = [...store.read({})];
    expect(all.length).toBe(1 + 130 + 3);
    expect(all.filter((e) => e.type === 'checkpoint').map((c) => c.seq)).toEqual([40, 81, 122]);
    const bySeq = new Map(all.map((e) => [e.seq, e]));
    for (const e of returned) expect(bySeq.get(e.seq)).toEqual(e);
    expect(store.query({ account: 'acct-126' }).map((e) => e.seq)).toEqual([returned[126]!.seq]);
    expect(store.head()).toEqual({ seq: all.length - 1, hash: all[all.length - 1]!.hash });
    expect(verifyEntries(all).failures).toEqual([]);
  });

  it('filters by type, actor, account and time', () => {
    const { db } = freshDb();
    let clock = 100;
    const store = JournalStore.open(db, { deviceSigner: signer(1), now: () => (clock += 10) });
    store.init(VAULT, {});
    const alice = { id: 'alice', signer: signer(2) };
    const bob = { id: 'bob', signer: signer(3) };
    store.append({ type: 'checkout.opened', actor: alice, account: '111111111111', data: {} });
    store.append({ type: 'checkout.opened', actor: bob, account: '222222222222', data: {} });
    store.append({ type: 'checkout.closed', actor: alice, account: '111111111111', data: {} });
    expect(store.query({ actor: 'alice' }).map((e) => e.type)).toEqual(['checkout.opened', 'checkout.closed']);
    expect(store.query({ account: '222222222222' }).map((e) => e.actor)).toEqual(['bob']);
    expect(store.query({ type: 'checkout.opened', limit: 1 }).map((e) => e.actor)).toEqual(['alice']);
    expect(store.query({ since: 130, until: 140 }).map((e) => e.seq)).toEqual([2, 3]);
    expect([...store.read({ from: 1, to: 2 })].map((e) => e.seq)).toEqual([1, 2]);
  });

  it('rotates the device key with both signatures and refuses the old key afterwards', () => {
    const { db, path } = freshDb();
    const oldKey = signer(1);
    const newKey = signer(9);
    const store = JournalStore.open(db, { deviceSigner: oldKey });
    store.init(VAULT, {});
    const rotated = store.rotateDeviceKey(newKey);
    expect(rotated.sigs.map((s) => s.key)).toEqual([oldKey.publicKey, newKey.publicKey]);
    const after = store.append({ type: 'a.b', data: {} });
    expect(after.sigs[0]?.key).toBe(newKey.publicKey);
    expect(after.device).toBe(oldKey.publicKey);
    const other = openDatabase(path);
    dbs.push(other);
    expect(() => JournalStore.open(other, { deviceSigner: oldKey })).toThrow(/not the key this journal is signed with/);
    expect(JournalStore.open(other, { deviceSigner: newKey }).head()?.seq).toBe(2);
  });
});

describe('JournalStore Merkle frontier', () => {
  it('stays right across rolled-back and failed appends, so later checkpoints still verify', async () => {
    const { verifyEntries } = await import('../../shared/journal/verifier');
    const { db } = freshDb();
    const store = JournalStore.open(db, { deviceSigner: signer(1), checkpointEvery: 3 });
    store.init(VAULT, {});
    for (let round = 0; round < 4; round++) {
      store.append({ type: 'kept.entry', data: { round } });
      expect(() =>
        db.transaction(() => {
          store.appendBatch([
            { type: 'lost.entry', data: {} },
            { type: 'lost.entry', data: {} },
            { type: 'lost.entry', data: {} },
          ]);
          throw new Error('caller rolls back');
        })(),
      ).toThrow('caller rolls back');
      expect(() =>
        store.appendBatch([
          { type: 'lost.entry', data: {} },
          { type: 'lost.entry', data: { bad: 1.5 } },
        ]),
      ).toThrow(/floating point/);
    }
    store.appendBatch([
      { type: 'kept.entry', data: {} },
      { type: 'kept.entry', data: {} },
      { type: 'kept.entry', data: {} },
    ]);
    const entries = [...store.read({})];
    expect(entries.some((e) => e.type === 'lost.entry')).toBe(false);
    expect(entries.filter((e) => e.type === 'checkpoint').length).toBeGreaterThanOrEqual(2);
    expect(verifyEntries(entries).failures).toEqual([]);
  });

  it('migration 0002 keeps every row of a journal written under 0001 and drops only the hash index', () => {
    // A journal written by the current code, copied row for row into a file that has only migration 0001.
    const { db: source } = freshDb();
    const device = signer(11);
    const bob = signer(12);
    let clock = 5_000;
    const store = JournalStore.open(source, { deviceSigner: device, now: () => clock++, checkpointEvery: 8 });
    store.init(VAULT, {});
    store.append({ type: 'custodian.enrolled', data: { custodian: 'bob', signingKey: bob.publicKey, role: 'custodian' } });
    for (let i = 0; i < 30; i++)
      store.append(
        i % 3 === 0
          ? { type: 'checkout.opened', actor: { id: 'bob', signer: bob }, account: `acct-${i % 2}`, data: { i } }
          : { type: 'test.event', data: { i } },
      );
    const before = [...store.read()];

    const only0001 = join(dirs[dirs.length - 1]!, 'migrations-0001');
    mkdirSync(only0001);
    const migrations = fileURLToPath(new URL('../../electron/journal/migrations', import.meta.url));
    copyFileSync(join(migrations, '0001_journal.sql'), join(only0001, '0001_journal.sql'));
    const { db: old, path: oldPath } = freshDb();
    migrate(old, 'journal', only0001);
    expect(
      (
        old
          .prepare(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'journal_entries' AND name LIKE 'sqlite_autoindex%'",
          )
          .get() as { n: number }
      ).n,
    ).toBe(1);
    const insert = old.prepare(
      'INSERT INTO journal_entries (seq, v, vault, device, prev, time, type, actor, data, hash, sigs, account) VALUES (@seq, @v, @vault, @device, @prev, @time, @type, @actor, @data, @hash, @sigs, @account)',
    );
    old.transaction(() => {
      for (const row of source.prepare('SELECT * FROM journal_entries ORDER BY seq').all()) insert.run(row);
      const frontier = source.prepare('SELECT size, nodes FROM journal_frontier').get() as { size: number; nodes: string };
      old.prepare('INSERT INTO journal_frontier (id, size, nodes) VALUES (1, ?, ?)').run(frontier.size, frontier.nodes);
    })();
    old.close();

    const reopened = openDatabase(oldPath);
    dbs.push(reopened);
    const migrated = JournalStore.open(reopened, { deviceSigner: device, now: () => clock++ });
    expect([...migrated.read()]).toEqual(before);
    const indexes = reopened
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'journal_entries' ORDER BY name")
      .all() as { name: string; sql: string | null }[];
    expect(indexes.map((i) => i.name)).toEqual([
      'journal_entries_account',
      'journal_entries_actor',
      'journal_entries_time',
      'journal_entries_type',
    ]);
    expect(indexes.find((i) => i.name === 'journal_entries_actor')!.sql).toMatch(/WHERE actor IS NOT NULL/);
    // The partial indexes still answer the filters, and the planner uses them.
    expect(migrated.query({ actor: 'bob' }).map((e) => e.seq)).toEqual(before.filter((e) => e.actor === 'bob').map((e) => e.seq));
    expect(migrated.query({ account: 'acct-1' }).map((e) => e.data.i)).toEqual(
      before.filter((e) => e.data.account === 'acct-1').map((e) => e.data.i),
    );
    const plan = reopened
      .prepare('EXPLAIN QUERY PLAN SELECT * FROM journal_entries WHERE actor = ? ORDER BY seq LIMIT ?')
      .all('bob', 10) as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/journal_entries_actor/);
    // It appends on from where 0001 left off and the whole chain still verifies.
    migrated.append({ type: 'test.event', data: { after: 'migration' } });
    const report = verifyEntries(migrated.read());
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
