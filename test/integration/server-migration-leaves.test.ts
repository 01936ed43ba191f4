import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { consistencyProof, inclusionProof, leafHash, merkleRoot } from '../../shared/journal/merkle';
import { sodiumReady } from '../../shared/sodium';
import { NodeSet, appendLeaves, consistencyProofOf, inclusionProofs } from '../../server/merkle-log';
import { openStorage, type Storage } from '../../server/storage/storage';
import { freshStorageUrl, testPostgresUrl, type StorageKind } from '../support/server-fixture';

/** Runs SQL on the database behind a storage URL directly, as an operator's tool would (not through the adapter). */
async function rawSql(url: string, sql: string): Promise<Record<string, unknown>[]> {
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length));
    try {
      const statement = db.prepare(sql);
      return statement.reader ? (statement.all() as Record<string, unknown>[]) : (statement.run(), []);
    } finally {
      db.close();
    }
  }
  const schema = new URL(url).searchParams.get('schema')!;
  const client = new pg.Client({ connectionString: testPostgresUrl(), options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

describe.each<StorageKind>(['sqlite', 'postgres'])('migration 0003 (log leaves derived from entries): %s', (kind) => {
  let storage: Storage | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await storage?.close();
    await cleanup?.();
  });

  it('upgrades a database that stored leaf rows: they are deleted, interior nodes stay, proofs are unchanged', async () => {
    const sodium = await sodiumReady();
    const fresh = await freshStorageUrl(kind);
    cleanup = fresh.cleanup;
    storage = await openStorage(fresh.url);
    const hashes = Array.from({ length: 13 }, (_, i) => sodium.crypto_hash_sha256(sodium.from_string(`entry ${i}`)));
    const hex = hashes.map((h) => sodium.to_hex(h));
    // A log of 13 entries as a server before this migration wrote it: interior nodes and a row per leaf.
    const appended = await appendLeaves(0, hex, new NodeSet({ getLogNodes: async () => new Map(), entryHashesAt: async () => new Map() }));
    expect(appended.root).toBe(sodium.to_hex(merkleRoot(hashes, sodium)));
    await storage.transaction(async (tx) => {
      await tx.insertEntries(
        hex.map((hash, i) => ({
          device: 'ab'.repeat(32),
          seq: i,
          hash,
          type: 'test.entry',
          time: i,
          actor: null,
          body: '{}',
          logIndex: i,
          receiptSize: 13,
          receivedAt: 1,
          breakGlass: false,
        })),
      );
      await tx.insertLogNodes([...appended.nodes, ...hashes.map((h, i) => ({ key: i * 64, hash: sodium.to_hex(leafHash(h, sodium)) }))]);
    });
    await storage.close();
    storage = undefined;
    await rawSql(fresh.url, 'DELETE FROM server_migrations WHERE number = 3');
    const before = await rawSql(fresh.url, 'SELECT COUNT(*) AS n FROM log_nodes WHERE node_key % 64 = 0');
    expect(Number(before[0]!.n)).toBe(13);

    storage = await openStorage(fresh.url);
    const after = await rawSql(fresh.url, 'SELECT node_key FROM log_nodes ORDER BY node_key');
    const keys = after.map((r) => Number(r.node_key));
    expect(keys.filter((k) => k % 64 === 0)).toEqual([]);
    expect(keys).toEqual(appended.nodes.map((n) => n.key).sort((a, b) => a - b));
    expect((await rawSql(fresh.url, 'SELECT number FROM server_migrations WHERE number = 3')).length).toBe(1);

    const proofs = await inclusionProofs([...hex.keys()], 13, new NodeSet(storage.queries));
    hex.forEach((_h, i) => expect(proofs.get(i)).toEqual(inclusionProof(i, hashes, sodium).map((p) => sodium.to_hex(p))));
    expect(await consistencyProofOf(5, 13, new NodeSet(storage.queries))).toEqual(
      consistencyProof(5, hashes, sodium).map((p) => sodium.to_hex(p)),
    );
    expect(await storage.queries.entryHashesAt([12, 3, 99])).toEqual(
      new Map([
        [12, hex[12]],
        [3, hex[3]],
      ]),
    );
  });
});
