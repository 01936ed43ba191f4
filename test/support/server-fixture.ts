import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sodiumReady } from '../../shared/sodium';
import { buildServer } from '../../server/app';
import type { RateLimit } from '../../server/auth';
import { serverSigner, type ServerSigner } from '../../server/server-key';
import { startSignaturePool, type SignaturePool } from '../../server/signature-pool';
import { openStorage, type Storage } from '../../server/storage/storage';

export type StorageKind = 'sqlite' | 'postgres';

/** The test PostgreSQL URL; a missing one fails the test with the fix, never skips it. */
export function testPostgresUrl(): string {
  const url = process.env.HALFKEY_TEST_PG;
  if (!url) throw new Error('HALFKEY_TEST_PG is not set: run `build/postgres.sh start` and export the URL it prints (npm test does this)');
  return url;
}

/** A fresh, empty storage of the given kind: a temp SQLite file, or a new PostgreSQL schema. */
export async function freshStorageUrl(kind: StorageKind): Promise<{ url: string; cleanup: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-server-'));
    return { url: `sqlite:${join(dir, 'server.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const base = testPostgresUrl();
  const schema = `hk_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return {
    url: url.toString(),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export interface TestServer {
  readonly url: string;
  /** The storage's `--db` URL, for running `halfkey server …` commands against the same database. */
  readonly dbUrl: string;
  readonly storage: Storage;
  readonly signer: ServerSigner;
  /** The server's signature pool (its worker threads, for fault tests). */
  readonly checker: SignaturePool;
  close(): Promise<void>;
}

/** A real server on loopback over a fresh storage, with a fresh server key. */
export async function startTestServer(
  kind: StorageKind,
  options: {
    rateLimit?: RateLimit;
    failedAuthLimit?: RateLimit;
    /** Budget of full exports per reviewer (the server's default: three, then one a minute). */
    exportLimit?: RateLimit;
    maxBatchBytes?: number;
    now?: () => number;
    /** Another server process over the same database and with the same key (as on PostgreSQL behind a load balancer); it leaves the database to that server to clean up. */
    beside?: TestServer;
  } = {},
): Promise<TestServer> {
  const sodium = await sodiumReady();
  const { url: dbUrl, cleanup } =
    options.beside === undefined ? await freshStorageUrl(kind) : { url: options.beside.dbUrl, cleanup: () => Promise.resolve() };
  const storage = await openStorage(dbUrl);
  const signer = options.beside?.signer ?? serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
  // The production path: signatures are checked in worker threads, as startServer does.
  const checker = await startSignaturePool(2);
  const app = buildServer({
    storage,
    signer,
    sodium,
    checker,
    logger: false,
    rateLimit: options.rateLimit ?? { capacity: 10_000, perSecond: 10_000 },
    // Tests of the failed-authentication budget set it; others make failures on purpose and are not about it.
    failedAuthLimit: options.failedAuthLimit ?? { capacity: 10_000, perSecond: 10_000 },
    ...(options.exportLimit === undefined ? {} : { exportLimit: options.exportLimit }),
    ...(options.maxBatchBytes ? { maxBatchBytes: options.maxBatchBytes } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    dbUrl,
    storage,
    signer,
    checker,
    close: async () => {
      await app.close();
      await checker.close();
      await storage.close();
      await cleanup();
    },
  };
}
