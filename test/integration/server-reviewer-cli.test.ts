import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Signer, type EntrySigner } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { reviewerChallengeMessage } from '../../shared/sync/wire';
import { run } from '../../server/cli';
import type { ReviewerGrant } from '../../server/storage/storage';
import { expectOk, sendRequest } from '../../electron/sync/transport';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/** Runs `halfkey server …` in this process; returns the exit code and what it printed. */
async function server(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join(''), err: err.join('') };
}

/** The reviewer's sign-in (docs/sync-protocol.md, "Reviewers"): the HTTP answer to the session request, or to the challenge if that was refused. */
async function signIn(url: string, reviewer: EntrySigner): Promise<{ status: number; body: unknown }> {
  const issued = await sendRequest(url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: reviewer.publicKey } });
  if (issued.status !== 200) return issued;
  const { challenge } = issued.body as { challenge: string };
  const signature = sodium.to_hex(reviewer.sign(reviewerChallengeMessage(challenge, sodium)));
  return sendRequest(url, { method: 'POST', path: '/v1/reviewer/session', json: { key: reviewer.publicKey, challenge, signature } });
}

describe('halfkey server reviewer: bad arguments', () => {
  it('exits 2 naming the problem, and touches no database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-reviewer-cli-'));
    const db = `sqlite:${join(dir, 'never-created.db')}`;
    const key = 'ab'.repeat(32);
    for (const [argv, problem] of [
      [['reviewer'], /expected 'reviewer grant', 'reviewer revoke' or 'reviewer list', got ''/],
      [['reviewer', 'add', '--db', db], /expected 'reviewer grant'.*got 'add'/],
      [['reviewer', 'grant', '--key', key, '--name', 'Rita'], /--db is required/],
      [['reviewer', 'list', '--db', 'mysql://x'], /--db must be sqlite:PATH or a postgres/],
      [['reviewer', 'grant', '--db', db, '--name', 'Rita'], /--key must be the reviewer's signing key, 64 hex/],
      [['reviewer', 'grant', '--db', db, '--key', 'xyz', '--name', 'Rita'], /--key must be .*64 hex/],
      [['reviewer', 'grant', '--db', db, '--key', `${key}00`, '--name', 'Rita'], /--key must be .*64 hex/],
      [['reviewer', 'grant', '--db', db, '--key', key], /--name is required/],
      [['reviewer', 'grant', '--db', db, '--key', key, '--name', '   '], /--name is required/],
      [['reviewer', 'grant', '--db', db, '--key', key, '--name', 'Rita\u001b[2J'], /--name must be .*without control/],
      [['reviewer', 'grant', '--db', db, '--key', key, '--name', 'Rita\u202egnp.exe'], /--name must be .*without control or formatting/],
      [['reviewer', 'grant', '--db', db, '--key', key, '--name', 'R'.repeat(101)], /--name must be at most 100 characters/],
      [['reviewer', 'revoke', '--db', db], /--key must be/],
      [['reviewer', 'revoke', '--db', db, '--key', key, '--name', 'Rita'], /Unknown option '--name'/],
      [['reviewer', 'list', '--db', db, '--key', key], /Unknown option '--key'/],
    ] as const) {
      const result = await server(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.err).toMatch(problem);
      expect(result.err).toMatch(/halfkey server reviewer grant --db … --key HEX --name NAME/);
    }
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe.each<StorageKind>(['sqlite', 'postgres'])('halfkey server reviewer grant, list and revoke: %s', (kind) => {
  let test: TestServer;
  let rita: EntrySigner;
  let otto: EntrySigner;
  beforeAll(async () => {
    test = await startTestServer(kind);
    rita = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    otto = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
  });
  afterAll(async () => {
    await test?.close();
  });

  it('grants reviewer rights a running server honours at once, and lists them', async () => {
    const empty = await server('reviewer', 'list', '--db', test.dbUrl);
    expect(empty).toMatchObject({ code: 0, out: '' });
    expect(empty.err).toMatch(/no reviewer grants/);
    expect((await signIn(test.url, rita)).body).toMatchObject({ error: { code: 'NOT_A_REVIEWER' } });

    // Upper-case hex is the same key.
    const grant = await server(
      'reviewer',
      'grant',
      '--db',
      test.dbUrl,
      '--key',
      rita.publicKey.toUpperCase(),
      '--name',
      ' Rita Reviewer (Audit) ',
    );
    expect(grant).toMatchObject({ code: 0, err: '' });
    expect(grant.out).toContain(`reviewer ${rita.publicKey} (Rita Reviewer (Audit)) granted`);
    expect((await server('reviewer', 'grant', '--db', test.dbUrl, '--key', otto.publicKey, '--name', 'Otto')).code).toBe(0);
    expect((await signIn(test.url, rita)).status).toBe(200);

    const list = await server('reviewer', 'list', '--db', test.dbUrl);
    expect(list.code).toBe(0);
    const lines = list.out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${rita.publicKey}  active   Rita Reviewer \\(Audit\\)  granted \\d{4}-\\d\\d-\\d\\dT`));
    expect(lines[1]).toMatch(new RegExp(`^${otto.publicKey}  active   Otto  granted `));
    const json = JSON.parse((await server('reviewer', 'list', '--db', test.dbUrl, '--json')).out) as ReviewerGrant[];
    expect(json.map((g) => [g.signingKey, g.name, g.revokedAt])).toEqual([
      [rita.publicKey, 'Rita Reviewer (Audit)', null],
      [otto.publicKey, 'Otto', null],
    ]);
  });

  it('revokes a reviewer: its open session ends, its next sign-in is refused, and a second revoke exits 1', async () => {
    const { token } = expectOk(await signIn(test.url, otto)) as { token: string };
    const devices = (): Promise<Response> =>
      fetch(new URL('/v1/reviewer/devices', test.url), { headers: { authorization: `Bearer ${token}` } });
    expect((await devices()).status).toBe(200);

    const revoke = await server('reviewer', 'revoke', '--db', test.dbUrl, '--key', otto.publicKey);
    expect(revoke).toMatchObject({ code: 0, err: '' });
    expect(revoke.out).toMatch(/revoked; its open sessions are ended/);
    expect((await devices()).status).toBe(401);
    expect((await signIn(test.url, otto)).body).toMatchObject({ error: { code: 'NOT_A_REVIEWER' } });
    expect((await signIn(test.url, rita)).status).toBe(200);

    const again = await server('reviewer', 'revoke', '--db', test.dbUrl, '--key', otto.publicKey);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/has no active reviewer grant/);
    const list = await server('reviewer', 'list', '--db', test.dbUrl);
    expect(list.out).toMatch(new RegExp(`^${otto.publicKey}  revoked  Otto  granted \\S+, revoked \\d{4}-`, 'm'));
  });
});
