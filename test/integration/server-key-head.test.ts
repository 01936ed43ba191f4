import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EntrySigner } from '../../shared/journal/entry';
import { verifyConsistency } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { treeHeadProblem, type TreeHead } from '../../shared/sync/receipt';
import { reviewerChallengeMessage } from '../../shared/sync/wire';
import { SyncClient } from '../../electron/sync/client';
import { ServerUnreachable, expectOk, sendRequest } from '../../electron/sync/transport';
import pino from 'pino';
import { buildServer } from '../../server/app';
import { startServer, type RunningServer } from '../../server/main';
import { createServerKey, serverSigner, signedBy, type ServerSigner } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { hashToken, newToken } from '../../server/tokens';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { freshStorageUrl, startTestServer, type StorageKind } from '../support/server-fixture';
import { appendEntries, enrolledClient } from '../support/sync-fixture';

let sodium: Sodium;
let dir: string;
beforeAll(async () => {
  sodium = await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-keyhead-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Consistency = { from: TreeHead; to: TreeHead; proof: string[] };

const logHead = async (server: RunningServer): Promise<TreeHead> =>
  expectOk(await sendRequest(server.url, { method: 'GET', path: '/v1/log/head' })) as TreeHead;
const consistency = async (server: RunningServer, from: number, to: number): Promise<Consistency> =>
  expectOk(await sendRequest(server.url, { method: 'GET', path: `/v1/log/consistency?from=${from}&to=${to}` })) as Consistency;
const consistent = (old: TreeHead, answer: Consistency): boolean =>
  verifyConsistency(
    old.size,
    answer.to.size,
    sodium.from_hex(old.root),
    sodium.from_hex(answer.to.root),
    answer.proof.map((h) => sodium.from_hex(h)),
    sodium,
  );

/** The reviewer's flow: challenge, signed session, then the export's header line. */
async function exportHeader(server: RunningServer, reviewer: EntrySigner): Promise<{ serverKey: string; treeHead: TreeHead }> {
  const { challenge } = expectOk(
    await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: reviewer.publicKey } }),
  ) as { challenge: string };
  const signature = sodium.to_hex(reviewer.sign(reviewerChallengeMessage(challenge, sodium)));
  const { token } = expectOk(
    await sendRequest(server.url, {
      method: 'POST',
      path: '/v1/reviewer/session',
      json: { key: reviewer.publicKey, challenge, signature },
    }),
  ) as { token: string };
  const res = await fetch(new URL('/v1/reviewer/export', server.url), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return JSON.parse((await res.text()).split('\n', 1)[0]!) as { serverKey: string; treeHead: TreeHead };
}

/** Servers on one fresh database of this kind, started as `halfkey server` does, and stopped after each test. */
function serversOn(kind: StorageKind) {
  let db: string;
  let cleanup: () => Promise<void>;
  const running: RunningServer[] = [];
  const journals: TestJournal[] = [];
  beforeAll(async () => {
    const fresh = await freshStorageUrl(kind);
    db = fresh.url;
    cleanup = fresh.cleanup;
  });
  afterEach(async () => {
    for (const s of running.splice(0)) await s.close();
    for (const j of journals.splice(0)) j.close();
  });
  afterAll(async () => {
    await cleanup?.();
  });

  const keyFile = (name: string): { path: string; signer: ServerSigner } => {
    const path = join(dir, `${kind}-${name}.key`);
    return { path, signer: serverSigner(createServerKey(path, sodium), sodium) };
  };
  /** `halfkey server --db … --key-file …`, in this process. */
  const start = async (key: string, port = 0): Promise<RunningServer> => {
    const server = await startServer({
      db,
      listen: `127.0.0.1:${port}`,
      keyFile: key,
      verifyThreads: 0,
      logger: false,
      rateLimit: { capacity: 10_000, perSecond: 10_000 },
    });
    running.push(server);
    return server;
  };
  const stop = async (server: RunningServer): Promise<void> => {
    running.splice(running.indexOf(server), 1);
    await server.close();
  };
  const enrol = async (
    server: RunningServer,
    deviceSeed: number,
    entries: number,
  ): Promise<{ journal: TestJournal; client: SyncClient }> => {
    const journal = new TestJournal({ deviceSeed });
    journals.push(journal);
    appendEntries(journal, entries);
    const token = newToken(sodium);
    await server.storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
    const client = new SyncClient({ db: journal.db, journal: journal.store, signer: journal.device, backoff: { baseMs: 20, maxMs: 200 } });
    await client.enroll(server.url, token);
    expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
    return { journal, client };
  };
  return { keyFile, start, stop, enrol };
}

