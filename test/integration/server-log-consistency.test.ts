import { beforeAll, describe, expect, it } from 'vitest';
import { SYNC_ENTRY_TYPES } from '../../shared/journal/entry-types';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { rosterMemberSchema } from '../../shared/sync/wire';
import { SyncClient } from '../../electron/sync/client';
import { expectOk, sendRequest } from '../../electron/sync/transport';
import { buildServer } from '../../server/app';
import { serverSigner } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { hashToken, newToken } from '../../server/tokens';
import { journalsClosedAfterEach, type TestJournal } from '../support/journal-builder';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';
import { appendEntries, enrolment } from '../support/sync-fixture';

/**
 * The client checks every new signed tree head against the one it stored last (docs/sync-protocol.md,
 * "The client"): a growing log with a consistency proof, and records a log that is not an
 * extension of the one it saw in a signed journal entry, which the server turns into an alarm.
 */

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const journal = journalsClosedAfterEach();

interface KeyedServer {
  readonly url: string;
  readonly storage: Storage;
  close(): Promise<void>;
}

/** A real server on loopback signing with the given key (two of them share a key file). */
async function serverWithKey(kind: StorageKind, secret: Uint8Array): Promise<KeyedServer> {
  const fresh = await freshStorageUrl(kind);
  const storage = await openStorage(fresh.url);
  const app = buildServer({
    storage,
    signer: serverSigner(secret, sodium),
    sodium,
    logger: false,
    rateLimit: { capacity: 10_000, perSecond: 10_000 },
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, storage, close: async () => (await app.close(), await storage.close(), await fresh.cleanup()) };
}

async function token(server: KeyedServer): Promise<string> {
  const t = newToken(sodium);
  await server.storage.queries.insertEnrolToken(hashToken(t, sodium), Date.now(), Date.now() + 60_000);
  return t;
}

function client(j: TestJournal, options: { batchSize?: number; requestTimeoutMs?: number; pipelineDepth?: number } = {}): SyncClient {
  return new SyncClient({ db: j.db, journal: j.store, signer: j.device, backoff: { baseMs: 5, maxMs: 20 }, ...options });
}

const findings = (j: TestJournal) => j.store.query({ type: SYNC_ENTRY_TYPES.serverLogInconsistent });

describe.each<StorageKind>(['sqlite', 'postgres'])('the client checks the server log’s consistency: %s', (kind) => {
  const secret = (): Uint8Array => sodium.crypto_sign_keypair().privateKey;

  it('a growing log shared with other devices: every new head comes with a proof that verifies, and nothing is recorded', async () => {
    const server = await serverWithKey(kind, secret());
    try {
      let proofs = 0;
      const original = server.storage.queries.treeHeadAt.bind(server.storage.queries);
      server.storage.queries.treeHeadAt = (size) => ((proofs += 1), original(size));
      const a = journal({ deviceSeed: 71 });
      const b = journal({ deviceSeed: 72 });
      const ca = client(a, { batchSize: 7 });
      const cb = client(b, { batchSize: 7 });
      await ca.enroll(server.url, await token(server));
      await cb.enroll(server.url, await token(server));
      for (let round = 0; round < 3; round++) {
        appendEntries(a, 15);
        appendEntries(b, 11);
        // Interleaved: each device's next head is past the other's entries.
        await Promise.all([ca.syncNow(), cb.syncNow()]);
      }
      for (const [j, c] of [
        [a, ca],
        [b, cb],
      ] as const) {
        expect(c.status()).toMatchObject({ state: 'idle', pending: 0, lastError: null, serverLogInconsistency: null });
        expect(findings(j)).toEqual([]);
      }
      // Heads past the other device's entries were checked with proofs (two head reads each);
      // a batch appended right after the device's own stored head is checked locally.
      expect(proofs).toBeGreaterThanOrEqual(2);
      expect((await server.storage.queries.listAlarms(null)).filter((x) => x.kind === 'LOG_INCONSISTENT')).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a device alone: each batch is appended where its stored head ends, checked through the frontier without a proof request', async () => {
    const server = await serverWithKey(kind, secret());
    try {
      let proofs = 0;
      const original = server.storage.queries.treeHeadAt.bind(server.storage.queries);
      server.storage.queries.treeHeadAt = (size) => ((proofs += 1), original(size));
      const j = journal({ deviceSeed: 76 });
      // One batch on the wire at a time. With two, a batch the client gave up on (its predecessor
      // was refused) can still be taken by the server; its resend then gets receipts under a head
      // past the stored one with no frontier, and that head is rightly checked with a proof.
      const c = client(j, { batchSize: 7, pipelineDepth: 1 });
      await c.enroll(server.url, await token(server));
      for (let round = 0; round < 3; round++) {
        appendEntries(j, 15);
        expect(await c.syncNow()).toMatchObject({ state: 'idle', pending: 0, lastError: null, serverLogInconsistency: null });
      }
      expect(proofs).toBe(0);
      expect(findings(j)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it.each([
    ['the same size with another root', 'ROOT_CHANGED', 0],
    ['a smaller log', 'LOG_SHRANK', 3],
  ] as const)(
    'a server with the same key whose log differs (%s): recorded once as %s, then the client adopts it and syncs on',
    async (_what, reason, shortBy) => {
      const key = secret();
      const x = await serverWithKey(kind, key);
      const y = await serverWithKey(kind, key);
      try {
        // No checkpoint falls inside the first batch sent to Y (the client cuts batches at checkpoints), so it is exactly batchSize long.
        const j = journal({ deviceSeed: 73, checkpointEvery: 256 });
        appendEntries(j, 20);
        await client(j).enroll(x.url, await token(x));
        expect(await client(j).syncNow()).toMatchObject({ state: 'idle', pending: 0 });
        const seen = client(j).status().lastTreeSize!;
        // Y holds another device's entries first, then (after this device's resend) a log of the
        // size this device saw on X, or smaller: the same key signs a head that X's does not extend.
        const other = journal({ deviceSeed: 74 });
        appendEntries(other, 3);
        const co = client(other);
        await co.enroll(y.url, await token(y));
        await co.syncNow();
        const before = (await y.storage.queries.latestTreeHead())!.size;
        const roster = j.store
          .query({ type: 'custodian.enrolled' })
          .map((e) =>
            rosterMemberSchema.parse({ custodian: e.data.custodian, signingKey: e.data.signingKey, role: e.data.role ?? 'custodian' }),
          );
        expectOk(
          await sendRequest(y.url, {
            method: 'POST',
            path: '/v1/enrol',
            json: enrolment(await token(y), j.store.vaultId()!, j.device, roster),
          }),
        );
        j.db.prepare('UPDATE sync_state SET server_url = ? WHERE id = 1').run(y.url);

        appendEntries(j, 2);
        const moved = client(j, { batchSize: seen - before - shortBy });
        const status = await moved.syncNow();
        const recorded = findings(j);
        expect(recorded).toHaveLength(1);
        const data = recorded[0]!.data as {
          reason: string;
          previous: { size: number; root: string };
          current: { size: number; root: string };
        };
        expect(data.reason).toBe(reason);
        expect(data.previous.size).toBe(seen);
        expect(data.current.size).toBe(seen - shortBy);
        expect(data.current.root).not.toBe(data.previous.root);
        expect(status).toMatchObject({
          state: 'idle',
          pending: 0,
          lastError: null,
          serverLogInconsistency: { code: 'LOG_INCONSISTENT', reason, seq: recorded[0]!.seq },
        });
        const held = await y.storage.queries.entriesBySeq(j.device.publicKey, 0, 1_000);
        expect(held.map((e) => e.hash)).toEqual([...j.store.read()].map((e) => e.hash));
        const alarms = (await y.storage.queries.listAlarms(j.device.publicKey)).filter((a) => a.kind === 'LOG_INCONSISTENT');
        expect(alarms).toMatchObject([{ seq: recorded[0]!.seq, message: expect.stringContaining(reason) as unknown }]);
        // Adopted: later heads extend it, so nothing more is recorded.
        appendEntries(j, 5);
        expect(await moved.syncNow()).toMatchObject({ state: 'idle', pending: 0 });
        expect(findings(j)).toHaveLength(1);
      } finally {
        await x.close();
        await y.close();
      }
    },
  );

  it('a proof that cannot be fetched is an ordinary retryable error: nothing is stored or recorded, and the next round syncs', async () => {
    const server = await serverWithKey(kind, secret());
    try {
      const j = journal({ deviceSeed: 75 });
      appendEntries(j, 5);
      const c = client(j, { requestTimeoutMs: 500 });
      await c.enroll(server.url, await token(server));
      expect(await c.syncNow()).toMatchObject({ state: 'idle', pending: 0 });
      const acked = c.status().ackedSeq;
      // Another device's entries go in first, so the next head needs a proof from the server.
      const other = journal({ deviceSeed: 77 });
      appendEntries(other, 3);
      const co = client(other);
      await co.enroll(server.url, await token(server));
      expect(await co.syncNow()).toMatchObject({ state: 'idle', pending: 0 });
      // The consistency answer never arrives in time: the client's request times out.
      const original = server.storage.queries.treeHeadAt.bind(server.storage.queries);
      const late: Promise<unknown>[] = [];
      server.storage.queries.treeHeadAt = (size) => {
        const answer = new Promise((r) => setTimeout(r, 1_500)).then(() => original(size));
        late.push(answer);
        return answer;
      };
      appendEntries(j, 5);
      const failed = await c.syncNow();
      expect(failed).toMatchObject({ state: 'offline', ackedSeq: acked, serverLogInconsistency: null });
      expect(failed.lastError).toMatch(/unreachable/);
      expect(failed.pending).toBeGreaterThan(0);
      server.storage.queries.treeHeadAt = original;
      // The late answers finish before the server closes.
      await Promise.all(late);
      expect(await c.syncNow()).toMatchObject({ state: 'idle', pending: 0, lastError: null, serverLogInconsistency: null });
      expect(findings(j)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
