import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../shared/api/result';
import type { BreakGlassSession } from '../../shared/api/channels/break-glass';
import { canonicalize } from '../../shared/journal/canonical';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import { verifyInclusion } from '../../shared/journal/merkle';
import { receiptProblem, treeHeadProblem } from '../../shared/sync/receipt';
import {
  REVIEW_CLOCK_SKEW_MS,
  acknowledgeReviewResponseSchema,
  incidentsResponseSchema,
  reviewAlarmsResponseSchema,
  reviewHash,
  reviewSignatureMessage,
  type Acknowledgement,
  type ReviewBody,
  type SignedReview,
} from '../../shared/sync/review-wire';
import { ServerExportVerifier } from '../../shared/sync/server-export';
import { reviewerChallengeMessage } from '../../shared/sync/wire';
import { sodiumNow, sodiumReady } from '../../shared/sodium';
import { buildServer } from '../../server/app';
import type { NotificationEvent, Notifications } from '../../server/notify/event';
import { serverSigner, type ServerSigner } from '../../server/server-key';
import { startSignaturePool, type SignaturePool } from '../../server/signature-pool';
import { parseSilentAfter, run as serverCli } from '../../server/cli';
import { sweepSilentDevices } from '../../server/silent-devices';
import { openStorage, type Storage } from '../../server/storage/storage';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { verifyServerExportRanges } from '../../electron/sync/export-parallel';
import { verifyServerExportFile } from '../../electron/sync/server-export-file';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { PASSPHRASES, openCustodyFixture, type CustodyFixture } from '../support/custody-fixture';
import { journalsClosedAfterEach, seededSigner } from '../support/journal-builder';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';
import { enrolledClient, issueToken } from '../support/sync-fixture';

// The server's side of the reviewer's loop (docs/sync-protocol.md "Incidents, alarms and reviews"),
// on SQLite and PostgreSQL: a real vault's break-glass ceremony synced to a real server on
// loopback opens an incident, alarms are raised, and a reviewer's signed review acknowledges
// either, logged in the server's Merkle log and verified in the org export.

const INCIDENT = { reference: 'INC-9001', reason: 'SCP locks out every admin role', severity: 'critical' } as const;

/**
 * Where the server announces events: a recording stand-in for the webhook outbox (another
 * component), kept to check what was enqueued, and that it ran inside the transaction.
 */
class RecordedNotifications implements Notifications {
  readonly events: NotificationEvent[] = [];
  async enqueue(tx: unknown, event: NotificationEvent): Promise<void> {
    expect(tx).toBeTruthy();
    this.events.push(event);
  }
}

interface Server {
  readonly url: string;
  readonly storage: Storage;
  readonly signer: ServerSigner;
  readonly notified: RecordedNotifications;
  close(): Promise<void>;
}

