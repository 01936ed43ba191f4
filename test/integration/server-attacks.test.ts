import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Signer, type EntrySigner } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { MAX_BATCH_BYTES, ROTATION_HEADER, SIGNED_HEADERS, signedRequestHeaders } from '../../shared/sync/wire';
import { MAX_BODY_DEPTH } from '../../server/http-body';
import { TestJournal } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, enrolment, issueToken } from '../support/sync-fixture';

/** A full garbage collection: --expose-gc switched on at run time, `gc` taken from a fresh context. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

interface Attempt {
  readonly method?: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly signer?: EntrySigner | null;
  readonly headers?: Record<string, string>;
  readonly timestamp?: number;
  readonly nonce?: string;
  readonly contentType?: string;
}

describe.each<StorageKind>(['sqlite', 'postgres'])('attack catalogue: %s', (kind) => {
  let server: TestServer;
  let j: TestJournal;
  let device: EntrySigner;
  const journals: TestJournal[] = [];

  /** Sends a request exactly as given: signed by `signer` over the body unless told otherwise. */
  async function send(a: Attempt): Promise<{ status: number; code: string | undefined }> {
    const method = a.method ?? 'POST';
    const body = a.body ?? (method === 'POST' ? '{"entries":[]}' : '');
    const bytes = new TextEncoder().encode(body);
    const signer = a.signer === undefined ? device : a.signer;
    const signed =
      signer === null
        ? {}
        : signedRequestHeaders(
            {
              method,
              path: a.path,
              body: bytes,
              timestamp: a.timestamp ?? Date.now(),
              nonce: a.nonce ?? sodium.to_hex(sodium.randombytes_buf(16)),
            },
            signer,
            sodium,
          );
    const res = await fetch(new URL(a.path, server.url), {
      method,
      headers: { ...(method === 'POST' ? { 'content-type': a.contentType ?? 'application/json' } : {}), ...signed, ...a.headers },
      ...(method === 'POST' ? { body: bytes } : {}),
    });
    const json = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
    return { status: res.status, code: json?.error?.code };
  }

  const entriesPath = (d: string = device.publicKey): string => `/v1/devices/${d}/entries`;
  const validBatch = (): string => JSON.stringify({ entries: [...j.store.read({ from: 0, to: 0 })] });

  beforeAll(async () => {
    server = await startTestServer(kind, { rateLimit: { capacity: 1_000, perSecond: 1_000 }, maxBatchBytes: 256 * 1024 });
    j = new TestJournal({ deviceSeed: 41 });
    journals.push(j);
    appendEntries(j, 3);
    device = j.device;
    await enrolledClient(server, j);
  });
  afterEach(async () => {
    // After every attack the server is still up and answering.
    expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
  });
  afterAll(async () => {
    for (const x of journals) x.close();
    await server?.close();
  });

  it('accepts the honest request the attacks are variations of', async () => {
    expect(await send({ path: entriesPath(), body: validBatch() })).toEqual({ status: 200, code: undefined });
  });

  it('refuses an unsigned request', async () => {
    expect(await send({ path: entriesPath(), body: validBatch(), signer: null })).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('refuses a forged signature (another key claiming to be the device)', async () => {
    const forger = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    const forged = signedRequestHeaders(
      { method: 'POST', path: entriesPath(), body: new TextEncoder().encode(validBatch()), timestamp: Date.now(), nonce: 'ab'.repeat(16) },
      forger,
      sodium,
    );
    expect(
      await send({ path: entriesPath(), body: validBatch(), headers: { ...forged, [SIGNED_HEADERS.device]: device.publicKey } }),
    ).toEqual({ status: 401, code: 'BAD_REQUEST_SIGNATURE' });
  });

  it('refuses a signed request whose body was changed in transit', async () => {
    const headers = signedRequestHeaders(
      { method: 'POST', path: entriesPath(), body: new TextEncoder().encode(validBatch()), timestamp: Date.now(), nonce: 'cd'.repeat(16) },
      device,
      sodium,
    );
    expect(await send({ path: entriesPath(), body: JSON.stringify({ entries: [] }), signer: null, headers })).toEqual({
      status: 401,
      code: 'BAD_REQUEST_SIGNATURE',
    });
  });

  it('refuses a replayed request (same nonce)', async () => {
    const nonce = sodium.to_hex(sodium.randombytes_buf(16));
    const timestamp = Date.now();
    expect((await send({ path: entriesPath(), body: validBatch(), nonce, timestamp })).status).toBe(200);
    expect(await send({ path: entriesPath(), body: validBatch(), nonce, timestamp })).toEqual({ status: 401, code: 'REPLAYED_NONCE' });
  });

  it('refuses a replay of a refused batch: the nonce is recorded before any refusal is answered', async () => {
    const nonce = sodium.to_hex(sodium.randombytes_buf(16));
    const timestamp = Date.now();
    const refused = JSON.stringify({ entries: [...j.store.read({ from: 2, to: 2 })] });
    expect(await send({ path: entriesPath(), body: refused, nonce, timestamp })).toEqual({ status: 409, code: 'SEQUENCE_GAP' });
    expect(await send({ path: entriesPath(), body: refused, nonce, timestamp })).toEqual({ status: 401, code: 'REPLAYED_NONCE' });
  });

  it('accepts one of several concurrent copies of a request: the nonce commits with the batch, and the others are replays', async () => {
    const nonce = sodium.to_hex(sodium.randombytes_buf(16));
    const timestamp = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, () => send({ path: entriesPath(), body: validBatch(), nonce, timestamp })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.code === 'REPLAYED_NONCE')).toHaveLength(4);
  });

  it('refuses a stale or future-dated request', async () => {
    expect(await send({ path: entriesPath(), body: validBatch(), timestamp: Date.now() - 6 * 60_000 })).toEqual({
      status: 401,
      code: 'STALE_REQUEST',
    });
    expect(await send({ path: entriesPath(), body: validBatch(), timestamp: Date.now() + 6 * 60_000 })).toEqual({
      status: 401,
      code: 'STALE_REQUEST',
    });
  });

  it('refuses a device acting on another device’s journal', async () => {
    const other = new TestJournal({ deviceSeed: 42 });
    journals.push(other);
    await enrolledClient(server, other);
    expect(await send({ path: entriesPath(other.device.publicKey), body: validBatch() })).toEqual({ status: 403, code: 'WRONG_DEVICE' });
  });

  it('refuses an unknown device and a revoked one', async () => {
    const stranger = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    expect(await send({ path: entriesPath(stranger.publicKey), body: validBatch(), signer: stranger })).toEqual({
      status: 401,
      code: 'UNKNOWN_DEVICE',
    });
    const revoked = new TestJournal({ deviceSeed: 43 });
    journals.push(revoked);
    await enrolledClient(server, revoked);
    await server.storage.queries.revokeDevice(revoked.device.publicKey, Date.now());
    const batch = JSON.stringify({ entries: [...revoked.store.read()] });
    expect(await send({ path: entriesPath(revoked.device.publicKey), body: batch, signer: revoked.device })).toEqual({
      status: 403,
      code: 'DEVICE_REVOKED',
    });
  });

  it('refuses an oversized body before reading it', async () => {
    const huge = JSON.stringify({ entries: [{ pad: 'x'.repeat(300 * 1024) }] });
    expect(await send({ path: entriesPath(), body: huge })).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(await send({ path: '/v1/enrol', body: JSON.stringify({ pad: 'y'.repeat(70 * 1024) }), signer: null })).toEqual({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    });
  });

  it('refuses malformed JSON, a wrong schema, a wrong media type and tampered entries', async () => {
    expect(await send({ path: entriesPath(), body: '{"entries": [' })).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(await send({ path: entriesPath(), body: JSON.stringify({ entries: 'all of them' }) })).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    });
    expect(await send({ path: entriesPath(), body: JSON.stringify({ entries: [], extra: 1 }) })).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    });
    expect(await send({ path: entriesPath(), body: 'entries', contentType: 'text/plain' })).toEqual({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    const [genesis, next] = [...j.store.read({ from: 0, to: 1 })];
    const tampered = { ...next!, data: { n: 999 } };
    expect(await send({ path: entriesPath(), body: JSON.stringify({ entries: [genesis, tampered] }) })).toEqual({
      status: 422,
      code: 'ENTRY_INVALID',
    });
    const floaty = JSON.stringify({ entries: [{ ...genesis, time: 1.5 }] });
    expect(await send({ path: entriesPath(), body: floaty })).toEqual({ status: 422, code: 'ENTRY_INVALID' });
  });

  it('refuses bodies nested thousands of levels deep with 400 BODY_TOO_DEEP before reading them, and keeps nothing of them', async () => {
    // As an attacker holding one enrolled device's key would: signed batches whose entry data is
    // a 6,000-level array (12 KiB each), 16 of them per request. Before the depth check such a
    // batch failed in the hand-off to the signature workers (500) and stayed referenced there.
    const [genesis, next] = [...j.store.read({ from: 0, to: 1 })];
    const deep = `${'['.repeat(6_000)}${']'.repeat(6_000)}`;
    const deepEntry = (seq: number): string => JSON.stringify({ ...next!, seq, data: { n: 0 } }).replace('{"n":0}', `{"d":${deep}}`);
    const body = `{"entries":[${[JSON.stringify(genesis), ...Array.from({ length: 16 }, (_, i) => deepEntry(i + 1))].join(',')}]}`;
    expect(body.length).toBeGreaterThan(190_000);
    const pool = server.checker;
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 30; i++) expect(await send({ path: entriesPath(), body })).toEqual({ status: 400, code: 'BODY_TOO_DEEP' });
    expect(pool.heldEntries).toBe(0);
    collectGarbage();
    // 30 requests of 195 KB: before the fix each kept about 30 times its size (about 170 MB in all).
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(16 * 1024 * 1024);

    // Exactly one level over the limit is refused; at the limit the body is read (and refused for what it is).
    const nested = (levels: number): string => `{"entries":[${'['.repeat(levels - 2)}${']'.repeat(levels - 2)}]}`;
    expect(await send({ path: entriesPath(), body: nested(MAX_BODY_DEPTH + 1) })).toEqual({ status: 400, code: 'BODY_TOO_DEEP' });
    expect(await send({ path: entriesPath(), body: nested(MAX_BODY_DEPTH) })).toEqual({ status: 400, code: 'BAD_REQUEST' });
    // Brackets inside strings (escaped quotes too) do not count.
    const stringy = JSON.stringify({ entries: [{ ...next!, data: { s: `\\"${'['.repeat(5_000)}` } }] });
    expect(await send({ path: entriesPath(), body: stringy })).toEqual({ status: 422, code: 'ENTRY_INVALID' });
    // Every route's body, and the rotation proof header, get the same check.
    expect(await send({ path: '/v1/enrol', body: `{"token":${deep}}`, signer: null })).toEqual({ status: 400, code: 'BODY_TOO_DEEP' });
    expect(await send({ path: '/v1/reviewer/challenge', body: `{"key":${deep}}`, signer: null })).toEqual({
      status: 400,
      code: 'BODY_TOO_DEEP',
    });
    const deepProof = `[{"type":"device.key-rotated","device":"${device.publicKey}","seq":9,"data":{"x":${'['.repeat(3_000)}${']'.repeat(3_000)}}}]`;
    const other = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    expect(
      await send({
        path: entriesPath(),
        body: validBatch(),
        signer: other,
        headers: { [ROTATION_HEADER]: deepProof, [SIGNED_HEADERS.device]: device.publicKey },
      }),
    ).toEqual({ status: 401, code: 'BAD_REQUEST_SIGNATURE' });
  });

  it('refuses a used, unknown or malformed enrolment token', async () => {
    const token = await issueToken(server);
    const body = (d: EntrySigner, t: string) => JSON.stringify(enrolment(t, '0123456789abcdef0123456789abcdef', d));
    const fresh = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    expect(await send({ path: '/v1/enrol', body: body(fresh, token), signer: null })).toEqual({ status: 200, code: undefined });
    const second = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    expect(await send({ path: '/v1/enrol', body: body(second, token), signer: null })).toEqual({ status: 401, code: 'TOKEN_INVALID' });
    expect(await send({ path: '/v1/enrol', body: body(second, 'A'.repeat(43)), signer: null })).toEqual({
      status: 401,
      code: 'TOKEN_INVALID',
    });
    expect(await send({ path: '/v1/enrol', body: body(second, 'not a token!'), signer: null })).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    });
    const expired = await issueToken(server, -1);
    expect(await send({ path: '/v1/enrol', body: body(second, expired), signer: null })).toEqual({ status: 401, code: 'TOKEN_INVALID' });
  });

  it('refuses to enrol a device key without proof of possession (unsigned, signed by another key, a signature replayed with another vault or token), and leaves the token unused', async () => {
    // The victim's device key is public (every entry and export carries it); the attacker holds a token.
    const victim = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    const attacker = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    const token = await issueToken(server);
    const [vault, attackerVault] = ['0123456789abcdef0123456789abcdef', 'fe'.repeat(16)];
    const enrol = (b: unknown) => send({ path: '/v1/enrol', body: JSON.stringify(b), signer: null });
    expect(await enrol({ token, vault: attackerVault, device: victim.publicKey, roster: [] })).toEqual({
      status: 401,
      code: 'BAD_REQUEST_SIGNATURE',
    });
    expect(await enrol(enrolment(token, attackerVault, victim, [], attacker))).toEqual({ status: 401, code: 'BAD_REQUEST_SIGNATURE' });
    // A valid signature by the victim (say, seen on its way to this server) moved to another vault or another token.
    const victims = enrolment(await issueToken(server), vault, victim);
    expect(await enrol({ ...victims, token, vault: attackerVault })).toEqual({ status: 401, code: 'BAD_REQUEST_SIGNATURE' });
    expect(await enrol({ ...enrolment(token, vault, victim), vault: attackerVault })).toEqual({
      status: 401,
      code: 'BAD_REQUEST_SIGNATURE',
    });
    expect(await enrol({ ...victims, token })).toEqual({ status: 401, code: 'BAD_REQUEST_SIGNATURE' });
    expect(await enrol({ ...enrolment(token, vault, victim), signature: 'not hex' })).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(await server.storage.queries.getDevice(victim.publicKey)).toBeNull();
    // None of the refusals spent the token: the real device still enrols with it, in its own vault.
    expect(await enrol(enrolment(token, vault, victim))).toEqual({ status: 200, code: undefined });
    expect((await server.storage.queries.getDevice(victim.publicKey))?.vault).toBe(vault);
  });

  it('refuses reviewer endpoints without a session, and unknown paths with NOT_FOUND', async () => {
    expect(await send({ method: 'GET', path: '/v1/reviewer/export', signer: null })).toEqual({ status: 401, code: 'SESSION_INVALID' });
    expect(await send({ method: 'GET', path: '/v1/reviewer/devices', signer: null, headers: { authorization: 'Bearer forged' } })).toEqual({
      status: 401,
      code: 'SESSION_INVALID',
    });
    expect(await send({ method: 'GET', path: '/v1/nothing-here', signer: null })).toEqual({ status: 404, code: 'NOT_FOUND' });
  });
});

