import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { verifyReceipt } from '../../shared/sync/receipt';
import { buildServer } from '../../server/app';
import { serverSigner, type ServerSigner } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { hashToken, newToken } from '../../server/tokens';
import { SyncClient } from '../../electron/sync/client';
import { exportJournal } from '../../electron/journal/export';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { FaultProxy } from '../support/fault-proxy';
import { TestJournal } from '../support/journal-builder';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';
import { appendEntries } from '../support/sync-fixture';

let sodium: Sodium;
let dir: string;
let storage: Storage;
beforeAll(async () => {
  sodium = await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-repin-'));
  storage = await openStorage(`sqlite:${join(dir, 'server.db')}`);
});
afterAll(async () => {
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The same server (same database, same address) under a given key. */
async function serve(signer: ServerSigner, port = 0): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = buildServer({ storage, signer, sodium, logger: false, rateLimit: { capacity: 10_000, perSecond: 10_000 } });
  const url = await app.listen({ host: '127.0.0.1', port });
  return { app, url, port: Number(new URL(url).port) };
}

describe('server key rotation: re-pinning on the client', () => {
  it('uploads stop under a key the vault did not pin; the new key is pinned only with its fingerprint, journalled, and sync resumes', async () => {
    const oldKey = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
    const newKey = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
    const j = new TestJournal({ deviceSeed: 81, checkpointEvery: 16 });
    let server = await serve(oldKey);
    try {
      appendEntries(j, 20);
      const token = newToken(sodium);
      await storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
      const client = new SyncClient({ db: j.db, journal: j.store, signer: j.device, backoff: { baseMs: 20, maxMs: 200 } });
      await client.enroll(server.url, token);
      expect((await client.syncNow()).pending).toBe(0);
      const beforeRotation = j.store.head()!.seq;

      // The operator rotates the key: same database, same address, new key.
      await server.app.close();
      server = await serve(newKey, server.port);
      appendEntries(j, 5);
      // The first round after the restart may meet the old server's closed keep-alive connection.
      let refused = await client.syncNow();
      for (let i = 0; i < 5 && refused.state === 'offline'; i++) refused = await client.syncNow();
      expect(refused.pending).toBeGreaterThan(0);
      expect(refused.lastError).toMatch(/does not verify/);

      // A fingerprint that is not the server's changes nothing.
      await expect(client.repin(oldKey.fingerprint)).rejects.toMatchObject({ code: 'POLICY_REFUSED' });
      await expect(client.repin('0123 4567 89ab cdef 0123 4567 89ab cdef')).rejects.toMatchObject({ code: 'POLICY_REFUSED' });
      await expect(client.repin('not a fingerprint')).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
      expect(client.pinnedServer()!.key).toBe(oldKey.publicKey);
      expect(j.store.query({ type: 'sync.server-key-changed' })).toEqual([]);

      const status = await client.repin(newKey.fingerprint.toUpperCase());
      expect(status.serverFingerprint).toBe(newKey.fingerprint);
      expect(client.pinnedServer()!.key).toBe(newKey.publicKey);
      const [changed] = j.store.query({ type: 'sync.server-key-changed' });
      expect(changed!.data).toMatchObject({ previousKey: oldKey.publicKey, serverKey: newKey.publicKey });
      await expect(client.repin(newKey.fingerprint)).rejects.toMatchObject({ code: 'CONFLICT' });

      expect(await client.syncNow()).toMatchObject({ pending: 0, state: 'idle', lastError: null });
      const held = await storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
      expect(held.map((e) => [e.seq, e.hash])).toEqual([...j.store.read()].map((e) => [e.seq, e.hash]));

      // Receipts keep the key they were verified under: old ones under the old key, later ones under the new.
      const receipts = [...j.store.receipts()];
      for (const r of receipts) {
        const key = r.seq <= beforeRotation ? oldKey.publicKey : newKey.publicKey;
        expect(r.serverKey).toBe(key);
        expect(
          verifyReceipt(
            {
              device: r.device,
              seq: r.seq,
              entryHash: r.entryHash,
              logIndex: r.logIndex,
              treeHead: r.treeHead,
              inclusionProof: r.inclusionProof,
            },
            key,
            sodium,
          ),
        ).toBe(true);
      }

      // A reviewer verifies the device's bundle with both keys on record; with only the new key the old receipts fail.
      const out = join(dir, 'device.hkj');
      exportJournal(j.store, { out, signer: j.device });
      expect((await verifyBundleFile(out, { serverKeys: [oldKey.publicKey, newKey.publicKey] })).ok).toBe(true);
      const newOnly = await verifyBundleFile(out, { serverKeys: [newKey.publicKey] });
      expect(newOnly.ok).toBe(false);
      expect(newOnly.failures.map((f) => f.code)).toContain('BAD_RECEIPT');
    } finally {
      j.close();
      await server.app.close();
    }
  });
});

describe.each<StorageKind>(['sqlite', 'postgres'])('server key rotation after a lost answer: %s', (kind) => {
  let db: Storage;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await freshStorageUrl(kind);
    cleanup = fresh.cleanup;
    db = await openStorage(fresh.url);
  });
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
  });

  const serveOn = async (signer: ServerSigner, port = 0): Promise<{ app: FastifyInstance; port: number }> => {
    const app = buildServer({ storage: db, signer, sodium, logger: false, rateLimit: { capacity: 10_000, perSecond: 10_000 } });
    const url = await app.listen({ host: '127.0.0.1', port });
    return { app, port: Number(new URL(url).port) };
  };

  it('a batch the server took under the old key, resent after the re-pin, gets receipts under the new key and the sync completes', async () => {
    const oldKey = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
    const newKey = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
    let server = await serveOn(oldKey);
    // The devices talk to the server through a loopback proxy that can lose its answers.
    const proxy = new FaultProxy(server.port);
    const url = await proxy.listen();
    // One device resends only what the server holds (the batch appends nothing), the other
    // resends it together with new entries (one batch, one new head).
    const journals = [new TestJournal({ deviceSeed: 91 }), new TestJournal({ deviceSeed: 92 })];
    try {
      const clients: SyncClient[] = [];
      for (const j of journals) {
        appendEntries(j, 6);
        const token = newToken(sodium);
        await db.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
        const client = new SyncClient({
          db: j.db,
          journal: j.store,
          signer: j.device,
          batchSize: 4,
          pipelineDepth: 1,
          backoff: { baseMs: 20, maxMs: 200 },
        });
        await client.enroll(url, token);
        clients.push(client);
      }

      // Each device's first batch reaches the server and commits; the answer never arrives.
      await proxy.set('cut-response');
      for (const [i, client] of clients.entries()) {
        expect(await client.syncNow()).toMatchObject({ state: 'offline', ackedSeq: null });
        expect((await db.queries.entriesBySeq(journals[i]!.device.publicKey, 0, 100)).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
        expect([...journals[i]!.store.receipts()]).toEqual([]);
      }

      // The operator rotates the key (same database, same address); each device re-pins, then resends.
      await server.app.close();
      server = await serveOn(newKey, server.port);
      await proxy.set('pass');
      for (const client of clients) expect((await client.repin(newKey.fingerprint)).serverFingerprint).toBe(newKey.fingerprint);
      expect(await clients[0]!.syncNow()).toMatchObject({ state: 'idle', pending: 0, lastError: null });
      const wider = new SyncClient({
        db: journals[1]!.db,
        journal: journals[1]!.store,
        signer: journals[1]!.device,
        batchSize: 6,
        pipelineDepth: 1,
        backoff: { baseMs: 20, maxMs: 200 },
      });
      expect(await wider.syncNow()).toMatchObject({ state: 'idle', pending: 0, lastError: null });

      for (const j of journals) {
        const held = new Map((await db.queries.entriesBySeq(j.device.publicKey, 0, 100)).map((e) => [e.seq, e]));
        const receipts = [...j.store.receipts()];
        expect(receipts.map((r) => r.seq)).toEqual([...j.store.read()].map((e) => e.seq));
        for (const r of receipts) {
          const receipt = {
            device: r.device,
            seq: r.seq,
            entryHash: r.entryHash,
            logIndex: r.logIndex,
            treeHead: r.treeHead,
            inclusionProof: r.inclusionProof,
          };
          // Under the new key only, at the place the server logged the entry, with a proof to the signed root.
          expect(r.serverKey).toBe(newKey.publicKey);
          expect(verifyReceipt(receipt, newKey.publicKey, sodium)).toBe(true);
          expect(verifyReceipt(receipt, oldKey.publicKey, sodium)).toBe(false);
          expect([r.entryHash, r.logIndex]).toEqual([held.get(r.seq)!.hash, held.get(r.seq)!.logIndex]);
        }
      }
    } finally {
      for (const j of journals) j.close();
      await proxy.close();
      await server.app.close();
    }
  });
});