/** A real server on loopback as startServer builds it, with a clock tests move, silentAfterMs and the recorder. */
async function startServer(
  kind: StorageKind,
  options: { clock: { t: number }; silentAfterMs?: number; beside?: { dbUrl: string; signer: ServerSigner } },
): Promise<Server & { dbUrl: string }> {
  const sodium = await sodiumReady();
  const fresh = options.beside === undefined ? await freshStorageUrl(kind) : { url: options.beside.dbUrl, cleanup: async () => {} };
  const storage = await openStorage(fresh.url);
  const signer = options.beside?.signer ?? serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
  const checker: SignaturePool = await startSignaturePool(1);
  const notified = new RecordedNotifications();
  const app = buildServer({
    storage,
    signer,
    sodium,
    checker,
    logger: false,
    now: () => options.clock.t,
    notifications: notified,
    rateLimit: { capacity: 10_000, perSecond: 10_000 },
    failedAuthLimit: { capacity: 10_000, perSecond: 10_000 },
    ...(options.silentAfterMs === undefined ? {} : { silentAfterMs: options.silentAfterMs }),
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    dbUrl: fresh.url,
    storage,
    signer,
    notified,
    close: async () => {
      await app.close();
      await checker.close();
      await storage.close();
      await fresh.cleanup();
    },
  };
}

async function call(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL(path, url), {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text.length > 0 && !path.startsWith('/v1/reviewer/export') ? (JSON.parse(text) as Record<string, unknown>) : { text },
  };
}

/** A granted reviewer's bearer token, by challenge and signature (docs/sync-protocol.md, "Reviewers"). */
async function signIn(server: { url: string; storage: Storage }, reviewer: EntrySigner): Promise<string> {
  const sodium = sodiumNow();
  await server.storage.queries.grantReviewer(reviewer.publicKey, 'Rita Reviewer', Date.now());
  const { body } = await call(server.url, 'POST', '/v1/reviewer/challenge', null, { key: reviewer.publicKey });
  const challenge = body.challenge as string;
  const signature = sodium.to_hex(reviewer.sign(reviewerChallengeMessage(challenge, sodium)));
  const session = await call(server.url, 'POST', '/v1/reviewer/session', null, { key: reviewer.publicKey, challenge, signature });
  expect(session.status).toBe(200);
  return session.body.token as string;
}

/** A review signed by `reviewer`, naming their key. */
function signReview(reviewer: EntrySigner, body: Omit<ReviewBody, 'reviewer'> & { reviewer?: string }): SignedReview {
  const review: ReviewBody = { ...body, reviewer: reviewer.publicKey };
  return { review, signature: sodiumNow().to_hex(reviewer.sign(reviewSignatureMessage(review))) };
}

/** The acknowledgement's receipt proves reviewHash at its log index under a tree head the server signed. */
function ackReceiptProblem(ack: Acknowledgement, serverKey: string): string | null {
  const sodium = sodiumNow();
  const head = treeHeadProblem(ack.receipt.treeHead, serverKey, sodium);
  if (head !== null) return head;
  if (ack.hash !== reviewHash(ack.review, sodium)) return 'hash is not the review hash';
  return verifyInclusion(
    ack.receipt.logIndex,
    ack.receipt.treeHead.size,
    sodium.from_hex(ack.hash),
    ack.receipt.inclusionProof.map((h) => sodium.from_hex(h)),
    sodium.from_hex(ack.receipt.treeHead.root),
    sodium,
  )
    ? null
    : 'inclusion proof does not lead to the root';
}

function verifyExport(text: string, serverKey: string) {
  const verifier = new ServerExportVerifier(serverKey);
  for (const line of text.replace(/\n$/, '').split('\n')) verifier.pushLine(line);
  return verifier.finish();
}

const KINDS: readonly StorageKind[] = ['sqlite', 'postgres'];

/**
 * Runs the two calls as two server processes would: at once on PostgreSQL; one after the other
 * on SQLite, whose two connections here share one thread (a file lock held across an await
 * would block it; separate processes wait on the lock instead).
 */
async function both<A, B>(kind: StorageKind, a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> {
  if (kind === 'postgres') return Promise.all([a(), b()]);
  const first = await a();
  return [first, await b()];
}

describe.each(KINDS)('a real break-glass ceremony synced to the server (%s)', (kind) => {
  let f: CustodyFixture;
  let services: AppServices;
  let router: ApiRouter;
  let server: Server;
  const clock = { t: Date.now() };

  async function value<T = Record<string, unknown>>(channel: string, payload: unknown): Promise<T> {
    const result = (await router.call(channel, payload, { adapter: 'test' })) as ApiResult<T>;
    if (!result.ok) throw new Error(`${channel} failed: ${result.error.code} ${result.error.message}`);
    return result.value;
  }
  const as = async (name: 'pat' | 'mia') => {
    await value('custodian:unlock', { custodianId: f.ids[name], passphrase: PASSPHRASES[name] });
  };
  const journal = (): SignedEntry[] => services.vault.current()?.journal.query({}) ?? [];

  beforeAll(async () => {
    f = await openCustodyFixture({ only: ['pat', 'mia'] });
    const accounts = [await f.fullAccount(), await f.fullAccount()];
    await f.custody.close();
    f.vault.close();
    services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
    router = createRouter(createHandlerTable(services));
    server = await startServer(kind, { clock });
    // The ceremony, with the server out of reach: two people, each for their own half.
    await as('pat');
    const opened = await value<BreakGlassSession>('break-glass:open', { by: f.ids.pat, accountId: accounts[0], incident: INCIDENT });
    await value('break-glass:use-password', { by: f.ids.pat, sessionId: opened.sessionId, seconds: 30 });
    await as('mia');
    await value('break-glass:use-mfa', { by: f.ids.mia, sessionId: opened.sessionId });
    await value('break-glass:close', { by: f.ids.mia, sessionId: opened.sessionId, outcome: 'resolved', note: 'role created, SCP fixed' });
    // Ordinary checkouts of the other account, both halves at once.
    await as('pat');
    await value('custody:checkout', { by: f.ids.pat, accountId: accounts[1], item: 'password', reason: 'audit', leaseSeconds: 60 });
    await as('mia');
    await value('custody:checkout', { by: f.ids.mia, accountId: accounts[1], item: 'mfa', reason: 'audit', leaseSeconds: 60 });
    // Then the network comes back: enrol and sync.
    await value('sync:enrol', { url: server.url, token: await issueToken(server as never) });
    await value('sync:now', {});
  }, 300_000);

  afterAll(async () => {
    await services?.close();
    await f?.close();
    await server?.close();
  });

  it('opens one incident for the session with every entry of it, each with a receipt under the view head, and announces it once', async () => {
    const rita = seededSigner(0x5a);
    const token = await signIn(server, rita);
    const res = await call(server.url, 'GET', '/v1/reviewer/incidents', token);
    expect(res.status).toBe(200);
    const view = incidentsResponseSchema.parse(res.body);
    expect(view.incidents).toHaveLength(1);
    const incident = view.incidents[0]!;
    const session = journal().filter((e) => e.type.startsWith('break-glass.') || e.data.breakGlass === true);
    expect(incident).toMatchObject({
      id: session[0]!.hash,
      session: session[0]!.data.session,
      reference: INCIDENT.reference,
      reason: INCIDENT.reason,
      severity: INCIDENT.severity,
      outcome: 'resolved',
      state: 'open',
      acknowledgement: null,
    });
    // Every entry of the session: opened, both checkouts, both steps, closed; nothing else.
    expect(incident.entries.map((e) => e.entry.hash)).toEqual(session.map((e) => e.hash));
    expect(incident.entries.map((e) => e.entry.type)).toEqual(
      expect.arrayContaining([
        'break-glass.opened',
        'checkout.opened',
        'break-glass.password-used',
        'break-glass.mfa-used',
        'break-glass.closed',
      ]),
    );
    const heads = new Set<string>();
    for (const { receipt } of incident.entries) {
      expect(receipt.treeHead).toEqual(view.treeHead);
      expect(receiptProblem(receipt, server.signer.publicKey, sodiumNow(), heads)).toBeNull();
    }
    expect(server.notified.events.filter((e) => e.kind === 'incident.opened')).toEqual([
      expect.objectContaining({ subject: incident.id, detail: expect.objectContaining({ reference: INCIDENT.reference }) }),
    ]);
  });

  it('raises BOTH_HALVES_OUT from ordinary checkouts (and from the ceremony), with the custody entry and both checkouts as evidence', async () => {
    const token = await signIn(server, seededSigner(0x5a));
    const view = reviewAlarmsResponseSchema.parse((await call(server.url, 'GET', '/v1/reviewer/alarms?state=all', token)).body);
    const both = view.alarms.filter((a) => a.kind === 'BOTH_HALVES_OUT');
    const records = journal().filter((e) => e.type === 'custody.both-halves-out');
    expect(records).toHaveLength(2);
    expect(both.map((a) => a.seq)).toEqual(records.map((r) => r.seq));
    const ordinary = both[1]!;
    const named = records[1]!.data as { password: { checkout: string }; mfa: { checkout: string } };
    expect(ordinary.entries.map((e) => e.entry.type)).toEqual(['checkout.opened', 'checkout.opened', 'custody.both-halves-out']);
    expect(
      ordinary.entries
        .map((e) => (e.entry.data as { checkout?: string }).checkout)
        .slice(0, 2)
        .sort(),
    ).toEqual([named.password.checkout, named.mfa.checkout].sort());
    for (const { receipt } of ordinary.entries) expect(receiptProblem(receipt, server.signer.publicKey)).toBeNull();
    expect(server.notified.events.filter((e) => e.kind === 'alarm.raised' && both.some((a) => a.id === e.subject))).toHaveLength(2);
  });

  it("refuses the reviewer's own break-glass: a reviewer key that maps to a custodian who acted in the incident", async () => {
    const incidents = incidentsResponseSchema.parse(
      (await call(server.url, 'GET', '/v1/reviewer/incidents', await signIn(server, seededSigner(0x5a)))).body,
    );
    const incident = incidents.incidents[0]!;
    // Pat's vault names this key as Pat's (an enrolment roster does): Pat acted in the incident.
    const patAsReviewer = seededSigner(0x5b);
    await server.storage.queries.insertCustodianKeys([
      { vault: incident.vault, signingKey: patAsReviewer.publicKey, custodian: f.ids.pat, role: 'password-custodian', source: 'enrolment' },
    ]);
    const token = await signIn(server, patAsReviewer);
    const review = signReview(patAsReviewer, {
      subject: { kind: 'incident', id: incident.id },
      finding: 'authorised',
      rotationDone: false,
      text: 'mine',
      time: clock.t,
    });
    const refused = await call(server.url, 'POST', '/v1/reviewer/acknowledge', token, review);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'OWN_INCIDENT', message: expect.stringMatching(/another reviewer/) } });
  });

  it('acknowledges the incident with a signed review logged in the Merkle log; the export verifies with the review in it', async () => {
    const rita = seededSigner(0x5a);
    const token = await signIn(server, rita);
    const incident = incidentsResponseSchema.parse((await call(server.url, 'GET', '/v1/reviewer/incidents', token)).body).incidents[0]!;
    const before = (await server.storage.queries.latestTreeHead())!.size;
    const review = signReview(rita, {
      subject: { kind: 'incident', id: incident.id },
      finding: 'authorised',
      rotationDone: true,
      text: 'INC-9001 confirmed with the on-call lead.\nBoth halves rotated.',
      time: clock.t,
    });
    const res = await call(server.url, 'POST', '/v1/reviewer/acknowledge', token, review);
    expect(res.status).toBe(200);
    const answer = acknowledgeReviewResponseSchema.parse(res.body);
    expect(answer.already).toBe(false);
    expect(answer.acknowledgement).toMatchObject({ review, logIndex: before, hash: reviewHash(review) });
    expect(ackReceiptProblem(answer.acknowledgement, server.signer.publicKey)).toBeNull();
    expect(server.notified.events.filter((e) => e.kind === 'incident.acknowledged')).toEqual([
      expect.objectContaining({ subject: incident.id, detail: expect.objectContaining({ finding: 'authorised' }) }),
    ]);
    // It is closed now: not in the open view, acknowledged in the full one, its receipt under the view's head.
    expect(incidentsResponseSchema.parse((await call(server.url, 'GET', '/v1/reviewer/incidents', token)).body).incidents).toEqual([]);
    const all = incidentsResponseSchema.parse((await call(server.url, 'GET', '/v1/reviewer/incidents?state=all', token)).body);
    expect(all.incidents[0]).toMatchObject({ state: 'acknowledged', acknowledgement: { review, logIndex: before } });
    expect(ackReceiptProblem(all.incidents[0]!.acknowledgement!, server.signer.publicKey)).toBeNull();

    const exported = (await call(server.url, 'GET', '/v1/reviewer/export', token)).body.text as string;
    const lines = exported.trim().split('\n');
    const reviewLine = lines.find((l) => l.startsWith('{"kind":"review"'));
    expect(reviewLine).toBeDefined();
    expect(JSON.parse(reviewLine!)).toMatchObject({ review: review.review, signature: review.signature, receipt: { logIndex: before } });
    const report = verifyExport(exported, server.signer.publicKey);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(lines.length - 1);
    expect(report.reviews).toEqual([
      {
        line: lines.indexOf(reviewLine!) + 1,
        logIndex: before,
        subject: review.review.subject,
        reviewer: rita.publicKey,
        finding: 'authorised',
        ok: true,
      },
    ]);
    // On worker threads: ranges leave a file with a review line to the split (the log, reviews
    // included, on the reading thread), which reports exactly what one thread does.
    const file = join(tmpdir(), `halfkey-review-export-${process.pid}.jsonl`);
    writeFileSync(file, exported);
    try {
      const key = server.signer.publicKey;
      expect(await verifyServerExportRanges(file, key, 2, 1_000)).toBe('review');
      const one = await verifyServerExportFile(file, key, { workers: 0 });
      expect(one.ok).toBe(true);
      expect(await verifyServerExportFile(file, key, { workers: 2, splitMinBytes: 0, rangeBytes: 1_000 })).toEqual(one);
    } finally {
      rmSync(file, { force: true });
    }
    // A tampered review line fails: another finding under the same signature.
    const tampered = exported.replace(
      reviewLine!,
      canonicalize({ ...JSON.parse(reviewLine!), review: { ...review.review, finding: 'false-alarm' } }),
    );
    const bad = verifyExport(tampered, server.signer.publicKey);
    expect(bad.ok).toBe(false);
    expect(bad.failures.map((x) => x.code)).toContain('BAD_REVIEW');
    expect(bad.reviews[0]).toMatchObject({ finding: 'false-alarm', ok: false });
  });
});

