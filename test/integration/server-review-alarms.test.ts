import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEntry, type EntrySigner, type SignedEntry } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { alarmSchema, deviceSummarySchema, reviewerChallengeMessage } from '../../shared/sync/wire';
import { expectOk, sendRequest } from '../../electron/sync/transport';
import { TEST_VAULT, journalsClosedAfterEach, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, grantReviewer, upload } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const journal = journalsClosedAfterEach();

type ReviewerGet = (path: string, status?: number) => Promise<unknown>;

/** Signs in over HTTP as a reviewer the operator granted; returns a GET for the reviewer views (expecting 200 unless told). */
async function reviewerSession(server: TestServer, reviewer: EntrySigner): Promise<ReviewerGet> {
  await grantReviewer(server, reviewer.publicKey, 'Rita Reviewer');
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
  return async (path, status = 200) => {
    const res = await fetch(new URL(path, server.url), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(status);
    return res.json();
  };
}

/** Every item of a paged reviewer view, following `next`; also how many pages it took. */
async function allPages(
  get: ReviewerGet,
  path: string,
  key: 'alarms' | 'incidents',
  limit?: number,
): Promise<{ items: unknown[]; pages: number }> {
  const items: unknown[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    // Every alarm, acknowledged or not (the view shows open ones by default).
    const query = ['state=all', limit === undefined ? '' : `limit=${limit}`, after === null ? '' : `after=${after}`]
      .filter((p) => p !== '')
      .join('&');
    const page = (await get(`${path}?${query}`)) as { next: string | null } & Record<typeof key, unknown[]>;
    items.push(...page[key]);
    after = page.next;
    pages++;
  } while (after !== null && pages < 1_000);
  return { items, pages };
}

const alarmsOf = async (get: ReviewerGet, device: string) =>
  (await allPages(get, '/v1/reviewer/alarms', 'alarms')).items.map((a) => alarmSchema.parse(a)).filter((a) => a.device === device);
const summaryOf = async (get: (path: string) => Promise<unknown>, device: string) =>
  ((await get('/v1/reviewer/devices')) as { devices: unknown[] }).devices
    .map((d) => deviceSummarySchema.parse(d))
    .find((d) => d.device === device);

describe.each<StorageKind>(['sqlite', 'postgres'])('reviewer alarms and device summaries over HTTP: %s', (kind) => {
  let server: TestServer;
  let get: ReviewerGet;
  beforeAll(async () => {
    server = await startTestServer(kind);
    get = await reviewerSession(server, seededSigner(0x61));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('accepts TIME_BACKWARDS and MISSING_CHECKPOINT entries, records each as a JOURNAL_WARNING alarm, and shows them on /v1/reviewer/alarms and in the device summary', async () => {
    const j = journal({ deviceSeed: 151, heartbeatMs: 1_000 });
    appendEntries(j, 3);
    j.store.append({ type: 'session.started', data: {} });
    // Ten seconds of silence inside a session whose heartbeat is one second.
    j.tick(10_000);
    const silent = j.store.append({ type: 'test.event', data: { after: 'silence' } });
    j.store.append({ type: 'session.ended', data: {} });
    // The JournalStore never writes time backwards; a device with a wrong clock's journal can hold it.
    const head = j.store.head()!;
    const [last] = [...j.store.read({ from: head.seq, to: head.seq })];
    const backwards: SignedEntry = signEntry(
      {
        v: 1,
        vault: TEST_VAULT,
        device: j.device.publicKey,
        seq: head.seq + 1,
        prev: head.hash,
        time: last!.time - 60_000,
        type: 'test.event',
        actor: null,
        data: { clock: 'behind' },
      },
      [j.device],
      sodium,
    );
    await enrolledClient(server, j);
    expect(await summaryOf(get, j.device.publicKey)).toMatchObject({ alarms: 0, lastSeen: null, lastSeq: null });

    const before = Date.now();
    const answer = await upload(server, j, [...j.store.read(), backwards]);
    const after = Date.now();
    expect(answer.status).toBe(200);
    const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 100);
    expect(held.map((e) => e.hash)).toEqual([...[...j.store.read()].map((e) => e.hash), backwards.hash]);

    const alarms = await alarmsOf(get, j.device.publicKey);
    expect(alarms.map((a) => [a.kind, a.seq, a.message.split(':')[0]])).toEqual([
      ['JOURNAL_WARNING', silent.seq, 'MISSING_CHECKPOINT'],
      ['JOURNAL_WARNING', backwards.seq, 'TIME_BACKWARDS'],
    ]);
    // The evidence is the verifier's finding, parsed (not a JSON string).
    expect(alarms[1]!.evidence).toMatchObject({ seq: backwards.seq, code: 'TIME_BACKWARDS' });
    for (const a of alarms) expect(a.raisedAt).toBeGreaterThanOrEqual(before);

    const summary = await summaryOf(get, j.device.publicKey);
    expect(summary).toMatchObject({ vault: TEST_VAULT, alarms: 2, lastSeq: backwards.seq, revokedAt: null });
    expect(summary!.lastSeen).toBeGreaterThanOrEqual(before);
    expect(summary!.lastSeen).toBeLessThanOrEqual(after);
  });

  it('lists a fork and a rollback with both entries as evidence, counts them per device, and moves lastSeen on every batch', async () => {
    const original = journal({ deviceSeed: 152, start: 1_700_000_000_000 });
    appendEntries(original, 4);
    const client = await enrolledClient(server, original);
    const firstSync = Date.now();
    await client.syncNow();
    const seenFirst = (await summaryOf(get, original.device.publicKey))!.lastSeen!;
    expect(seenFirst).toBeGreaterThanOrEqual(firstSync);

    const forked = journal({ deviceSeed: 152, start: 1_700_000_500_000 });
    expect((await upload(server, forked, [...forked.store.read()])).body).toMatchObject({ error: { code: 'FORK' } });
    const restored = journal({ deviceSeed: 152, start: 1_700_000_000_000 });
    appendEntries(restored, 2);
    restored.tick();
    restored.store.append({ type: 'test.event', data: { rewritten: true } });
    expect((await upload(server, restored, [...restored.store.read()])).body).toMatchObject({ error: { code: 'ROLLBACK' } });

    const alarms = await alarmsOf(get, original.device.publicKey);
    expect(alarms.map((a) => [a.kind, a.seq])).toEqual([
      ['FORK', 0],
      ['ROLLBACK', 3],
    ]);
    const [fork, rollback] = alarms;
    expect(fork!.evidence).toMatchObject({
      seq: 0,
      held: { hash: [...original.store.read({ from: 0, to: 0 })][0]!.hash },
      offered: { hash: [...forked.store.read({ from: 0, to: 0 })][0]!.hash },
    });
    expect(rollback!.evidence).toMatchObject({
      seq: 3,
      held: { hash: [...original.store.read({ from: 3, to: 3 })][0]!.hash },
      offered: { hash: [...restored.store.read({ from: 3, to: 3 })][0]!.hash },
    });
    expect(await summaryOf(get, original.device.publicKey)).toMatchObject({ alarms: 2, lastSeq: original.store.head()!.seq });

    // A batch that appends nothing (a resend) still says the device was seen.
    await new Promise((r) => setTimeout(r, 5));
    const resent = Date.now();
    expect((await upload(server, original, [...original.store.read()])).status).toBe(200);
    const seenAgain = (await summaryOf(get, original.device.publicKey))!.lastSeen!;
    expect(seenAgain).toBeGreaterThanOrEqual(resent);
    expect(seenAgain).toBeGreaterThan(seenFirst);
  });

  it('keeps one alarm for a fork resent three times, and another for a different entry offered at that seq', async () => {
    const original = journal({ deviceSeed: 153, start: 1_700_000_000_000 });
    appendEntries(original, 2);
    await (await enrolledClient(server, original)).syncNow();
    const forked = journal({ deviceSeed: 153, start: 1_700_000_500_000 });
    for (let i = 0; i < 3; i++)
      expect((await upload(server, forked, [...forked.store.read()])).body).toMatchObject({ error: { code: 'FORK' } });
    const once = await alarmsOf(get, original.device.publicKey);
    expect(once.map((a) => [a.kind, a.seq])).toEqual([['FORK', 0]]);
    expect(once[0]!.evidence).toMatchObject({ offered: { hash: [...forked.store.read({ from: 0, to: 0 })][0]!.hash } });

    const another = journal({ deviceSeed: 153, start: 1_700_000_900_000 });
    expect((await upload(server, another, [...another.store.read()])).body).toMatchObject({ error: { code: 'FORK' } });
    expect((await alarmsOf(get, original.device.publicKey)).map((a) => [a.kind, a.seq])).toEqual([
      ['FORK', 0],
      ['FORK', 0],
    ]);
  });

  it('pages the alarm view: every item exactly once, the last page says none remain', async () => {
    const device = seededSigner(0x6b).publicKey;
    for (let i = 0; i < 7; i++) {
      await server.storage.queries.insertAlarm({
        device,
        kind: 'JOURNAL_WARNING',
        seq: i,
        message: `warning ${i}`,
        evidence: `{"n":${i}}`,
        raisedAt: 1,
      });
    }
    const alarms = await allPages(get, '/v1/reviewer/alarms', 'alarms', 3);
    const mine = alarms.items.map((a) => alarmSchema.parse(a)).filter((a) => a.device === device);
    expect(mine.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(alarms.items.map((a) => alarmSchema.parse(a).id)).size).toBe(alarms.items.length);
    expect(alarms.pages).toBe(Math.ceil(alarms.items.length / 3));
    const last = (await get(`/v1/reviewer/alarms?state=all&limit=200`)) as { alarms: unknown[]; next: string | null };
    expect(last).toMatchObject({ next: null });
    expect(last.alarms).toHaveLength(alarms.items.length);
  });

  it('refuses bad paging parameters with 400 naming the parameter', async () => {
    for (const [query, names] of [
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['state=closed', 'query.state'],
      ['limit=abc', 'query.limit'],
      ['limit=1.5', 'query.limit'],
      ['limit=1&limit=2', 'query.limit'],
      ['after=-1', 'query.after'],
      ['after=1e3', 'query.after'],
      ['after=99999999999999999999', 'query.after'],
      ['page=2', 'query'],
    ] as const) {
      for (const view of ['/v1/reviewer/alarms', '/v1/reviewer/incidents']) {
        const body = (await get(`${view}?${query}`, 400)) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('BAD_REQUEST');
        expect(body.error.message.startsWith(names)).toBe(true);
      }
    }
  });

  it('refuses the alarm view without a valid reviewer session', async () => {
    const none = await fetch(new URL('/v1/reviewer/alarms', server.url));
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: 'SESSION_INVALID' } });
    const forged = await fetch(new URL('/v1/reviewer/alarms', server.url), { headers: { authorization: `Bearer ${'x'.repeat(43)}` } });
    expect(forged.status).toBe(401);
  });
});
