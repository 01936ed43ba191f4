import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import type { EntryBody } from '../../shared/journal/entry';
import { TEST_VAULT, TestJournal, insiderRewrite, seededSigner } from '../support/journal-builder';
import { startServer, type RunningServer } from '../../server/main';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, enrolment, issueToken, upload } from '../support/sync-fixture';

beforeAll(async () => {
  await sodiumReady();
});

async function postJson(
  server: TestServer,
  path: string,
  json: unknown,
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const res = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(json),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

/** Writes raw bytes to the server and reads until it closes the connection: for requests fetch would refuse to send. */
function rawExchange(server: TestServer, request: string): Promise<string> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

const roster = (custodian: string, role = 'reviewer') => [{ custodian, signingKey: seededSigner(0x51).publicKey, role }];

describe.each<StorageKind>(['sqlite', 'postgres'])(
  'text the server stores is refused with a 4xx when it holds control characters: %s',
  (kind) => {
    let server: TestServer;
    const journals: TestJournal[] = [];
    beforeAll(async () => {
      server = await startTestServer(kind);
    });
    afterAll(async () => {
      for (const j of journals) j.close();
      await server?.close();
    });

    it('POST /v1/enrol: a roster custodian or role with U+0000, another control character or an unpaired surrogate is a 400 naming the field, and the token stays unused', async () => {
      const token = await issueToken(server);
      const signer = seededSigner(0x52);
      const device = signer.publicKey;
      for (const [member, field] of [
        [roster('a\u0000b'), 'body.roster.0.custodian'],
        [roster('carol\u001b[2J'), 'body.roster.0.custodian'],
        [roster('dave\ud800'), 'body.roster.0.custodian'],
        [roster('erin', 'reviewer\u0000'), 'body.roster.0.role'],
      ] as const) {
        const answer = await postJson(server, '/v1/enrol', { token, vault: TEST_VAULT, device, roster: member });
        expect(answer).toEqual({
          status: 400,
          body: { error: { code: 'BAD_REQUEST', message: `${field}: must not contain control characters or unpaired surrogates` } },
        });
      }
      expect(await server.storage.queries.getDevice(device)).toBeNull();
      // Printable text of any script is fine, and the token was never spent by the refusals.
      expect((await postJson(server, '/v1/enrol', enrolment(token, TEST_VAULT, signer, roster('Zoë 山田')))).status).toBe(200);
    });

    // The app's journal store refuses these too (test/unit/journal-store.test.ts), so the entries are
    // made as a buggy or hand-made device would: written with a printable stand-in (U+2400, U+2407),
    // then rewritten with the control character and signed again by the device and the actor.
    const unplace = (text: string): string => text.replaceAll('\u2400', '\u0000').replaceAll('\u2407', '\u0007');
    it.each([
      ['an actor', 'actor', (j: TestJournal) => j.enrol('bob\u2400x', 0x61, { role: 'admin' })],
      [
        'a custodian.enrolled custodian id',
        'data.custodian',
        (j: TestJournal) =>
          j.store.append({
            type: 'custodian.enrolled',
            data: {
              custodian: 'carol\u2407',
              signingKey: seededSigner(0x62).publicKey,
              name: 'Carol',
              organisation: 'acme',
              role: 'reviewer',
            },
          }),
      ],
      [
        'a custodian.enrolled role',
        'data.role',
        (j: TestJournal) =>
          j.store.append({
            type: 'custodian.enrolled',
            data: {
              custodian: 'dave',
              signingKey: seededSigner(0x63).publicKey,
              name: 'Dave',
              organisation: 'acme',
              role: 'reviewer\u2400',
            },
          }),
      ],
    ])(
      'a correctly signed entry with %s holding a control character is 422 ENTRY_INVALID naming the field, on every resend',
      async (_what, field, write) => {
        const j = new TestJournal({ deviceSeed: 0x70 + journals.length });
        journals.push(j);
        appendEntries(j, 2);
        const client = await enrolledClient(server, j);
        expect((await client.syncNow()).pending).toBe(0);
        const before = j.store.head()!.seq;
        j.tick();
        write(j);
        const seq = before + 1;
        const custodians = new Map([...j.custodians].map(([id, signer]) => [unplace(id), signer]));
        const rewritten = insiderRewrite([...j.entries()], { device: j.device, custodians }, (body) => {
          const text = JSON.stringify(body);
          const escaped = text.replaceAll('\u2400', '\\u0000').replaceAll('\u2407', '\\u0007');
          return escaped === text ? undefined : { body: JSON.parse(escaped) as EntryBody };
        });
        const offered = rewritten.filter((e) => e.seq >= seq);
        expect(JSON.stringify(offered[0])).toMatch(/\\u000[07]/);
        for (let attempt = 0; attempt < 2; attempt++) {
          const answer = await upload(server, j, offered);
          expect(answer.status).toBe(422);
          expect(answer.body).toMatchObject({ error: { code: 'ENTRY_INVALID', evidence: { seq, field } } });
          expect((answer.body as { error: { message: string } }).error.message).toMatch(
            new RegExp(`^entries\\[0\\] \\(seq ${seq}\\)\\.${field.replace('.', '\\.')} holds U\\+00(00|07) at index \\d+: `),
          );
        }
        expect((await server.storage.queries.getDevice(j.device.publicKey))?.headSeq).toBe(before);
        expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
      },
    );

    it('a malformed URL and an overlong path segment get the documented error form, not the framework’s', async () => {
      for (const path of ['/v1/devices/%E0%A4%A/head', `/v1/devices/${'a'.repeat(200)}/head`]) {
        const res = await fetch(new URL(path, server.url));
        expect(res.status).toBe(400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body).toEqual({
          error: { code: 'BAD_REQUEST', message: expect.stringMatching(/malformed|path segment/) as unknown as string },
        });
      }
    });
  },
);

describe('requests Node cannot parse (raw socket)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
  });
  afterAll(async () => {
    await server?.close();
  });

  const parse = (response: string): { status: number; body: unknown } => {
    const [head, body] = response.split('\r\n\r\n', 2);
    return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head ?? '')?.[1]), body: JSON.parse(body ?? '') as unknown };
  };

  it('a malformed Content-Length is a 400 BAD_REQUEST in the documented form', async () => {
    const answer = parse(
      await rawExchange(server, 'POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12abc\r\n\r\n{}'),
    );
    expect(answer).toEqual({
      status: 400,
      body: { error: { code: 'BAD_REQUEST', message: 'the request is not well-formed HTTP (check Content-Length and Transfer-Encoding)' } },
    });
  });

  it('conflicting Content-Length headers are a 400 BAD_REQUEST as well', async () => {
    const answer = parse(
      await rawExchange(server, 'POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'),
    );
    expect(answer).toMatchObject({ status: 400, body: { error: { code: 'BAD_REQUEST' } } });
  });

  it('headers over 16 KiB are a 431 HEADERS_TOO_LARGE', async () => {
    const answer = parse(
      await rawExchange(server, `GET /v1/server-key HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(20 * 1024)}\r\n\r\n`),
    );
    expect(answer).toEqual({
      status: 431,
      body: { error: { code: 'HEADERS_TOO_LARGE', message: 'the request headers are larger than the server accepts (16 KiB)' } },
    });
    expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
  });
});