/** The first request to a server restarted on the same port may meet the stopped one's closed keep-alive connection. */
async function afterRestart<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!(error instanceof ServerUnreachable)) throw error;
    return request();
  }
}

describe.each<StorageKind>(['sqlite', 'postgres'])('server key rotation: the served tree head is under the new key: %s', (kind) => {
  const { keyFile, start, stop, enrol } = serversOn(kind);

  it('after a restart with a new key file, the log head and a device head verify under the new key, at the same size and root, consistent with the last old head', async () => {
    const oldKey = keyFile('old');
    const newKey = keyFile('new');
    let server = await start(oldKey.path);
    const { journal, client } = await enrol(server, 0x71, 7);
    const reviewer = seededSigner(0x72);
    await server.storage.queries.grantReviewer(reviewer.publicKey, 'Rita Reviewer', Date.now());
    // Step 3 of the runbook: note the last head under the old key, stop, install the new key, start.
    const last = await logHead(server);
    expect(treeHeadProblem(last, oldKey.signer.publicKey, sodium)).toBeNull();
    const port = Number(new URL(server.url).port);
    await stop(server);
    server = await start(newKey.path, port);

    const head = await afterRestart(() => logHead(server));
    expect(treeHeadProblem(head, newKey.signer.publicKey, sodium)).toBeNull();
    expect(treeHeadProblem(head, oldKey.signer.publicKey, sodium)).not.toBeNull();
    expect({ size: head.size, root: head.root }).toEqual({ size: last.size, root: last.root });
    expect(head.timestamp).toBeGreaterThanOrEqual(last.timestamp);
    // The device's view and the reviewer's export carry the same head.
    const device = expectOk(
      await sendRequest(server.url, { method: 'GET', path: `/v1/devices/${journal.device.publicKey}/head`, signer: journal.device }),
    ) as { treeHead: TreeHead };
    expect(device.treeHead).toEqual(head);
    expect(await exportHeader(server, reviewer)).toMatchObject({ serverKey: newKey.signer.publicKey, treeHead: head });
    // Stored in place of the old key's head: heads by size (the consistency endpoint) agree.
    expect(await server.storage.queries.treeHeadAt(last.size)).toEqual(head);
    const same = await consistency(server, last.size, head.size);
    expect(same.to).toEqual(head);
    expect(consistent(last, same)).toBe(true);

    // Another restart under the same key signs nothing new.
    await stop(server);
    server = await start(newKey.path, port);
    expect(await afterRestart(() => logHead(server))).toEqual(head);

    // After the re-pin the log grows under the new key, provably from the last old head.
    expect((await client.repin(newKey.signer.fingerprint)).serverFingerprint).toBe(newKey.signer.fingerprint);
    appendEntries(journal, 5);
    let status = await client.syncNow();
    // The first round after the restart may meet the stopped server's closed keep-alive connection.
    for (let i = 0; i < 5 && status.state === 'offline'; i++) status = await client.syncNow();
    expect(status).toMatchObject({ pending: 0, lastError: null });
    const grown = await logHead(server);
    // This device's journal is the whole log; the re-pin journalled one entry of its own.
    expect(grown.size).toBe([...journal.store.read()].length);
    expect(grown.size).toBeGreaterThan(last.size + 5);
    expect(treeHeadProblem(grown, newKey.signer.publicKey, sodium)).toBeNull();
    const across = await consistency(server, last.size, grown.size);
    expect(treeHeadProblem(across.to, newKey.signer.publicKey, sodium)).toBeNull();
    expect(consistent(last, across)).toBe(true);
  });

  it('serves an older head the start did not re-sign under the new key too, from the consistency endpoint, without storing it', async () => {
    const oldKey = keyFile('old3');
    const newKey = keyFile('new3');
    let server = await start(oldKey.path);
    const { client, journal } = await enrol(server, 0x76, 3);
    const first = await logHead(server);
    appendEntries(journal, 4);
    expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
    const second = await logHead(server);
    expect(second.size).toBeGreaterThan(first.size);
    const port = Number(new URL(server.url).port);
    await stop(server);
    server = await start(newKey.path, port);

    const answer = await afterRestart(() => consistency(server, first.size, second.size));
    for (const head of [answer.from, answer.to]) {
      expect(treeHeadProblem(head, newKey.signer.publicKey, sodium)).toBeNull();
      expect(head.timestamp).toBeGreaterThanOrEqual(first.timestamp);
    }
    expect({ size: answer.from.size, root: answer.from.root }).toEqual({ size: first.size, root: first.root });
    expect(answer.to).toEqual(await logHead(server));
    expect(consistent(first, answer)).toBe(true);
    // The same answer again (remembered, not signed anew), and the read stored nothing.
    expect((await consistency(server, first.size, second.size)).from).toEqual(answer.from);
    expect(await server.storage.queries.treeHeadAt(first.size)).toEqual(first);
    // The latest head was re-signed at start; the old key's signature of it is kept.
    expect(await server.storage.queries.previousTreeHeads(second.size)).toEqual([second]);
    expect(await server.storage.queries.previousTreeHeads(first.size)).toEqual([]);
  });

  it("re-signs a head no older than the stored one when this host's clock is behind it, at start and in memory", async () => {
    const oldKey = keyFile('old4');
    const newKey = keyFile('new4');
    const fresh = await freshStorageUrl(kind);
    const storage = await openStorage(fresh.url);
    try {
      const root = 'ab'.repeat(32);
      // A head from the future of this host's clock (another host's clock was ahead).
      await storage.queries.insertTreeHead(oldKey.signer.signTreeHead({ size: 9_001, root, timestamp: 5_000_000 }));
      const app = buildServer({ storage, signer: newKey.signer, sodium, logger: false, now: () => 1_000 });
      try {
        await app.ready();
        const stored = (await storage.queries.latestTreeHead())!;
        expect(signedBy(newKey.signer, stored)).toBe(true);
        expect(stored).toMatchObject({ size: 9_001, root, timestamp: 5_000_000 });
        // A head another key stores later is re-signed in memory only, under the same rule.
        const later = oldKey.signer.signTreeHead({ size: 9_002, root, timestamp: 6_000_000 });
        await storage.queries.insertTreeHead(later);
        const reply = await app.inject({ method: 'GET', url: '/v1/log/head' });
        expect(reply.statusCode, reply.body).toBe(200);
        const served = reply.json<TreeHead>();
        expect(treeHeadProblem(served, newKey.signer.publicKey, sodium)).toBeNull();
        expect(served).toMatchObject({ size: 9_002, root, timestamp: 6_000_000 });
        expect(await storage.queries.latestTreeHead()).toEqual(later);
      } finally {
        await app.close();
      }
    } finally {
      await storage.close();
      await fresh.cleanup();
    }
  });

  it('issues non-decreasing tree head timestamps while the server clock goes backwards', async () => {
    let clock = Date.now();
    // A slow refill: the rate buckets refill by elapsed time, which is negative here.
    const server = await startTestServer(kind, { now: () => clock, rateLimit: { capacity: 10_000, perSecond: 0.001 } });
    try {
      const journal = new TestJournal({ deviceSeed: 0x77 });
      try {
        appendEntries(journal, 2);
        const client = await enrolledClient(server, journal);
        expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
        const heads = [(await server.storage.queries.latestTreeHead())!];
        for (const back of [60_000, 120_000]) {
          // Within the request clock skew the server allows, so the device's requests still pass.
          clock = Date.now() - back;
          appendEntries(journal, 1);
          expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
          heads.push((await server.storage.queries.latestTreeHead())!);
        }
        for (let i = 1; i < heads.length; i++) {
          expect(heads[i]!.size).toBeGreaterThan(heads[i - 1]!.size);
          expect(heads[i]!.timestamp).toBeGreaterThanOrEqual(heads[i - 1]!.timestamp);
        }
      } finally {
        journal.close();
      }
    } finally {
      await server.close();
    }
  });
});

