import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { run } from '../../server/cli';
import { buildServer } from '../../server/app';
import { parseListen, startServer } from '../../server/main';
import { serverSigner } from '../../server/server-key';
import { openStorage } from '../../server/storage/storage';
import { hashToken, parseTtl } from '../../server/tokens';
import { SyncClient } from '../../electron/sync/client';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { appendEntries, enrolment } from '../support/sync-fixture';
import { halfkeyIn, type CliResult } from '../support/halfkey-cli';
import { freshStorageUrl, testPostgresUrl } from '../support/server-fixture';

const CLI = fileURLToPath(new URL('../../build/halfkey.mjs', import.meta.url));

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
      [
        ['--db', `sqlite:${join(dir, 'a.db')}`, '--request-timeout', '500ms'],
        /--request-timeout must be whole seconds or minutes from 1s to 60m, e\.g\. 30s or 2m, not "500ms"/,
      ],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--request-timeout', '0s'], /--request-timeout must be/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--request-timeout', '61m'], /--request-timeout must be/],
      [['--db', `sqlite:${join(dir, 'a.db')}`, '--request-timeout', '30'], /--request-timeout must be/],
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
      await fetch(new URL('/v1/enrol', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(enrolment('S'.repeat(43), 'ab'.repeat(16), seededSigner(92))),
      });
      const text = lines.join('');
      expect(text).toMatch(/batch ingested/);
      expect(text).toMatch(/TOKEN_INVALID/);
      const entries = [...j.store.read()];
      for (const secretish of [
        token,
        'S'.repeat(43),
        'marker-in-entry-data',
        entries[1]!.sigs[0]!.sig,
        entries[1]!.hash,
        'x-halfkey-signature',
      ]) {
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
      const { sendRequest } = await import('../../electron/sync/transport');
      const answer = await sendRequest(server.url, {
        method: 'POST',
        path: `/v1/devices/${j.device.publicKey}/entries`,
        json: { entries: [forged] },
        signer: j.device,
      });
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
    const server = await startServer({
      db: `sqlite:${join(dir, 'tls.db')}`,
      listen: '127.0.0.1:0',
      tlsCert: cert,
      tlsKey: key,
      logger: false,
    });
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

describe('halfkey server start-up problems (the real CLI, spawned)', () => {
  const halfkey = halfkeyIn(() => dir);
  /** A start-up problem ends with exit 2 and one message naming it: no stack trace. */
  const expectRefused = (result: CliResult, problem: RegExp): void => {
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(problem);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).toBe('');
  };
  const fresh = (name: string): string => mkdtempSync(join(dir, `${name}-`));

  it('a missing or malformed TLS file, a malformed key file and a missing database folder exit 2, and nothing is created', async () => {
    const where = fresh('startup');
    const db = join(where, 'server.db');
    const garbage = join(where, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const badKey = join(where, 'bad.key');
    writeFileSync(badKey, 'zz'.repeat(64));
    for (const [args, problem] of [
      [['--tls-cert', join(where, 'missing.crt'), '--tls-key', garbage], /--tls-cert \S+missing\.crt cannot be read \(no such file\)/],
      [['--tls-cert', garbage, '--tls-key', garbage], /--tls-cert \S+ and --tls-key \S+ are not a PEM certificate and its private key/],
      [['--key-file', badKey], /--key-file \S+bad\.key does not hold a server key/],
    ] as const) {
      expectRefused(await halfkey(['server', '--db', `sqlite:${db}`, '--listen', '127.0.0.1:0', ...args]), problem);
    }
    expect(readdirSync(where).sort()).toEqual(['bad.key', 'garbage.pem']);
    expectRefused(
      await halfkey(['server', '--db', `sqlite:${join(where, 'no-such-folder', 'server.db')}`, '--listen', '127.0.0.1:0']),
      /--db sqlite:\S+: the folder \S+no-such-folder does not exist \(create it first\)/,
    );
    expectRefused(
      await halfkey(['server', 'enroll-token', '--db', `sqlite:${join(where, 'no-such-folder', 'server.db')}`]),
      /the folder \S+no-such-folder does not exist/,
    );
    expectRefused(
      await halfkey(['server', '--db', `sqlite:${db}`, '--trust-proxy', '10.0.0.1,lb.internal']),
      /--trust-proxy must list the load balancers' IP addresses or CIDR ranges.*not "lb\.internal"/,
    );
    expect(readdirSync(where).sort()).toEqual(['bad.key', 'garbage.pem']);
  }, 120_000);

  it('on PostgreSQL a missing key file is an error saying how to make one; keygen makes it (0600) once, and the server then signs with it', async () => {
    const where = fresh('pg-key');
    const keyFile = join(where, 'server.key');
    const { url, cleanup } = await freshStorageUrl('postgres');
    const schema = new URL(url).searchParams.get('schema')!;
    const schemaExists = async (): Promise<boolean> => {
      const client = new pg.Client({ connectionString: testPostgresUrl() });
      await client.connect();
      try {
        return (await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rowCount === 1;
      } finally {
        await client.end();
      }
    };
    try {
      expectRefused(
        await halfkey(['server', '--db', url, '--listen', '127.0.0.1:0', '--key-file', keyFile]),
        /--key-file \S+server\.key does not exist\. Make it once with `halfkey server keygen --key-file \S+server\.key`/,
      );
      expect(existsSync(keyFile)).toBe(false);
      expect(await schemaExists()).toBe(false);

      const made = await halfkey(['server', 'keygen', '--key-file', keyFile]);
      expect(made.code).toBe(0);
      const fingerprint = /^server key fingerprint: ([0-9a-f ]{39})$/m.exec(made.stdout)?.[1];
      expect(fingerprint).toBeDefined();
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8');
      expectRefused(await halfkey(['server', 'keygen', '--key-file', keyFile]), /already exists: a server key is never overwritten/);
      expect(readFileSync(keyFile, 'utf8')).toBe(key);

      const child = spawn(process.execPath, [CLI, 'server', '--db', url, '--listen', '127.0.0.1:0', '--key-file', keyFile], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const started = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          if (/server key fingerprint: .+\n/.test(err)) resolve(err);
        });
        child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
      });
      await new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')));
      expect(started).toContain(`server key fingerprint: ${fingerprint}`);
    } finally {
      await cleanup();
    }
  }, 120_000);
});
