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
import { SyncClient } from '../../electron/services/sync/client';
import { exportJournal } from '../../electron/services/journal/export';
import { verifyBundleFile } from '../../electron/services/journal/bundle-file';
import { TestJournal } from '../support/journal-builder';
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
        expect(verifyReceipt({ device: r.device, seq: r.seq, entryHash: r.entryHash, logIndex: r.logIndex, treeHead: r.treeHead, inclusionProof: r.inclusionProof }, key, sodium)).toBe(true);
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
