import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { run } from '../../server/cli';
import { buildServer } from '../../server/app';
import { parseListen, startServer } from '../../server/main';
import { serverSigner } from '../../server/server-key';
import { openStorage } from '../../server/storage/storage';
import { hashToken, parseTtl } from '../../server/tokens';
import { SyncClient } from '../../electron/services/sync/client';
import { TestJournal } from '../support/journal-builder';
import { appendEntries } from '../support/sync-fixture';

let sodium: Sodium;
let dir: string;
beforeAll(async () => {
  sodium = await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-server-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): { out: string[]; err: string[]; io: { stdout: (t: string) => void; stderr: (t: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } };
}

describe('halfkey server CLI', () => {
  it('exits 2 with the problem named for bad arguments', async () => {
    for (const [argv, problem] of [
      [['--db', 'mysql://x'], /--db must be sqlite:PATH or a postgres/],
      [['enroll-token'], /--db is required/],
      [['enroll-token', '--db', `sqlite:${join(dir, 'a.db')}`, '--ttl', '15 minutes'], /--ttl must look like/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--bogus'], /Unknown option '--bogus'/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--tls-cert', 'c.pem'], /go together/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--rate-limit', 'lots'], /--rate-limit must be/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--verify-threads', '257'], /--verify-threads must be/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--verify-threads', '1.5'], /--verify-threads must be/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--verify-threads', 'all'], /--verify-threads must be/],
      [['revoke-device', '--db', `sqlite:${join(dir, 'a.db')}`, '--device', 'xyz'], /--device must be/],
    ] as const) {
      const t = io();
      expect(await run([...argv], t.io)).toBe(2);
      expect(t.err.join('')).toMatch(problem);
    }
    expect(() => parseListen('localhost')).toThrow(/HOST:PORT/);
    expect(parseListen('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(parseTtl('2h')).toBe(7_200_000);
  });

  it('prints a one-time token once and stores only its hash', async () => {
    const db = `sqlite:${join(dir, 'tokens.db')}`;
    const t = io();
    expect(await run(['enroll-token', '--db', db, '--ttl', '5m'], t.io)).toBe(0);
    const token = t.out.join('').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(t.err.join('')).toMatch(/cannot be shown again/);
    const storage = await openStorage(db);
    try {
      expect(await storage.queries.consumeEnrolToken(token, 'ab'.repeat(32), Date.now())).toBe(false);
      expect(await storage.queries.consumeEnrolToken(hashToken(token, sodium), 'ab'.repeat(32), Date.now())).toBe(true);
      expect(await storage.queries.consumeEnrolToken(hashToken(token, sodium), 'ab'.repeat(32), Date.now())).toBe(false);
    } finally {
      await storage.close();
    }
  });

  it('revokes a device (exit 0), and says so when there is none (exit 1)', async () => {
    const db = `sqlite:${join(dir, 'revoke.db')}`;
    const storage = await openStorage(db);
    await storage.queries.insertDevice('cd'.repeat(32), 'ab'.repeat(16), 1);
    await storage.close();
    expect(await run(['revoke-device', '--db', db, '--device', 'cd'.repeat(32)], io().io)).toBe(0);
    expect(await run(['revoke-device', '--db', db, '--device', 'cd'.repeat(32)], io().io)).toBe(1);
  });
});

describe('server log', () => {
  it('records requests and refusals but never bodies, tokens, signatures or entry contents', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    const storage = await openStorage(`sqlite:${join(dir, 'log.db')}`);
    const signer = serverSigner(sodium.crypto_sign_keypair().privateKey, sodium);
    const app = buildServer({ storage, signer, sodium, logger: pino({ level: 'info' }, sink) });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const j = new TestJournal({ deviceSeed: 91 });
    try {
      appendEntries(j, 5);
      j.tick();
      j.store.append({ type: 'test.note', data: { note: 'marker-in-entry-data' } });
      const token = 'T'.repeat(43);
      await storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
      const client = new SyncClient({ db: j.db, journal: j.store, signer: j.device });
      await client.enroll(url, token);
      expect((await client.syncNow()).pending).toBe(0);
      await fetch(new URL('/v1/enrol', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'S'.repeat(43), vault: 'ab'.repeat(16), device: 'ef'.repeat(32), roster: [] }) });
      const text = lines.join('');
      expect(text).toMatch(/batch ingested/);
      expect(text).toMatch(/TOKEN_INVALID/);
      const entries = [...j.store.read()];
      for (const secretish of [token, 'S'.repeat(43), 'marker-in-entry-data', entries[1]!.sigs[0]!.sig, entries[1]!.hash, 'x-halfkey-signature']) {
        expect(text).not.toContain(secretish);
      }
    } finally {
      j.close();
      await app.close();
      await storage.close();
    }
  });
});

describe('--verify-threads 0', () => {
  it('checks hashes and signatures on the main thread: a good batch is ingested, a forged one refused', async () => {
    const server = await startServer({ db: `sqlite:${join(dir, 'inline.db')}`, listen: '127.0.0.1:0', verifyThreads: 0, logger: false });
    const j = new TestJournal({ deviceSeed: 93 });
    try {
      appendEntries(j, 20);
      const token = 'U'.repeat(43);
      await server.storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
      const client = new SyncClient({ db: j.db, journal: j.store, signer: j.device });
      await client.enroll(server.url, token);
      expect((await client.syncNow()).pending).toBe(0);
      const synced = j.store.head()!.seq;
      expect((await server.storage.queries.getDevice(j.device.publicKey))?.headSeq).toBe(synced);
      appendEntries(j, 1);
      const [last] = j.store.query({ from: synced + 1, to: synced + 1 });
      const forged = { ...last!, sigs: [{ key: last!.sigs[0]!.key, sig: '00'.repeat(64) }] };
      const { sendRequest } = await import('../../electron/services/sync/transport');
      const answer = await sendRequest(server.url, { method: 'POST', path: `/v1/devices/${j.device.publicKey}/entries`, json: { entries: [forged] }, signer: j.device });
      expect(answer.status).toBe(422);
      expect(JSON.stringify(answer.body)).toMatch(/BAD_SIGNATURE/);
      expect((await server.storage.queries.getDevice(j.device.publicKey))?.headSeq).toBe(synced);
    } finally {
      j.close();
      await server.close();
    }
  });
});

describe('https', () => {
  it('serves over TLS when given --tls-cert and --tls-key', async () => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const server = await startServer({ db: `sqlite:${join(dir, 'tls.db')}`, listen: '127.0.0.1:0', tlsCert: cert, tlsKey: key, logger: false });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        get(new URL('/v1/server-key', server.url), { ca: readFileSync(cert) }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(JSON.parse(body)).toEqual({ serverKey: server.signer.publicKey, serverFingerprint: server.signer.fingerprint });
    } finally {
      await server.close();
    }
  });
});
