import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { verifyReceipt } from '../../shared/sync/receipt';
import { SyncClient } from '../../electron/sync/client';
import { buildServer } from '../../server/app';
import { loadOrCreateServerKey, serverSigner } from '../../server/server-key';
import { hashToken, newToken } from '../../server/tokens';
import { openStorage } from '../../server/storage/storage';
import { serverKeyFingerprint } from '../../shared/sync/wire';
import { FaultProxy, type FaultMode } from '../support/fault-proxy';
import { TestJournal } from '../support/journal-builder';
import { freshStorageUrl, startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { ServerProcess, freePort } from '../support/server-process';
import { backupStorage } from '../support/storage-backup';
import { appendEntries, countChecks, issueToken, upload } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const CLI = fileURLToPath(new URL('../../build/halfkey.mjs', import.meta.url));

/** Polls until the condition holds (reliability tests wait on behaviour, not on fixed sleeps). */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Syncs until nothing is pending (each round may still meet a fault). */
async function drain(client: SyncClient, rounds = 30): Promise<void> {
  for (let i = 0; i < rounds && client.status().pending > 0; i++) await client.syncNow();
  expect(client.status()).toMatchObject({ pending: 0, state: 'idle' });
}

/** The server holds exactly the journal: same hashes at the same seqs, no gap, no duplicate. */
async function expectServerHoldsJournal(server: Pick<TestServer, 'storage'>, j: TestJournal, serverKey: string): Promise<void> {
  const local = [...j.store.read()];
  const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, Number.MAX_SAFE_INTEGER);
  expect(held.map((e) => [e.seq, e.hash])).toEqual(local.map((e) => [e.seq, e.hash]));
  const receipts = [...j.store.receipts()];
  expect(receipts.map((r) => r.seq)).toEqual(local.map((e) => e.seq));
  for (const r of receipts.filter((_, i) => i % 97 === 0 || i === receipts.length - 1)) {
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
        serverKey,
        sodium,
      ),
    ).toBe(true);
  }
}

// Every fault below runs on both storage adapters: SQLite (one node) and PostgreSQL.
const KINDS: StorageKind[] = ['sqlite', 'postgres'];

describe.each(KINDS)('server killed mid-batch (SIGKILL of a real `halfkey server` process): %s', (kind) => {
  it('loses nothing it acknowledged and ends holding exactly the client’s entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-kill-'));
    const fresh = await freshStorageUrl(kind);
    const db = fresh.url;
    const keyFile = join(dir, 'server.key');
    const port = await freePort();
    const server = new ServerProcess({ db, port, keyFile });
    const j = new TestJournal({ deviceSeed: 61, checkpointEvery: 64 });
    try {
      await server.start();
      // The token comes from the CLI, as an administrator would get it.
      const token = execFileSync(process.execPath, [CLI, 'server', 'enroll-token', '--db', db, '--ttl', '5m'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      appendEntries(j, 3000);
      // The checkpoint the client would have the journal write before its first upload (anchored ingest), written now so `total` counts it.
      j.store.checkpointTail();
      const client = new SyncClient({
        db: j.db,
        journal: j.store,
        signer: j.device,
        batchSize: 100,
        requestTimeoutMs: 5_000,
        backoff: { baseMs: 10, maxMs: 50 },
      });
      const status = await client.enroll(`http://127.0.0.1:${port}`, token);
      const total = j.store.head()!.seq + 1;
      for (const threshold of [300, 1200, 2100]) {
        const round = client.syncNow();
        await until(() => (client.status().ackedSeq ?? -1) >= threshold, 60_000, `acked seq ${threshold}`);
        await server.kill();
        const after = await round;
        expect(after.pending).toBeGreaterThan(0);
        await server.start();
      }
      await drain(client);
      expect(client.status().ackedSeq).toBe(total - 1);
      await server.stop();
      const storage = await openStorage(db);
      try {
        const serverKey = sodium.to_hex(sodium.crypto_sign_ed25519_sk_to_pk(loadOrCreateServerKey(keyFile, sodium)));
        expect(status.serverFingerprint).toBe(serverKeyFingerprint(serverKey, sodium));
        await expectServerHoldsJournal({ storage }, j, serverKey);
        expect((await storage.queries.latestTreeHead())!.size).toBe(total);
      } finally {
        await storage.close();
      }
    } finally {
      await server.kill();
      j.close();
      rmSync(dir, { recursive: true, force: true });
      await fresh.cleanup();
    }
  }, 180_000);
});

type Step =
  | { kind: 'append'; n: number }
  | { kind: 'fault'; mode: FaultMode }
  | { kind: 'sync' }
  | { kind: 'resend'; from: number; count: number }
  | { kind: 'ahead' };