describe('rate limit (token bucket per device)', () => {
  it('answers RATE_LIMITED once a device spends its budget, and the server keeps serving', async () => {
    await sodiumReady();
    const server = await startTestServer('sqlite', { rateLimit: { capacity: 3, perSecond: 0.001 } });
    const j = new TestJournal({ deviceSeed: 44 });
    try {
      const client = await enrolledClient(server, j);
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const headers = signedRequestHeaders(
          {
            method: 'GET',
            path: `/v1/devices/${j.device.publicKey}/head`,
            body: new Uint8Array(0),
            timestamp: Date.now(),
            nonce: `${i}`.padStart(32, '0'),
          },
          j.device,
        );
        codes.push((await fetch(new URL(`/v1/devices/${j.device.publicKey}/head`, server.url), { headers })).status);
      }
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      expect(client.status().state).toBe('idle');
      expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
    } finally {
      j.close();
      await server.close();
    }
  });
});

describe('a batch as wide as the body allows', () => {
  it('is checked and refused for what it is (422), not by a signature worker running out of memory (503), for each shape of value', async () => {
    // As an attacker holding one enrolled device's key would: one signed entry whose data is an
    // array filling the whole 4 MiB body with the smallest values JSON has. Each becomes an object
    // in the worker that checks the entry; with a 64 MB worker heap the worker died (503
    // UNAVAILABLE, "send it again shortly") and was replaced, once per request.
    const sodium = await sodiumReady();
    const server = await startTestServer('sqlite', { rateLimit: { capacity: 1_000, perSecond: 1_000 } });
    const j = new TestJournal({ deviceSeed: 45 });
    try {
      appendEntries(j, 3);
      await enrolledClient(server, j);
      const [genesis, next] = [...j.store.read({ from: 0, to: 1 })];
      const workers = [...server.checker.workers];
      for (const value of ['{}', '[]', '""', '[0]', '{"a":0}']) {
        const count = Math.floor((MAX_BATCH_BYTES - 4_096) / (value.length + 1));
        const entry = JSON.stringify({ ...next!, data: { n: 0 } }).replace('{"n":0}', `{"w":[${Array(count).fill(value).join(',')}]}`);
        const bytes = new TextEncoder().encode(`{"entries":[${JSON.stringify(genesis)},${entry}]}`);
        expect(bytes.length).toBeGreaterThan(MAX_BATCH_BYTES - 8_192);
        const path = `/v1/devices/${j.device.publicKey}/entries`;
        const nonce = sodium.to_hex(sodium.randombytes_buf(16));
        const headers = signedRequestHeaders({ method: 'POST', path, body: bytes, timestamp: Date.now(), nonce }, j.device, sodium);
        const res = await fetch(new URL(path, server.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: bytes,
        });
        const answer = (await res.json()) as { error?: { code?: string; message?: string } };
        expect({ value, status: res.status, code: answer.error?.code }).toEqual({ value, status: 422, code: 'ENTRY_INVALID' });
        expect(answer.error?.message).toMatch(/seq 1 fails verification: HASH_MISMATCH/);
      }
      // The same worker threads answered every time, and hold nothing now.
      expect(server.checker.workers).toEqual(workers);
      expect(server.checker.heldEntries).toBe(0);
      expect((await fetch(new URL('/v1/server-key', server.url))).status).toBe(200);
    } finally {
      j.close();
      await server.close();
    }
  }, 120_000);
});