/** Node's timers on the listening server; connectionsCheckingInterval is set from the options but not in @types/node. */
const timersOf = (server: RunningServer): { request: number; headers: number; checking: unknown } => {
  const s = server.app.server as Server & { connectionsCheckingInterval?: unknown };
  return { request: s.requestTimeout, headers: s.headersTimeout, checking: s.connectionsCheckingInterval };
};

/** Sends the start of a request, never the rest, and reads until the server closes the connection. */
function stalledOn(server: RunningServer, partial: string, ca?: Buffer): Promise<{ status: number; body: unknown; ms: number }> {
  const { hostname, port } = new URL(server.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket: Socket =
      ca === undefined
        ? connect(Number(port), hostname, () => socket.write(partial))
        : tlsConnect({ port: Number(port), host: hostname, ca }, () => socket.write(partial));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => {
      const [head, body] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n', 2);
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head ?? '')?.[1]),
        body: body ? (JSON.parse(body) as unknown) : null,
        ms: Date.now() - started,
      });
    });
    socket.on('error', reject);
  });
}

describe('a request that never finishes (raw socket)', () => {
  let server: RunningServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'halfkey-timeout-'));
    // `halfkey server --request-timeout 1s`: the default (two minutes) would make this test slow.
    server = await startServer({
      db: `sqlite:${join(dir, 'server.db')}`,
      listen: '127.0.0.1:0',
      requestTimeoutMs: 1_000,
      verifyThreads: 0,
      logger: false,
    });
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const stalled = (partial: string): Promise<{ status: number; body: unknown; ms: number }> => stalledOn(server, partial);

  it('is answered 408 REQUEST_TIMEOUT in the documented form once --request-timeout passes, headers or body unfinished, and the server keeps serving', async () => {
    for (const partial of [
      'GET /v1/server-key HTTP/1.1\r\nHost: x\r\nX-Slow: ',
      'POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"token":',
    ]) {
      const answer = await stalled(partial);
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 408,
        body: { error: { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' } },
      });
      // Cut at the configured second (checked every quarter of it), not at Node's defaults.
      expect(answer.ms).toBeGreaterThanOrEqual(900);
      expect(answer.ms).toBeLessThan(5_000);
    }
    expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
    // Node's own values are 300 s, 60 s and a 30 s check: these come from --request-timeout.
    expect(timersOf(server)).toEqual({ request: 1_000, headers: 1_000, checking: 250 });
  });

  it('has a two-minute budget by default: without --request-timeout a stalled body is still cut off', async () => {
    const dflt = await startServer({ db: `sqlite:${join(dir, 'default.db')}`, listen: '127.0.0.1:0', verifyThreads: 0, logger: false });
    try {
      // Node's request default is 300 s and Fastify's none; headers 60 s and the 30 s check are
      // what two minutes works out to (requestTimers), which happen to equal Node's.
      expect(timersOf(dflt)).toEqual({ request: 120_000, headers: 60_000, checking: 30_000 });
    } finally {
      await dflt.close();
    }
  });
});

describe('a request that never finishes, over TLS (--tls-cert, --tls-key)', () => {
  let server: RunningServer;
  let dir: string;
  let ca: Buffer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'halfkey-timeout-tls-'));
    const [cert, key] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(cert);
    server = await startServer({
      db: `sqlite:${join(dir, 'server.db')}`,
      listen: '127.0.0.1:0',
      tlsCert: cert,
      tlsKey: key,
      requestTimeoutMs: 1_000,
      verifyThreads: 0,
      logger: false,
    });
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('cuts a stalled body off at --request-timeout with 408 REQUEST_TIMEOUT, as over plain HTTP (the timers reach the TLS server too)', async () => {
    expect(server.url).toMatch(/^https:/);
    expect(timersOf(server)).toEqual({ request: 1_000, headers: 1_000, checking: 250 });
    const answer = await stalledOn(
      server,
      'POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"token":',
      ca,
    );
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 408,
      body: { error: { code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' } },
    });
    expect(answer.ms).toBeGreaterThanOrEqual(900);
    expect(answer.ms).toBeLessThan(5_000);
  });
});