describe.each(KINDS)('sync through a fault proxy (fast-check over fault schedules): %s', (kind) => {
  let server: TestServer;
  let proxy: FaultProxy;
  let proxyUrl: string;
  beforeAll(async () => {
    server = await startTestServer(kind);
    proxy = new FaultProxy(Number(new URL(server.url).port));
    proxyUrl = await proxy.listen();
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  it('after recovery the server holds exactly the client’s entries: no duplicates, no gaps', async () => {
    let seed = 70;
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 40 }) }),
      fc.record({
        kind: fc.constant('fault' as const),
        mode: fc.constantFrom<FaultMode>('pass', 'refuse', 'stall', 'cut-response', 'hold-first'),
      }),
      fc.constant({ kind: 'sync' as const }),
      fc.record({ kind: fc.constant('resend' as const), from: fc.nat(60), count: fc.integer({ min: 1, max: 20 }) }),
      fc.constant({ kind: 'ahead' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 12 }), async (steps) => {
        const j = new TestJournal({ deviceSeed: seed++, checkpointEvery: 16 });
        try {
          await proxy.set('pass');
          const client = new SyncClient({
            db: j.db,
            journal: j.store,
            signer: j.device,
            batchSize: 25,
            requestTimeoutMs: 300,
            backoff: { baseMs: 5, maxMs: 20 },
          });
          await client.enroll(proxyUrl, await issueToken(server));
          for (const s of steps) {
            switch (s.kind) {
              case 'append':
                appendEntries(j, s.n);
                break;
              case 'fault':
                await proxy.set(s.mode);
                break;
              case 'sync':
                await client.syncNow();
                break;
              case 'resend': {
                // Duplicates straight to the server, out of order with the client's own batches.
                const old = [...j.store.read({ from: s.from, to: s.from + s.count - 1 })];
                if (old.length > 0) await upload(server, j, old);
                break;
              }
              case 'ahead': {
                // A batch from beyond the server's head: refused with SEQUENCE_GAP, nothing stored.
                const head = j.store.head()!.seq;
                const tail = [...j.store.read({ from: Math.max(1, head - 2) })];
                await upload(server, j, tail);
                break;
              }
            }
          }
          await proxy.set('pass');
          await drain(client);
          await expectServerHoldsJournal(server, j, server.signer.publicKey);
        } finally {
          j.close();
        }
      }),
      // Fewer schedules on PostgreSQL: each round trip there costs more, and the schedules are the same.
      { numRuns: kind === 'sqlite' ? 12 : 6, endOnFailure: true },
    );
    // The org-wide log has one leaf per stored entry: nothing was logged twice.
    const all = await server.storage.queries.entriesByLogIndex(0, 1_000_000);
    expect(all.map((e) => e.logIndex)).toEqual(all.map((_, i) => i));
    expect((await server.storage.queries.latestTreeHead())!.size).toBe(all.length);
  }, 180_000);

  it('a batch sent ahead that overtakes its predecessor is refused (SEQUENCE_GAP) and resent; nothing is lost, doubled or verified twice', async () => {
    const j = new TestJournal({ deviceSeed: 97, checkpointEvery: 64 });
    try {
      await proxy.set('pass');
      const client = new SyncClient({
        db: j.db,
        journal: j.store,
        signer: j.device,
        batchSize: 100,
        pipelineDepth: 2,
        requestTimeoutMs: 5_000,
      });
      await client.enroll(proxyUrl, await issueToken(server));
      appendEntries(j, 450);
      j.store.checkpointTail(); // as the client would before uploading: `pending` counts it
      // The first batch's connection is held back: the second batch reaches the server first.
      await proxy.set('hold-first');
      const seen = proxy.statuses.length;
      const pending = client.status().pending;
      const checks = countChecks(server);
      try {
        const status = await client.syncNow();
        expect(status).toMatchObject({ pending: 0, state: 'idle', lastError: null });
        // The overtaking batch is refused before any verification and sent again once its
        // predecessor is accepted: nothing is sent twice, so nothing is verified twice.
        expect(checks.count()).toBe(pending);
      } finally {
        checks.restore();
      }
      expect(proxy.statuses.slice(seen).some((line) => line.startsWith('HTTP/1.1 409'))).toBe(true);
      await expectServerHoldsJournal(server, j, server.signer.publicKey);
    } finally {
      j.close();
    }
  }, 60_000);

  it('queues for days while the server is away, backs off, and catches up on its own', async () => {
    const j = new TestJournal({ deviceSeed: 99, checkpointEvery: 256 });
    try {
      await proxy.set('pass');
      const client = new SyncClient({
        db: j.db,
        journal: j.store,
        signer: j.device,
        requestTimeoutMs: 500,
        backoff: { baseMs: 10, maxMs: 80 },
        intervalMs: 20,
      });
      await client.enroll(proxyUrl, await issueToken(server));
      await proxy.set('refuse');
      client.start();
      for (let day = 0; day < 3; day++) {
        for (let i = 0; i < 700; i++) {
          j.tick(2 * 60_000);
          j.store.append({ type: 'test.event', data: { day, i } });
        }
        await until(() => client.status().state === 'offline', 5_000, 'offline state');
      }
      const offline = client.status();
      expect(offline.pending).toBe(j.store.head()!.seq + 1);
      expect(offline.lastError).toMatch(/unreachable/);
      expect(offline.nextAttemptAt).not.toBeNull();
      await proxy.set('pass');
      await until(() => client.status().pending === 0, 60_000, 'catch-up');
      await client.stop();
      await expectServerHoldsJournal(server, j, server.signer.publicKey);
    } finally {
      j.close();
    }
  }, 120_000);
});

