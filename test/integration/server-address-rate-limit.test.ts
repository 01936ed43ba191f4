import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { reviewerChallengeMessage } from '../../shared/sync/wire';
import { TEST_VAULT, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { enrolment, grantReviewer, issueToken } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/**
 * POSTs JSON from a chosen loopback address (all of 127.0.0.0/8 is this host on Linux), so one
 * test can be several clients: per-address limits key on the address the server sees.
 */
function postFrom(
  address: string,
  baseUrl: string,
  path: string,
  json: unknown,
): Promise<{ status: number; body: { error?: { code: string } } & Record<string, unknown> }> {
  const body = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, baseUrl),
      {
        method: 'POST',
        localAddress: address,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code: string } },
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A well-formed token the server never issued. */
const unknownToken = (i: number): string => `unknown-token-${i}`.padEnd(24, 'x');

describe.each<StorageKind>(['sqlite', 'postgres'])('per-address rate limit on the unauthenticated endpoints: %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    // A burst of three per address, refilled so slowly that it does not refill during the test.
    server = await startTestServer(kind, { rateLimit: { capacity: 3, perSecond: 0.001 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('POST /v1/enrol: an address that spent its budget is refused before its token is looked at; another address is not', async () => {
    for (let i = 0; i < 3; i++) {
      const guess = await postFrom('127.0.0.2', server.url, '/v1/enrol', enrolment(unknownToken(i), TEST_VAULT, seededSigner(170)));
      expect(guess.body.error?.code).toBe('TOKEN_INVALID');
    }
    const token = await issueToken(server);
    const signer = seededSigner(171);
    const device = signer.publicKey;
    const limited = await postFrom('127.0.0.2', server.url, '/v1/enrol', enrolment(token, TEST_VAULT, signer));
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: { code: 'RATE_LIMITED', message: 'too many requests from this address: retry after a pause' } });
    // The refused request used nothing up: the same token still enrols, from another address.
    expect(await server.storage.queries.getDevice(device)).toBeNull();
    const elsewhere = await postFrom('127.0.0.3', server.url, '/v1/enrol', enrolment(token, TEST_VAULT, signer));
    expect(elsewhere.status).toBe(200);
    expect((await server.storage.queries.getDevice(device))?.vault).toBe(TEST_VAULT);
  });

  it('reviewer sign-in: challenge and session spend one budget per address, and a refused session leaves its challenge unused', async () => {
    const rita = seededSigner(0x72);
    await grantReviewer(server, rita.publicKey);
    const sign = (challenge: string): string => sodium.to_hex(rita.sign(reviewerChallengeMessage(challenge, sodium)));
    const first = await postFrom('127.0.0.4', server.url, '/v1/reviewer/challenge', { key: rita.publicKey });
    const second = await postFrom('127.0.0.4', server.url, '/v1/reviewer/challenge', { key: rita.publicKey });
    expect([first.status, second.status]).toEqual([200, 200]);
    const [c1, c2] = [first.body.challenge as string, second.body.challenge as string];
    const session = await postFrom('127.0.0.4', server.url, '/v1/reviewer/session', {
      key: rita.publicKey,
      challenge: c2,
      signature: sign(c2),
    });
    expect(session.status).toBe(200);
    // The fourth request from this address, whichever sign-in endpoint it goes to.
    const challenge = await postFrom('127.0.0.4', server.url, '/v1/reviewer/challenge', { key: rita.publicKey });
    expect(challenge.status).toBe(429);
    expect(challenge.body.error?.code).toBe('RATE_LIMITED');
    const refused = await postFrom('127.0.0.4', server.url, '/v1/reviewer/session', {
      key: rita.publicKey,
      challenge: c1,
      signature: sign(c1),
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe('RATE_LIMITED');
    // From another address the same challenge still opens a session.
    const elsewhere = await postFrom('127.0.0.5', server.url, '/v1/reviewer/session', {
      key: rita.publicKey,
      challenge: c1,
      signature: sign(c1),
    });
    expect(elsewhere.status).toBe(200);
    expect(typeof elsewhere.body.token).toBe('string');
  });
});