// Several stateless processes share one PostgreSQL (docs/operations.md); a SQLite server is one process.
describe('server key rotation: several processes on one PostgreSQL', () => {
  const { keyFile, start, stop, enrol } = serversOn('postgres');

  it('processes starting together with the new key serve one head under it, also while a process left on the old key appends', async () => {
    const oldKey = keyFile('old2');
    const newKey = keyFile('new2');
    const before = await start(oldKey.path);
    await enrol(before, 0x73, 4);
    const last = await logHead(before);
    expect(treeHeadProblem(last, oldKey.signer.publicKey, sodium)).toBeNull();
    await stop(before);

    const fleet = await Promise.all([start(newKey.path), start(newKey.path), start(newKey.path)]);
    const heads = await Promise.all(fleet.map(logHead));
    for (const head of heads) expect(head).toEqual(heads[0]);
    expect(treeHeadProblem(heads[0], newKey.signer.publicKey, sodium)).toBeNull();
    expect({ size: heads[0]!.size, root: heads[0]!.root }).toEqual({ size: last.size, root: last.root });
    expect(await fleet[0]!.storage.queries.treeHeadAt(last.size)).toEqual(heads[0]);

    // An operator forgot one process: it still signs with the old key as it appends. The new-key
    // processes still serve heads only under their own key, of the size that process appended.
    const straggler = await start(oldKey.path);
    const { journal } = await enrol(straggler, 0x74, 3);
    const appended = (await straggler.storage.queries.latestTreeHead())!;
    expect(appended.size).toBe(last.size + [...journal.store.read()].length);
    // The reviewer's export, asked first, names the new key and carries a head it signed.
    const reviewer = seededSigner(0x75);
    await straggler.storage.queries.grantReviewer(reviewer.publicKey, 'Rita Reviewer', Date.now());
    const header = await exportHeader(fleet[0]!, reviewer);
    expect(header.serverKey).toBe(newKey.signer.publicKey);
    expect(treeHeadProblem(header.treeHead, newKey.signer.publicKey, sodium)).toBeNull();
    expect(header.treeHead.size).toBe(appended.size);
    for (const server of fleet) {
      const head = await logHead(server);
      expect(treeHeadProblem(head, newKey.signer.publicKey, sodium)).toBeNull();
      expect({ size: head.size, root: head.root }).toEqual({ size: appended.size, root: appended.root });
      expect(consistent(last, await consistency(server, last.size, head.size))).toBe(true);
    }
  });

  it('an old-key and a new-key process on one database each serve heads under their own key, and reads write nothing', async () => {
    const oldKey = keyFile('old5');
    const newKey = keyFile('new5');
    const root = 'cd'.repeat(32);
    const storages: Storage[] = [];
    const apps: ReturnType<typeof buildServer>[] = [];
    const warnings: string[][] = [[], []];
    const fresh = await freshStorageUrl('postgres');
    try {
      for (let i = 0; i < 3; i++) storages.push(await openStorage(fresh.url));
      const [watch, oldStorage, newStorage] = storages as [Storage, Storage, Storage];
      const stale = oldKey.signer.signTreeHead({ size: 1, root, timestamp: 1_000 });
      await watch.queries.insertTreeHead(stale);
      // The old-key process was never stopped; the new-key one starts after it.
      for (const [i, storage, signer] of [
        [0, oldStorage, oldKey.signer],
        [1, newStorage, newKey.signer],
      ] as const) {
        const sink = {
          write: (line: string): void => {
            const record = JSON.parse(line) as { level: number; msg: string };
            if (record.level === 40) warnings[i]!.push(record.msg);
          },
        };
        const app = buildServer({
          storage,
          signer,
          sodium,
          logger: pino({ level: 'warn' }, sink),
          rateLimit: { capacity: 10_000, perSecond: 10_000 },
        });
        apps.push(app);
        await app.listen({ host: '127.0.0.1', port: 0 });
      }
      const stored = (await watch.queries.latestTreeHead())!;
      expect(signedBy(newKey.signer, stored)).toBe(true);
      expect(await watch.queries.previousTreeHeads(1)).toEqual([stale]);
      const urls = apps.map((app) => `http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
      const keys = [oldKey.signer.publicKey, newKey.signer.publicKey];
      const served: TreeHead[][] = [[], []];
      for (let round = 0; round < 3; round++) {
        for (const i of [0, 1]) {
          const head = expectOk(await sendRequest(urls[i]!, { method: 'GET', path: '/v1/log/head' })) as TreeHead;
          expect(treeHeadProblem(head, keys[i]!, sodium)).toBeNull();
          served[i]!.push(head);
          const proof = expectOk(await sendRequest(urls[i]!, { method: 'GET', path: '/v1/log/consistency?from=1&to=1' })) as Consistency;
          expect(treeHeadProblem(proof.from, keys[i]!, sodium)).toBeNull();
          expect(treeHeadProblem(proof.to, keys[i]!, sodium)).toBeNull();
          // No read wrote the database.
          expect(await watch.queries.latestTreeHead()).toEqual(stored);
        }
      }
      // Each process answers the same head every time; only the old-key one warns, once.
      for (const heads of served) for (const head of heads) expect(head).toEqual(heads[0]);
      expect(served[1]![0]).toEqual(stored);
      expect(warnings[1]).toEqual([]);
      expect(warnings[0]).toHaveLength(1);
      expect(warnings[0]![0]).toMatch(/another server key.*Stop every process on the old key/);
    } finally {
      for (const app of apps) await app.close();
      for (const storage of storages) await storage.close();
      await fresh.cleanup();
    }
  });
});