describe.each(KINDS)('signed reviews and alarms (%s)', (kind) => {
  const clock = { t: Date.now() };
  const SILENT = 60 * 60_000;
  let server: Server & { dbUrl: string };
  const journal = journalsClosedAfterEach();

  beforeAll(async () => {
    server = await startServer(kind, { clock, silentAfterMs: SILENT });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A device that syncs a break-glass session signed by custodian `actor` (seed byte), returning the incident id. */
  async function syncedIncident(deviceSeed: number, actorSeed: number): Promise<{ id: string; device: string }> {
    const j = journal({ deviceSeed, start: clock.t - 60_000 });
    const actor = j.enrol(`c${actorSeed}`, actorSeed, { role: 'admin' });
    j.enrol(`d${actorSeed}`, actorSeed + 1);
    j.tick();
    const opened = j.store.append({
      type: 'break-glass.opened',
      actor,
      account: 'prod',
      data: { session: `s-${deviceSeed}`, ...INCIDENT },
    });
    j.tick();
    j.store.append({ type: 'break-glass.closed', actor, account: 'prod', data: { session: `s-${deviceSeed}`, outcome: 'aborted' } });
    const client = await enrolledClient(server as never, j, { now: () => clock.t });
    await client.syncNow();
    return { id: opened.hash, device: j.device.publicKey };
  }

  it('checks a review: schema, signature, reviewer, clock, subject; refuses the reviewer who signed in it; the first acknowledgement wins', async () => {
    const rita = seededSigner(0x71);
    const ron = seededSigner(0x72);
    const token = await signIn(server, rita);
    const ronToken = await signIn(server, ron);
    const { id } = await syncedIncident(0x41, 0x30);
    const subject = { kind: 'incident' as const, id };
    const good = signReview(rita, { subject, finding: 'unauthorised', rotationDone: false, text: 'no ticket', time: clock.t });
    const ack = (body: unknown, t = token) => call(server.url, 'POST', '/v1/reviewer/acknowledge', t, body);

    // Bad signature: the body changed after signing.
    expect(await ack({ ...good, review: { ...good.review, finding: 'authorised' } })).toMatchObject({
      status: 400,
      body: { error: { code: 'REVIEW_INVALID' } },
    });
    // Signed by Rita but sent in Ron's session.
    expect(await ack(good, ronToken)).toMatchObject({ status: 403, body: { error: { code: 'WRONG_REVIEWER' } } });
    // Too far from the server's clock, either way.
    for (const time of [clock.t - REVIEW_CLOCK_SKEW_MS - 1, clock.t + REVIEW_CLOCK_SKEW_MS + 1])
      expect(await ack(signReview(rita, { ...good.review, time }))).toMatchObject({
        status: 400,
        body: { error: { code: 'REVIEW_STALE' } },
      });
    // No such incident or alarm.
    expect(await ack(signReview(rita, { ...good.review, subject: { kind: 'incident', id: 'e'.repeat(64) } }))).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    expect(await ack(signReview(rita, { ...good.review, subject: { kind: 'alarm', id: '999999' } }))).toMatchObject({ status: 404 });
    // The reviewer's own break-glass: their key signed an entry of it.
    const own = await syncedIncident(0x42, 0x73);
    const self = seededSigner(0x73);
    const selfToken = await signIn(server, self);
    expect(await ack(signReview(self, { ...good.review, subject: { kind: 'incident', id: own.id } }), selfToken)).toMatchObject({
      status: 403,
      body: { error: { code: 'OWN_INCIDENT' } },
    });

    const size = (await server.storage.queries.latestTreeHead())!.size;
    const first = await ack(good);
    expect(first.status).toBe(200);
    const firstAck = acknowledgeReviewResponseSchema.parse(first.body);
    expect(firstAck).toMatchObject({ already: false, acknowledgement: { logIndex: size } });
    expect(ackReceiptProblem(firstAck.acknowledgement, server.signer.publicKey)).toBeNull();
    // A second acknowledgement, by another reviewer, answers the first; nothing more is logged.
    const second = await ack(signReview(ron, { ...good.review, finding: 'authorised', time: clock.t + 1 }), ronToken);
    const secondAck = acknowledgeReviewResponseSchema.parse(second.body);
    expect(secondAck.already).toBe(true);
    expect(secondAck.acknowledgement.review).toEqual(good);
    expect(ackReceiptProblem(secondAck.acknowledgement, server.signer.publicKey)).toBeNull();
    expect((await server.storage.queries.latestTreeHead())!.size).toBe(size + 1);
    // The log serves the review's leaf data like an entry's.
    expect((await server.storage.queries.entryHashesAt([size])).get(size)).toBe(reviewHash(good));
  });

  it('acknowledges concurrently from two server processes on one database: one review stored, both answer it', async () => {
    const { id } = await syncedIncident(0x43, 0x34);
    const other = await startServer(kind, { clock, beside: { dbUrl: server.dbUrl, signer: server.signer } });
    try {
      const rita = seededSigner(0x71);
      const ron = seededSigner(0x72);
      const [ritaToken, ronToken] = [await signIn(server, rita), await signIn(other, ron)];
      const [a, b] = await both(
        kind,
        () =>
          call(
            server.url,
            'POST',
            '/v1/reviewer/acknowledge',
            ritaToken,
            signReview(rita, { subject: { kind: 'incident', id }, finding: 'authorised', rotationDone: true, text: '', time: clock.t }),
          ),
        () =>
          call(
            other.url,
            'POST',
            '/v1/reviewer/acknowledge',
            ronToken,
            signReview(ron, { subject: { kind: 'incident', id }, finding: 'inconclusive', rotationDone: true, text: '', time: clock.t }),
          ),
      );
      const answers = [a, b].map((r) => acknowledgeReviewResponseSchema.parse(r.body));
      expect(answers.map((x) => x.already).sort()).toEqual([false, true]);
      expect(answers[0]!.acknowledgement.hash).toBe(answers[1]!.acknowledgement.hash);
      expect(await server.storage.queries.reviewOf('incident', id)).toMatchObject({ hash: answers[0]!.acknowledgement.hash });
    } finally {
      await other.close();
    }
  });

  it('raises one DEVICE_SILENT alarm per silence, however many sweeps and processes, and acknowledges it', async () => {
    const j = journal({ deviceSeed: 0x44, start: clock.t });
    j.store.append({ type: 'test.event', data: {} });
    const client = await enrolledClient(server as never, j, { now: () => clock.t });
    await client.syncNow();
    const device = j.device.publicKey;
    const silentAlarms = async () => (await server.storage.queries.listAlarms(device)).filter((a) => a.kind === 'DEVICE_SILENT');
    // Not silent yet.
    clock.t += SILENT - 1;
    expect(await sweepSilentDevices(server.storage, server.notified, SILENT, clock.t)).toEqual([]);
    expect(await silentAlarms()).toEqual([]);
    clock.t += 2;
    const other = await startServer(kind, { clock, beside: { dbUrl: server.dbUrl, signer: server.signer } });
    try {
      // Two processes sweep at once, then again: one alarm.
      await both(
        kind,
        () => sweepSilentDevices(server.storage, server.notified, SILENT, clock.t),
        () => sweepSilentDevices(other.storage, other.notified, SILENT, clock.t),
      );
      await sweepSilentDevices(server.storage, server.notified, SILENT, clock.t + 1000);
      const rita = seededSigner(0x71);
      const token = await signIn(server, rita);
      // The reviewer's view sweeps too, and still shows one.
      const view = reviewAlarmsResponseSchema.parse((await call(server.url, 'GET', '/v1/reviewer/alarms', token)).body);
      const mine = view.alarms.filter((a) => a.device === device && a.kind === 'DEVICE_SILENT');
      expect(mine).toHaveLength(1);
      expect(await silentAlarms()).toHaveLength(1);
      const announced = [...server.notified.events, ...other.notified.events].filter(
        (e) => e.kind === 'alarm.raised' && e.device === device,
      );
      expect(announced).toHaveLength(1);
      // Acknowledged like an incident.
      const ack = await call(
        server.url,
        'POST',
        '/v1/reviewer/acknowledge',
        token,
        signReview(rita, {
          subject: { kind: 'alarm', id: mine[0]!.id },
          finding: 'false-alarm',
          rotationDone: false,
          text: 'laptop in repair',
          time: clock.t,
        }),
      );
      expect(ack.status).toBe(200);
      expect(server.notified.events.filter((e) => e.kind === 'alarm.acknowledged' && e.subject === mine[0]!.id)).toHaveLength(1);
      const open = reviewAlarmsResponseSchema.parse((await call(server.url, 'GET', '/v1/reviewer/alarms', token)).body);
      expect(open.alarms.some((a) => a.id === mine[0]!.id)).toBe(false);
      // The device syncs again and falls silent again: a new period, a new alarm.
      j.tick(SILENT * 2);
      j.store.append({ type: 'test.event', data: {} });
      await client.syncNow();
      clock.t += SILENT + 1;
      await sweepSilentDevices(other.storage, other.notified, SILENT, clock.t);
      expect(await silentAlarms()).toHaveLength(2);
    } finally {
      await other.close();
    }
  });

  it('answers bad input with 4xx, never 500: garbage, deep and oversized bodies, bad queries', async () => {
    const rita = seededSigner(0x71);
    const token = await signIn(server, rita);
    const post = (body: string) => call(server.url, 'POST', '/v1/reviewer/acknowledge', token, body);
    const statuses = [
      (await post('not json')).status,
      (await post('{}')).status,
      (await post('[]')).status,
      (await post('null')).status,
      (await post(`${'['.repeat(5000)}${']'.repeat(5000)}`)).status,
      (await post(JSON.stringify({ review: { x: 'y'.repeat(70_000) }, signature: 'a' }))).status,
      (
        await post(
          JSON.stringify({
            ...signReview(rita, {
              subject: { kind: 'incident', id: 'A'.repeat(64) },
              finding: 'authorised',
              rotationDone: true,
              text: '',
              time: clock.t,
            }),
          }),
        )
      ).status,
      (
        await post(
          JSON.stringify(
            signReview(rita, { subject: { kind: 'alarm', id: '0' }, finding: 'authorised', rotationDone: true, text: '', time: clock.t }),
          ),
        )
      ).status,
      (
        await post(
          JSON.stringify(
            signReview(rita, {
              subject: { kind: 'incident', id: 'a'.repeat(64) },
              finding: 'authorised',
              rotationDone: true,
              text: 'x'.repeat(4001),
              time: clock.t,
            }),
          ),
        )
      ).status,
      (
        await post(
          JSON.stringify(
            signReview(rita, {
              subject: { kind: 'incident', id: 'a'.repeat(64) },
              finding: 'authorised',
              rotationDone: true,
              text: 'bell\u0007',
              time: clock.t,
            }),
          ),
        )
      ).status,
      (
        await post(
          JSON.stringify({
            ...signReview(rita, {
              subject: { kind: 'incident', id: 'a'.repeat(64) },
              finding: 'authorised',
              rotationDone: true,
              text: '',
              time: clock.t,
            }),
            extra: 1,
          }),
        )
      ).status,
    ];
    for (const path of [
      '/v1/reviewer/incidents?state=closed',
      '/v1/reviewer/incidents?limit=0',
      '/v1/reviewer/incidents?limit=201',
      '/v1/reviewer/incidents?after=-1',
      '/v1/reviewer/incidents?after=abc',
      '/v1/reviewer/incidents?after=1&after=2',
      '/v1/reviewer/incidents?x=1',
      `/v1/reviewer/alarms?after=${'9'.repeat(40)}`,
      '/v1/reviewer/alarms?limit=1e2',
      '/v1/reviewer/alarms?state[]=open',
    ])
      statuses.push((await call(server.url, 'GET', path, token)).status);
    for (const s of statuses) {
      expect(s).toBeGreaterThanOrEqual(400);
      expect(s).toBeLessThan(500);
    }
    // Without a session: refused before anything is read.
    expect((await call(server.url, 'POST', '/v1/reviewer/acknowledge', null, '{}')).status).toBe(401);
    expect((await call(server.url, 'GET', '/v1/reviewer/incidents', 'nope')).status).toBe(401);
  });

  it('pages the incident and alarm views: every item once, `next` null on the last page', async () => {
    const token = await signIn(server, seededSigner(0x71));
    for (const [path, key] of [
      ['/v1/reviewer/incidents?state=all', 'incidents'],
      ['/v1/reviewer/alarms?state=all', 'alarms'],
    ] as const) {
      const all = (await call(server.url, 'GET', `${path}&limit=200`, token)).body[key] as { id: string }[];
      expect(all.length).toBeGreaterThan(1);
      const seen: string[] = [];
      let next: string | null = null;
      do {
        const page = (await call(server.url, 'GET', `${path}&limit=1${next === null ? '' : `&after=${next}`}`, token)).body;
        seen.push(...(page[key] as { id: string }[]).map((i) => i.id));
        next = page.next as string | null;
      } while (next !== null);
      expect(seen).toEqual(all.map((i) => i.id));
    }
  });
});

describe('halfkey server serve --silent-after', () => {
  it('takes whole minutes, hours or days from 5m to 365d and refuses anything else with a clear message (exit 2, nothing started)', async () => {
    expect([parseSilentAfter('5m'), parseSilentAfter('36h'), parseSilentAfter('365d')]).toEqual([300_000, 129_600_000, 31_536_000_000]);
    for (const bad of ['4m', '366d', '36', '1.5h', '-1h', '10s', '', '1h ', '9999999d']) {
      const err: string[] = [];
      const db = join(tmpdir(), `halfkey-silent-after-${process.pid}.db`);
      const code = await serverCli(['--db', `sqlite:${db}`, `--silent-after=${bad}`], {
        stdout: () => {},
        stderr: (t) => err.push(t),
      });
      expect(code).toBe(2);
      expect(err.join('')).toMatch(/--silent-after must be whole minutes, hours or days from 5m to 365d/);
      expect(existsSync(db)).toBe(false);
    }
  });
});
