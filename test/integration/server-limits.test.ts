import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { reviewerChallengeMessage } from '../../shared/sync/wire';
import { buildServer } from '../../server/app';
import { startServer, type RunningServer } from '../../server/main';
import { createServerKey, serverSigner } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';
import { appendEntries } from '../support/sync-fixture';
import { SyncClient } from '../../electron/sync/client';
import { hashToken, newToken } from '../../server/tokens';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

interface Answer {
  readonly status: number;
  readonly body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/**
 * A request from a chosen loopback address (all of 127.0.0.0/8 is this host on Linux), so one
 * test can be several clients, or a load balancer and a client that is not one.
 */
function requestFrom(
  address: string,
  baseUrl: string,
  path: string,
  options: { method?: 'GET' | 'POST'; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers = {
    ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, baseUrl),
      { method: options.method ?? 'GET', localAddress: address, agent: false, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          // The export is JSON lines: its first line stands for the body here.
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text.split('\n')[0]!) as Answer['body'] });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One server over a fresh storage of the given kind, built as startServer builds it. */
async function serverOn(
  kind: StorageKind,
  limits: Pick<Parameters<typeof buildServer>[0], 'rateLimit' | 'exportLimit'>,
): Promise<{ app: FastifyInstance; url: string; storage: Storage; close: () => Promise<void> }> {
  const fresh = await freshStorageUrl(kind);
  const storage = await openStorage(fresh.url);
  const app = buildServer({
    storage,
    signer: serverSigner(sodium.crypto_sign_keypair().privateKey, sodium),
    sodium,
    logger: false,
    ...limits,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    url,
    storage,
    close: async () => {
      await app.close();
      await storage.close();
      await fresh.cleanup();
    },
  };
}

const RATE_LIMITED = { error: { code: 'RATE_LIMITED', message: 'too many requests from this address: retry after a pause' } };

describe.each<StorageKind>(['sqlite', 'postgres'])('limits: %s', (kind) => {
  describe('unauthenticated reads, per client address', () => {
    let server: Awaited<ReturnType<typeof serverOn>>;
    beforeAll(async () => {
      server = await serverOn(kind, { rateLimit: { capacity: 2, perSecond: 0.001 } });
    });
    afterAll(async () => {
      await server?.close();
    });

    it.each([
      ['/v1/log/head', 404, '127.0.0.11'],
      ['/v1/log/consistency?from=1&to=2', 404, '127.0.0.12'],
      ['/v1/server-key', 200, '127.0.0.13'],
    ])(
      'GET %s: the third request from one address is 429 RATE_LIMITED, another address is still answered',
      async (path, usual, address) => {
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push(await requestFrom(address, server.url, path));
        expect(answers.map((a) => a.status)).toEqual([usual, usual, 429]);
        expect(answers[2]!.body).toEqual(RATE_LIMITED);
        expect((await requestFrom('127.0.0.14', server.url, path)).status).toBe(usual);
      },
    );
  });

  describe('reviewer routes, per reviewer', () => {
    let server: Awaited<ReturnType<typeof serverOn>>;
    const journals: TestJournal[] = [];
    beforeAll(async () => {
      // Three requests per reviewer (and per address); one export, not refilled during the test.
      server = await serverOn(kind, { rateLimit: { capacity: 3, perSecond: 0.001 }, exportLimit: { capacity: 1, perSecond: 0.001 } });
      // Something to export: one device's journal in the log.
      const j = new TestJournal({ deviceSeed: 0x81 });
      journals.push(j);
      appendEntries(j, 3);
      const token = newToken(sodium);
      await server.storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
      const client = new SyncClient({ db: j.db, journal: j.store, signer: j.device });
      await client.enroll(server.url, token);
      expect((await client.syncNow()).pending).toBe(0);
    });
    afterAll(async () => {
      for (const j of journals) j.close();
      await server?.close();
    });

    /** Signs a reviewer in from its own address (sign-in spends that address's budget, not the reviewer's). */
    async function sessionFor(seed: number, address: string): Promise<string> {
      const reviewer = seededSigner(seed);
      await server.storage.queries.grantReviewer(reviewer.publicKey, `Reviewer ${seed}`, Date.now());
      const { body } = await requestFrom(address, server.url, '/v1/reviewer/challenge', {
        method: 'POST',
        json: { key: reviewer.publicKey },
      });
      const challenge = body.challenge as string;
      const signature = sodium.to_hex(reviewer.sign(reviewerChallengeMessage(challenge, sodium)));
      const session = await requestFrom(address, server.url, '/v1/reviewer/session', {
        method: 'POST',
        json: { key: reviewer.publicKey, challenge, signature },
      });
      expect(session.status).toBe(200);
      return session.body.token as string;
    }

    it('a reviewer’s fourth request is 429 RATE_LIMITED whichever address it comes from; another reviewer is still served', async () => {
      const token = await sessionFor(0x91, '127.0.0.21');
      const auth = { authorization: `Bearer ${token}` };
      const statuses: number[] = [];
      for (const address of ['127.0.0.22', '127.0.0.23', '127.0.0.24', '127.0.0.25'])
        statuses.push((await requestFrom(address, server.url, '/v1/reviewer/devices', { headers: auth })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await requestFrom('127.0.0.26', server.url, '/v1/reviewer/alarms', { headers: auth });
      expect(refused.body).toEqual({
        error: { code: 'RATE_LIMITED', message: 'too many requests from this reviewer: retry after a pause' },
      });
      const other = await sessionFor(0x92, '127.0.0.27');
      expect(
        (await requestFrom('127.0.0.22', server.url, '/v1/reviewer/devices', { headers: { authorization: `Bearer ${other}` } })).status,
      ).toBe(200);
    });

    it('the full export has a budget of its own: the second export is refused while the reviewer’s other views still answer', async () => {
      const auth = { authorization: `Bearer ${await sessionFor(0x93, '127.0.0.31')}` };
      const first = await requestFrom('127.0.0.32', server.url, '/v1/reviewer/export', { headers: auth });
      expect(first.status).toBe(200);
      expect(first.body.kind).toBe('header');
      const second = await requestFrom('127.0.0.33', server.url, '/v1/reviewer/export', { headers: auth });
      expect(second).toEqual({
        status: 429,
        body: { error: { code: 'RATE_LIMITED', message: 'this reviewer has used up the export budget: retry in a minute' } },
      });
      expect((await requestFrom('127.0.0.34', server.url, '/v1/reviewer/incidents', { headers: auth })).status).toBe(200);
    });
  });

  describe('--trust-proxy', () => {
    let server: RunningServer;
    let dir: string;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'halfkey-trust-proxy-'));
      const fresh = await freshStorageUrl(kind);
      cleanup = fresh.cleanup;
      const keyFile = join(dir, 'server.key');
      createServerKey(keyFile, sodium);
      // The real start-up path; 127.0.0.1 plays the load balancer.
      server = await startServer({
        db: fresh.url,
        listen: '127.0.0.1:0',
        keyFile,
        trustProxy: ['127.0.0.1'],
        rateLimit: { capacity: 2, perSecond: 0.001 },
        verifyThreads: 0,
        logger: false,
      });
    });
    afterAll(async () => {
      await server?.close();
      await cleanup?.();
      rmSync(dir, { recursive: true, force: true });
    });

    const head = (from: string, forwardedFor: string): Promise<number> =>
      requestFrom(from, server.url, '/v1/log/head', { headers: { 'x-forwarded-for': forwardedFor } }).then((a) => a.status);

    it('counts the client the trusted balancer names in X-Forwarded-For, so clients behind it do not share one budget', async () => {
      expect([
        await head('127.0.0.1', '203.0.113.1'),
        await head('127.0.0.1', '203.0.113.1'),
        await head('127.0.0.1', '203.0.113.1'),
      ]).toEqual([404, 404, 429]);
      expect(await head('127.0.0.1', '203.0.113.2')).toBe(404);
    });

    it('ignores X-Forwarded-For from any other address: a client cannot pick a fresh budget by naming another address', async () => {
      expect([
        await head('127.0.0.41', '203.0.113.3'),
        await head('127.0.0.41', '203.0.113.4'),
        await head('127.0.0.41', '203.0.113.5'),
      ]).toEqual([404, 404, 429]);
    });
  });
});
