import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestBuckets } from '../../server/auth';
import { openStorage, type Storage, type StoredEntry } from '../../server/storage/storage';
import { freshStorageUrl, testPostgresUrl, type StorageKind } from '../support/server-fixture';

const hex = (byte: number, length = 64): string =>
  byte
    .toString(16)
    .padStart(2, '0')
    .repeat(length / 2);
const DEVICE = hex(0xd1);
const OTHER = hex(0xd2);
const VAULT = hex(0xaa, 32);

const entry = (device: string, seq: number, over: Partial<StoredEntry> = {}): StoredEntry => ({
  device,
  seq,
  hash: hex(seq + 1),
  type: 'test.entry',
  time: 1_700_000_000_000 + seq,
  actor: null,
  body: `{"seq":${seq}}`,
  logIndex: seq,
  receiptSize: seq + 1,
  receivedAt: 1,
  breakGlass: false,
  ...over,
});

describe.each<StorageKind>(['sqlite', 'postgres'])('server storage contract: %s', (kind) => {
  let storage: Storage;
  let cleanup: () => Promise<void>;
  let dbUrl: string;

  beforeAll(async () => {
    const fresh = await freshStorageUrl(kind);
    dbUrl = fresh.url;
    cleanup = fresh.cleanup;
    storage = await openStorage(fresh.url);
  });
  afterAll(async () => {
    await storage?.close();
    await cleanup?.();
  });

  it('migrates idempotently: reopening the same database applies nothing twice', async () => {
    expect(storage.kind).toBe(kind);
    await storage.queries.insertDevice(DEVICE, VAULT, 1);
    expect((await storage.queries.getDevice(DEVICE))?.vault).toBe(VAULT);
  });

  it('consumes an enrolment token once, and never after it expires', async () => {
    const q = storage.queries;
    await q.insertEnrolToken('t1', 0, 1_000);
    await q.insertEnrolToken('t2', 0, 1_000);
    expect(await q.consumeEnrolToken('t1', DEVICE, 500)).toBe(true);
    expect(await q.consumeEnrolToken('t1', OTHER, 600)).toBe(false);
    expect(await q.consumeEnrolToken('t2', DEVICE, 1_000)).toBe(false);
    expect(await q.consumeEnrolToken('nope', DEVICE, 1)).toBe(false);
  });

  it('enrols a device once, revokes it, and tracks its head', async () => {
    const q = storage.queries;
    expect(await q.insertDevice(DEVICE, VAULT, 2)).toBe(false);
    expect(await q.insertDevice(OTHER, VAULT, 3)).toBe(true);
    await q.setDeviceHead(OTHER, 4, hex(9), '{"s":1}', 77);
    expect(await q.getDevice(OTHER)).toMatchObject({ headSeq: 4, headHash: hex(9), chainState: '{"s":1}', lastSeen: 77, revokedAt: null });
    expect(await q.revokeDevice(OTHER, 88)).toBe(true);
    expect(await q.revokeDevice(OTHER, 99)).toBe(false);
    expect((await q.getDevice(OTHER))?.revokedAt).toBe(88);
    expect((await q.listDevices()).map((d) => d.device)).toEqual([DEVICE, OTHER]);
    expect(await q.getDevice(hex(0xee))).toBeNull();
  });

  it('refuses a replayed nonce and prunes only expired ones', async () => {
    const q = storage.queries;
    expect(await q.nonceUsed(DEVICE, 'n1')).toBe(false);
    expect(await q.rememberNonce(DEVICE, 'n1', 100)).toBe(true);
    expect(await q.nonceUsed(DEVICE, 'n1')).toBe(true);
    expect(await q.rememberNonce(DEVICE, 'n1', 100)).toBe(false);
    expect(await q.nonceUsed(OTHER, 'n1')).toBe(false);
    expect(await q.rememberNonce(OTHER, 'n1', 100)).toBe(true);
    expect(await q.rememberNonce(DEVICE, 'n2', 300)).toBe(true);
    expect(await q.pruneNonces(200)).toBe(2);
    expect(await q.nonceUsed(DEVICE, 'n1')).toBe(false);
    expect(await q.rememberNonce(DEVICE, 'n2', 300)).toBe(false);
  });

  it('spends a shared token bucket atomically, refills it over time, and prunes idle buckets', async () => {
    const q = storage.queries;
    // Capacity 3, 2 tokens per second (one per 500 ms).
    const take = (key: string, at: number): Promise<boolean> => q.takeRateToken(key, 3, 2, at);
    expect([await take('dev-a', 1_000), await take('dev-a', 1_000), await take('dev-a', 1_000), await take('dev-a', 1_000)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(await take('dev-b', 1_000)).toBe(true);
    expect(await take('dev-a', 1_400)).toBe(false);
    expect(await take('dev-a', 1_500)).toBe(true);
    expect(await take('dev-a', 1_500)).toBe(false);
    // A long pause refills to capacity, never beyond it.
    expect([await take('dev-a', 60_000), await take('dev-a', 60_000), await take('dev-a', 60_000), await take('dev-a', 60_000)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    // Concurrent takes never overspend: 10 at once from a full bucket of 3.
    const racing = await Promise.all(Array.from({ length: 10 }, () => take('dev-c', 5_000)));
    expect(racing.filter(Boolean)).toHaveLength(3);
    expect(await q.pruneRateBuckets(2_000)).toBe(1);
    expect(await q.pruneRateBuckets(2_000)).toBe(0);
  });

  it('a clock behind the bucket (another process’s, or one set back) refills nothing and drains nothing', async () => {
    const take = (at: number): Promise<boolean> => storage.queries.takeRateToken('skewed', 3, 2, at);
    const local = new RequestBuckets({ capacity: 3, perSecond: 2 });
    for (const spend of [take, (at: number) => local.take('skewed', at)]) {
      expect(await spend(10_000)).toBe(true);
      // 60 s behind: before the fix this refilled -120 tokens and locked the key out for a minute.
      expect([await spend(-50_000), await spend(-50_000)]).toEqual([true, true]);
      expect(await spend(-50_000)).toBe(false);
      // The bucket kept the later time: half a second after it, one token is back.
      expect(await spend(10_500)).toBe(true);
      expect(await spend(10_500)).toBe(false);
    }
  });

  it('stores entries by (device, seq) and refuses a second entry at the same seq or log index', async () => {
    const q = storage.queries;
    await q.insertEntries([entry(DEVICE, 0), entry(DEVICE, 1, { breakGlass: true, type: 'checkout.opened' })]);
    expect((await q.entriesBySeq(DEVICE, 0, 5)).map((e) => e.seq)).toEqual([0, 1]);
    expect((await q.entriesBySeq(DEVICE, 1, 1))[0]).toEqual(entry(DEVICE, 1, { breakGlass: true, type: 'checkout.opened' }));
    await expect(q.insertEntries([entry(DEVICE, 1, { logIndex: 9 })])).rejects.toThrow();
    await expect(q.insertEntries([entry(OTHER, 0, { logIndex: 1 })])).rejects.toThrow();
    expect((await q.entriesByLogIndex(1, 10)).map((e) => e.seq)).toEqual([1]);
    // The org log's leaves are read from here: entry hashes by log index, absent indexes left out.
    expect(await q.entryHashesAt([1, 0, 7, 1])).toEqual(
      new Map([
        [1, hex(2)],
        [0, hex(1)],
      ]),
    );
  });

  it('inserts a batch of many entries in one transaction, again on the same connections after a batch rolled back and after a refused one', async () => {
    // On PostgreSQL the batch inserts are named prepared statements (server/storage/postgres.ts): a
    // name prepared inside a transaction that rolled back must still serve the next batch.
    const device = hex(0xd7);
    const batch = Array.from({ length: 600 }, (_e, i) => entry(device, i, { logIndex: 100_000 + i }));
    for (let round = 0; round < 3; round++)
      await expect(
        storage.transaction(async (tx) => {
          await tx.insertEntries(batch);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
    expect(await storage.queries.entriesBySeq(device, 0, 1_000)).toEqual([]);
    // A batch the primary key refuses part way (its last entry repeats seq 0), then the whole batch.
    await expect(storage.transaction((tx) => tx.insertEntries([...batch, entry(device, 0, { logIndex: 200_000 })]))).rejects.toThrow();
    await storage.transaction((tx) => tx.insertEntries(batch));
    const held = await storage.queries.entriesBySeq(device, 0, 1_000);
    expect(held).toHaveLength(600);
    expect(held[599]).toEqual(batch[599]);
  });

  it("lists a device's rotated-to keys in seq order, through the partial index on rotation entries", async () => {
    const q = storage.queries;
    const rotation = (device: string, seq: number, logIndex: number, key: string): StoredEntry =>
      entry(device, seq, { type: 'device.key-rotated', logIndex, body: JSON.stringify({ seq, data: { newDeviceKey: key } }) });
    const ROTATOR = hex(0xd3);
    await q.insertEntries([
      entry(ROTATOR, 0, { logIndex: 100 }),
      rotation(ROTATOR, 1, 101, hex(0x71)),
      entry(ROTATOR, 2, { logIndex: 102 }),
      rotation(ROTATOR, 3, 103, hex(0x72)),
      rotation(hex(0xd4), 0, 104, hex(0x73)),
    ]);
    expect(await q.rotatedDeviceKeys(ROTATOR)).toEqual([hex(0x71), hex(0x72)]);
    expect(await q.rotatedDeviceKeys(hex(0xd5))).toEqual([]);
    if (kind === 'sqlite') {
      // The query the server runs, as SQLite plans it (PostgreSQL plans by table statistics).
      const db = new Database(dbUrl.slice('sqlite:'.length), { readonly: true });
      try {
        const plan = db
          .prepare("EXPLAIN QUERY PLAN SELECT body FROM entries WHERE device = ? AND type = 'device.key-rotated' ORDER BY seq")
          .all(ROTATOR);
        expect(JSON.stringify(plan)).toContain('entries_key_rotations');
      } finally {
        db.close();
      }
    }
  });

  it('keeps one incident per device session and one review per subject, the review a log leaf', async () => {
    const q = storage.queries;
    const incident = {
      id: hex(0x91),
      device: DEVICE,
      vault: 'v',
      session: 's-1',
      account: 'prod',
      reference: null,
      reason: null,
      severity: null,
      outcome: null,
      openedAt: 1,
      updatedAt: 1,
      ord: 1,
    };
    expect(await q.insertIncident(incident)).toBe(true);
    expect(await q.insertIncident({ ...incident, id: hex(0x92), ord: 2 })).toBe(false);
    await q.updateIncident(incident.id, {
      updatedAt: 5,
      outcome: 'resolved',
      reference: 'INC-1',
      reason: null,
      severity: null,
      account: 'other',
    });
    expect(await q.incidentBySession(DEVICE, 's-1')).toMatchObject({
      updatedAt: 5,
      outcome: 'resolved',
      reference: 'INC-1',
      account: 'prod',
    });
    await q.linkIncidentEntries(incident.id, DEVICE, [1, 1]);
    expect((await q.incidentEntries(incident.id, -1, 10)).map((e) => e.seq)).toEqual([1]);
    expect((await q.listIncidents(true, -1, 10)).map((i) => i.id)).toEqual([incident.id]);
    const review = {
      hash: hex(0x93),
      subjectKind: 'incident' as const,
      subjectId: incident.id,
      reviewer: hex(0x77),
      body: '{}',
      logIndex: 500,
      receivedAt: 6,
    };
    expect(await q.insertReview(review)).toBe(true);
    // The first review of a subject wins, whoever sends the next.
    expect(await q.insertReview({ ...review, hash: hex(0x94), reviewer: hex(0x78), logIndex: 501 })).toBe(false);
    expect(await q.reviewOf('incident', incident.id)).toMatchObject({ reviewer: hex(0x77) });
    expect(await q.listIncidents(true, -1, 10)).toEqual([]);
    expect((await q.listIncidents(false, -1, 10)).map((i) => i.id)).toEqual([incident.id]);
    expect((await q.entryHashesAt([500, 1, 502])).get(500)).toBe(hex(0x93));
    expect((await q.reviewsInLogRange(0, 1000)).map((r) => r.hash)).toEqual([hex(0x93)]);
  });

  it('rolls a transaction back completely when it throws', async () => {
    await expect(
      storage.transaction(
        async (tx) => {
          await tx.insertEntries([entry(DEVICE, 2, { logIndex: 2 })]);
          await tx.insertTreeHead({ size: 3, root: hex(3), timestamp: 1, signature: hex(1, 128) });
          throw new Error('boom');
        },
        { log: true },
      ),
    ).rejects.toThrow('boom');
    expect(await storage.queries.entriesBySeq(DEVICE, 2, 2)).toEqual([]);
    expect(await storage.queries.treeHeadAt(3)).toBeNull();
  });

  it('serialises log appends: concurrent transactions never take the same tree size', async () => {
    const appendOne = () =>
      storage.transaction(
        async (tx) => {
          const size = (await tx.latestTreeHead())?.size ?? 0;
          await new Promise((r) => setTimeout(r, 5)); // widen the window a race would need
          await tx.insertTreeHead({ size: size + 1, root: hex(size + 1), timestamp: size, signature: hex(2, 128) });
          await tx.insertLogNodes([{ key: size * 64, hash: hex(size + 1) }]);
          return size + 1;
        },
        { log: true },
      );
    const sizes = await Promise.all(Array.from({ length: 12 }, appendOne));
    expect([...sizes].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect((await storage.queries.latestTreeHead())?.size).toBe(12);
    const nodes = await storage.queries.getLogNodes([0, 64, 11 * 64, 12 * 64]);
    expect([...nodes.keys()].sort((a, b) => a - b)).toEqual([0, 64, 11 * 64]);
  });

  it('replaces a tree head only by one of the same size and root, only while it is still the stored one, and keeps the replaced signature', async () => {
    const q = storage.queries;
    const stored = (await q.treeHeadAt(5))!;
    const next = { size: 5, root: stored.root, timestamp: 99, signature: hex(3, 128) };
    await expect(q.replaceTreeHead(stored, { ...next, size: 6 })).rejects.toThrow(/same size and root/);
    await expect(q.replaceTreeHead(stored, { ...next, root: hex(0x99) })).rejects.toThrow(/same size and root/);
    // Another signature than the stored one: someone replaced it first.
    expect(await q.replaceTreeHead({ ...stored, signature: hex(4, 128) }, next)).toBe(false);
    expect(await q.treeHeadAt(5)).toEqual(stored);
    expect(await q.previousTreeHeads(5)).toEqual([]);
    expect(await q.replaceTreeHead(stored, next)).toBe(true);
    expect(await q.treeHeadAt(5)).toEqual(next);
    expect(await q.previousTreeHeads(5)).toEqual([stored]);
    expect(await q.replaceTreeHead(stored, { ...next, signature: hex(5, 128) })).toBe(false);
    expect(await q.treeHeadAt(5)).toEqual(next);
  });

  it('makes a key a reviewer only by an operator grant: grant, list, revoke (ending its sessions and challenges), grant again', async () => {
    const q = storage.queries;
    const reviewer = hex(0x51);
    const other = hex(0x52);
    // A roster's or a journal's reviewer role grants nothing.
    await q.insertCustodianKeys([
      { vault: VAULT, signingKey: reviewer, custodian: 'rita', role: 'reviewer', source: 'enrolment' },
      { vault: VAULT, signingKey: reviewer, custodian: 'rita', role: 'reviewer', source: 'journal' },
    ]);
    expect(await q.isReviewerKey(reviewer)).toBe(false);
    expect(await q.listReviewers()).toEqual([]);

    await q.grantReviewer(reviewer, 'Rita', 10);
    await q.grantReviewer(other, 'Otto', 11);
    expect(await q.isReviewerKey(reviewer)).toBe(true);
    // Granting an active key again only renames it; its grant keeps its date.
    await q.grantReviewer(reviewer, 'Rita Reviewer', 12);
    expect(await q.listReviewers()).toEqual([
      { signingKey: reviewer, name: 'Rita Reviewer', grantedAt: 10, revokedAt: null },
      { signingKey: other, name: 'Otto', grantedAt: 11, revokedAt: null },
    ]);

    await q.insertSession('rs1', reviewer, 10_000);
    await q.insertSession('os1', other, 10_000);
    await q.insertChallenge('rc1', reviewer, 10_000);
    expect(await storage.transaction((tx) => tx.revokeReviewer(reviewer, 20))).toBe(true);
    expect(await q.revokeReviewer(reviewer, 21)).toBe(false);
    expect(await q.revokeReviewer(hex(0x53), 21)).toBe(false);
    expect(await q.isReviewerKey(reviewer)).toBe(false);
    expect(await q.sessionReviewer('rs1', 30)).toBeNull();
    expect(await q.consumeChallenge('rc1', 30)).toBeNull();
    // Another reviewer's session is untouched.
    expect(await q.sessionReviewer('os1', 30)).toBe(other);
    expect((await q.listReviewers())[0]).toEqual({ signingKey: reviewer, name: 'Rita Reviewer', grantedAt: 10, revokedAt: 20 });

    // The journal revoking its custodian changes nothing either way; only the operator re-grants.
    await q.revokeCustodianKey(VAULT, reviewer);
    await q.grantReviewer(reviewer, 'Rita', 40);
    expect(await q.isReviewerKey(reviewer)).toBe(true);
    expect((await q.listReviewers())[1]).toEqual({ signingKey: reviewer, name: 'Rita', grantedAt: 40, revokedAt: null });
    expect(await q.sessionReviewer('rs1', 30)).toBeNull();
  });

  it('issues single-use challenges and expiring sessions', async () => {
    const q = storage.queries;
    await q.insertChallenge('c1', hex(0x51), 100);
    expect(await q.consumeChallenge('c1', 50)).toBe(hex(0x51));
    expect(await q.consumeChallenge('c1', 50)).toBeNull();
    await q.insertChallenge('c2', hex(0x51), 100);
    expect(await q.consumeChallenge('c2', 100)).toBeNull();
    await q.insertSession('s1', hex(0x51), 100);
    expect(await q.sessionReviewer('s1', 99)).toBe(hex(0x51));
    expect(await q.sessionReviewer('s1', 100)).toBeNull();
  });

  it('records alarms with their evidence and counts them per device', async () => {
    const q = storage.queries;
    await q.insertAlarm({ device: DEVICE, kind: 'FORK', seq: 3, message: 'fork at 3', evidence: '{"seq":3}', raisedAt: 9 });
    await q.insertAlarm({ device: DEVICE, kind: 'ROLLBACK', seq: 4, message: 'rollback at 4', evidence: '{"seq":4}', raisedAt: 10 });
    expect((await q.listAlarms(DEVICE)).map((a) => [a.kind, a.seq, a.evidence])).toEqual([
      ['FORK', 3, '{"seq":3}'],
      ['ROLLBACK', 4, '{"seq":4}'],
    ]);
    expect((await q.alarmCounts()).get(DEVICE)).toBe(2);
    expect(await q.listAlarms(OTHER)).toEqual([]);
  });

  it("records a resent conflict once, and pages every device's alarms by id", async () => {
    const q = storage.queries;
    const fork = {
      device: OTHER,
      kind: 'FORK' as const,
      seq: 7,
      message: 'fork at 7',
      evidence: '{"seq":7}',
      raisedAt: 11,
      offeredHash: hex(0x71),
    };
    expect(await q.insertAlarm(fork)).toEqual(expect.any(Number));
    expect(await q.insertAlarm({ ...fork, raisedAt: 12 })).toBeNull();
    expect(await q.insertAlarm({ ...fork, offeredHash: hex(0x72) })).toEqual(expect.any(Number));
    expect(await q.insertAlarm({ ...fork, kind: 'ROLLBACK' })).toEqual(expect.any(Number));
    // Alarms without an offered hash (journal warnings) are never merged.
    const warning = { device: OTHER, kind: 'JOURNAL_WARNING' as const, seq: 7, message: 'warning at 7', evidence: '{}', raisedAt: 13 };
    expect(await q.insertAlarm(warning)).toEqual(expect.any(Number));
    expect(await q.insertAlarm(warning)).toEqual(expect.any(Number));
    expect((await q.listAlarms(OTHER)).map((a) => a.kind)).toEqual(['FORK', 'FORK', 'ROLLBACK', 'JOURNAL_WARNING', 'JOURNAL_WARNING']);
    const all = await q.listAlarms(null);
    expect(all).toHaveLength(7);
    const paged = [];
    for (
      let after = 0, page = await q.alarmsAfter(after, 2);
      page.length > 0;
      after = page[page.length - 1]!.id, page = await q.alarmsAfter(after, 2)
    ) {
      expect(page.length).toBeLessThanOrEqual(2);
      paged.push(...page);
    }
    expect(paged).toEqual(all);
  });
});

/** Runs SQL on the database behind a storage URL directly, as an operator's tool would (not through the adapter). */
async function rawSql(url: string, sql: string): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({
    connectionString: testPostgresUrl(),
    options: `-c search_path=${new URL(url).searchParams.get('schema')!}`,
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe.each<StorageKind>(['sqlite', 'postgres'])('migration 0004 (operator-granted reviewers): %s', (kind) => {
  it('carries no journal-derived reviewer over, and ends the sessions and challenges those reviewers held', async () => {
    const fresh = await freshStorageUrl(kind);
    let storage: Storage | undefined = await openStorage(fresh.url);
    try {
      // A server before 0004: a vault's journal enrolled a reviewer, who signed in.
      const reviewer = hex(0x5e);
      await storage.queries.insertDevice(DEVICE, VAULT, 1);
      await storage.queries.insertCustodianKeys([
        { vault: VAULT, signingKey: reviewer, custodian: 'rita', role: 'reviewer', source: 'journal' },
      ]);
      await storage.queries.insertSession('old-session', reviewer, Date.now() + 60_000);
      await storage.queries.insertChallenge('old-challenge', reviewer, Date.now() + 60_000);
      await storage.close();
      storage = undefined;
      await rawSql(fresh.url, 'DROP INDEX reviewer_sessions_key; DROP TABLE reviewers; DELETE FROM server_migrations WHERE number = 4');

      storage = await openStorage(fresh.url);
      expect(await storage.queries.isReviewerKey(reviewer)).toBe(false);
      expect(await storage.queries.listReviewers()).toEqual([]);
      expect(await storage.queries.sessionReviewer('old-session', Date.now())).toBeNull();
      expect(await storage.queries.consumeChallenge('old-challenge', Date.now())).toBeNull();
      // The operator grants after upgrading.
      await storage.queries.grantReviewer(reviewer, 'Rita', Date.now());
      expect(await storage.queries.isReviewerKey(reviewer)).toBe(true);
    } finally {
      await storage?.close();
      await fresh.cleanup();
    }
  });
});
