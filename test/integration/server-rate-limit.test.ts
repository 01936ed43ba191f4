import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { buildServer } from '../../server/app';
import { serverSigner } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { sendRequest } from '../../electron/sync/transport';
import { seededSigner, TEST_VAULT } from '../support/journal-builder';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/**
 * Two server processes on one database, as behind a load balancer: two storages (two connection
 * pools, or two SQLite connections) and two servers in this test process, requests alternating.
 */
describe.each<StorageKind>(['postgres', 'sqlite'])('per-device rate limit across two server processes: %s', (kind) => {
  const servers: { app: FastifyInstance; url: string; storage: Storage }[] = [];
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await freshStorageUrl(kind);
    cleanup = fresh.cleanup;
    const signer = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
    for (let i = 0; i < 2; i++) {
      const storage = await openStorage(fresh.url);
      // The default: shared buckets on PostgreSQL, in-process buckets on SQLite.
      const app = buildServer({ storage, signer, sodium, logger: false, rateLimit: { capacity: 4, perSecond: 0.001 } });
      servers.push({ app, url: await app.listen({ host: '127.0.0.1', port: 0 }), storage });
    }
  });
  afterAll(async () => {
    for (const s of servers) {
      await s.app.close();
      await s.storage.close();
    }
    await cleanup?.();
  });

  it(
    kind === 'postgres'
      ? 'spends one budget: the fifth request is refused whichever process gets it'
      : 'keeps a budget per process (one SQLite node is one process)',
    async () => {
      const device = seededSigner(120);
      await servers[0]!.storage.queries.insertDevice(device.publicKey, TEST_VAULT, Date.now());
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const { url } = servers[i % 2]!;
        const answer = await sendRequest(url, {
          method: 'GET',
          path: `/v1/devices/${device.publicKey}/head`,
          signer: device,
          device: device.publicKey,
        });
        statuses.push(answer.status);
        if (answer.status !== 200) expect(JSON.stringify(answer.body)).toMatch(/RATE_LIMITED/);
      }
      expect(statuses).toEqual(
        kind === 'postgres' ? [200, 200, 200, 200, 429, 429, 429, 429, 429, 429] : [200, 200, 200, 200, 200, 200, 200, 200, 429, 429],
      );
    },
  );
});