describe.each(KINDS)('server restored from an older backup: %s', (kind) => {
  it('the client notices the server holds less, records the inconsistent log, resends from there, and both agree again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-restore-'));
    const fresh = await freshStorageUrl(kind);
    const secret = sodium.crypto_sign_keypair().privateKey;
    const port = await freePort();
    const start = async () => {
      const storage = await openStorage(fresh.url);
      const app = buildServer({ storage, signer: serverSigner(secret, sodium), sodium, logger: false });
      await app.listen({ host: '127.0.0.1', port });
      return { storage, close: async () => (await app.close(), await storage.close()) };
    };
    const j = new TestJournal({ deviceSeed: 97 });
    try {
      let running = await start();
      const token = newToken(sodium);
      await running.storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
      appendEntries(j, 10);
      const client = new SyncClient({ db: j.db, journal: j.store, signer: j.device, backoff: { baseMs: 5, maxMs: 20 } });
      await client.enroll(`http://127.0.0.1:${port}`, token);
      await drain(client);
      await running.close();
      // The operator's backup (a file copy, or pg_dump), taken while the server is down.
      const backup = backupStorage(fresh.url, join(dir, 'backup'));
      running = await start();
      appendEntries(j, 10);
      await drain(client);
      await running.close();
      // Restore the backup: the server forgets the last ten entries and their tree heads.
      await backup.restore();
      running = await start();
      const restoredHead = (await running.storage.queries.getDevice(j.device.publicKey))!.headSeq!;
      expect(restoredHead).toBeLessThan(j.store.head()!.seq);
      const before = client.status().lastTreeSize!;
      expect(client.status().serverLogInconsistency).toBeNull();
      appendEntries(j, 3);
      await drain(client);
      const held = await running.storage.queries.entriesBySeq(j.device.publicKey, 0, 1_000);
      expect(held.map((e) => e.hash)).toEqual([...j.store.read()].map((e) => e.hash));
      // The restored server never signed the head of `before` entries again: the device records
      // that its log is not an extension of the one it saw (one signed entry, both heads), then
      // adopts the new head; the entry went up with the resend and raised a reviewer alarm.
      const recorded = j.store.query({ type: 'sync.server-log-inconsistent' });
      expect(recorded).toHaveLength(1);
      const data = recorded[0]!.data as {
        reason: string;
        previous: { size: number; signature: string };
        current: { size: number; signature: string };
        serverUrl: string;
      };
      expect(data).toMatchObject({ reason: 'OLD_HEAD_MISSING', previous: { size: before }, serverUrl: `http://127.0.0.1:${port}` });
      expect(data.current.size).toBeGreaterThan(before);
      expect(data.previous.signature).toMatch(/^[0-9a-f]{128}$/);
      expect(client.status()).toMatchObject({
        pending: 0,
        state: 'idle',
        lastError: null,
        serverLogInconsistency: { code: 'LOG_INCONSISTENT', reason: 'OLD_HEAD_MISSING', seq: recorded[0]!.seq },
      });
      expect(client.status().lastTreeSize).toBe(data.current.size + 1);
      const alarms = (await running.storage.queries.listAlarms(j.device.publicKey)).filter((a) => a.kind === 'LOG_INCONSISTENT');
      expect(alarms.map((a) => a.seq)).toEqual([recorded[0]!.seq]);
      await running.close();
    } finally {
      j.close();
      rmSync(dir, { recursive: true, force: true });
      await fresh.cleanup();
    }
  }, 60_000);
});
