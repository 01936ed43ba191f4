import http from 'node:http';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Signer, type EntrySigner } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { SIGNED_HEADERS, reviewerChallengeMessage, signedRequestHeaders } from '../../shared/sync/wire';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, grantReviewer } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

type Answer = { status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> };

/** Sends a request from a chosen loopback address (all of 127.0.0.0/8 is this host on Linux): per-address budgets key on it. */
function requestFrom(
  address: string,
  baseUrl: string,
  request: { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: Uint8Array },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = {
      ...request.headers,
      ...(request.body ? { 'content-type': 'application/json', 'content-length': String(request.body.byteLength) } : {}),
    };
    let answered = false;
    const req = http.request(
      new URL(request.path, baseUrl),
      { method: request.method, localAddress: address, agent: false, headers },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer['body'] }),
        );
      },
    );
    // The server may answer before it has read a large body, and close: the answer already arrived.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    req.end(request.body);
  });
}

const FAILING = {
  status: 429,
  body: { error: { code: 'RATE_LIMITED', message: 'too many failed authentications from this address: retry after a pause' } },
};
const PER_SECOND = 0.05; // one failure refilled every 20 s of the server's clock

describe.each<StorageKind>(['sqlite', 'postgres'])('failed-authentication budget per client address: %s', (kind) => {
  let server: TestServer;
  let clock: number;
  const journals: TestJournal[] = [];
  let j: TestJournal;
  beforeAll(async () => {
    clock = Date.now();
    server = await startTestServer(kind, { failedAuthLimit: { capacity: 3, perSecond: PER_SECOND }, now: () => clock });
    j = new TestJournal({ deviceSeed: 0x61 });
    journals.push(j);
    appendEntries(j, 2);
    await enrolledClient(server, j);
  });
  afterEach(async () => {
    // The server keeps serving whatever was refused.
    expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
  });
  afterAll(async () => {
    for (const x of journals) x.close();
    await server?.close();
  });

  const headPath = (): string => `/v1/devices/${j.device.publicKey}/head`;
  const honestHead = (address: string): Promise<Answer> =>
    requestFrom(address, server.url, {
      method: 'GET',
      path: headPath(),
      headers: signedRequestHeaders(
        {
          method: 'GET',
          path: headPath(),
          body: new Uint8Array(0),
          timestamp: Date.now(),
          nonce: sodium.to_hex(sodium.randombytes_buf(16)),
        },
        j.device,
        sodium,
      ),
    });
  /** A 1 MB batch claiming to be the enrolled device, signed by another key. */
  const forged = (address: string, forger: EntrySigner): Promise<Answer> => {
    const path = `/v1/devices/${j.device.publicKey}/entries`;
    const body = new TextEncoder().encode(JSON.stringify({ entries: [{ pad: 'x'.repeat(1024 * 1024) }] }));
    const headers = {
      ...signedRequestHeaders(
        { method: 'POST', path, body, timestamp: Date.now(), nonce: sodium.to_hex(sodium.randombytes_buf(16)) },
        forger,
        sodium,
      ),
      [SIGNED_HEADERS.device]: j.device.publicKey,
    };
    return requestFrom(address, server.url, { method: 'POST', path, headers, body });
  };

  it('honest requests never spend it: an address whose requests authenticate is not limited', async () => {
    for (let i = 0; i < 8; i++) expect((await honestHead('127.0.0.9')).status).toBe(200);
  });

  it('a flood of forged device requests from one address is refused 429 once the budget is spent; other addresses are unaffected; an honest device behind the same address waits for the refill', async () => {
    const forger = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) codes.push((await forged('127.0.0.6', forger)).body.error?.code ?? 'OK');
    expect(codes).toEqual([...Array<string>(3).fill('BAD_REQUEST_SIGNATURE'), ...Array<string>(5).fill('RATE_LIMITED')]);
    expect(await forged('127.0.0.6', forger)).toEqual(FAILING);

    // Another address (another client) is served as before, and the device itself was never charged.
    expect((await honestHead('127.0.0.7')).status).toBe(200);
    // Behind the attacker's address (one NAT) the honest device is refused too: nothing cheap tells it apart.
    expect(await honestHead('127.0.0.6')).toEqual(FAILING);
    clock += 1000 / PER_SECOND;
    expect((await honestHead('127.0.0.6')).status).toBe(200);
  });

  it('the refusal comes before the body is read: a refused address gets its 429 with most of a 3 MB body still unsent', async () => {
    const forger = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    for (let i = 0; i < 4; i++) await forged('127.0.0.10', forger);
    const { port } = new URL(server.url);
    const path = `/v1/devices/${j.device.publicKey}/entries`;
    const headers = signedRequestHeaders(
      { method: 'POST', path, body: new Uint8Array(0), timestamp: Date.now(), nonce: 'ef'.repeat(16) },
      forger,
      sodium,
    );
    const head = [
      `POST ${path} HTTP/1.1`,
      'Host: x',
      'Content-Type: application/json',
      'Content-Length: 3000000',
      ...Object.entries({ ...headers, [SIGNED_HEADERS.device]: j.device.publicKey }).map(([k, v]) => `${k}: ${v}`),
    ].join('\r\n');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.10' }, () =>
        socket.write(`${head}\r\n\r\n{"entries":[`),
      );
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer while the body was unsent; got: ${text}`));
      }, 3_000);
      socket.on('data', (c: Buffer) => {
        text += c.toString('utf8');
        if (text.includes('"RATE_LIMITED"') && text.trimEnd().endsWith('}}')) {
          clearTimeout(timer);
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 429 /);
    expect(answer).toContain('too many failed authentications from this address');
  });

  it('forged reviewer bearer tokens spend the same budget; a reviewer from another address still signs in and reads', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await requestFrom('127.0.0.11', server.url, {
        method: 'GET',
        path: '/v1/reviewer/devices',
        headers: { authorization: `Bearer forged-${i}` },
      });
      codes.push(answer.body.error?.code ?? 'OK');
    }
    expect(codes).toEqual(['SESSION_INVALID', 'SESSION_INVALID', 'SESSION_INVALID', 'RATE_LIMITED', 'RATE_LIMITED']);

    const rita = seededSigner(0x73);
    await grantReviewer(server, rita.publicKey);
    const challenge = await requestFrom('127.0.0.12', server.url, {
      method: 'POST',
      path: '/v1/reviewer/challenge',
      body: new TextEncoder().encode(JSON.stringify({ key: rita.publicKey })),
    });
    const c = challenge.body.challenge as string;
    const signature = sodium.to_hex(rita.sign(reviewerChallengeMessage(c, sodium)));
    const session = await requestFrom('127.0.0.12', server.url, {
      method: 'POST',
      path: '/v1/reviewer/session',
      body: new TextEncoder().encode(JSON.stringify({ key: rita.publicKey, challenge: c, signature })),
    });
    const devices = await requestFrom('127.0.0.12', server.url, {
      method: 'GET',
      path: '/v1/reviewer/devices',
      headers: { authorization: `Bearer ${session.body.token as string}` },
    });
    expect(devices.status).toBe(200);
    // The refused address stays refused, even with a real session: its failures must refill first.
    expect(
      await requestFrom('127.0.0.11', server.url, {
        method: 'GET',
        path: '/v1/reviewer/devices',
        headers: { authorization: `Bearer ${session.body.token as string}` },
      }),
    ).toEqual(FAILING);
  });
});
