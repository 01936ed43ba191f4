import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../electron/cli/main';
import { run } from '../../server/cli';
import { openStorage } from '../../server/storage/storage';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';

/** Runs `halfkey server …` in this process; returns the exit code and what it printed. */
async function server(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join(''), err: err.join('') };
}

const SLACK_PATH = '/services/T00000000/B00000000/XXXXslackPathSecretXXXX';

describe('halfkey server webhook: bad arguments', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'halfkey-webhook-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming the problem (a URL that is not http(s) among them), never echoes a secret, and touches no database', async () => {
    const db = `sqlite:${join(dir, 'never-created.db')}`;
    const short = join(dir, 'short-secret');
    writeFileSync(short, 'tooShort\n');
    const spaced = join(dir, 'spaced-secret');
    writeFileSync(spaced, 'a secret with spaces in it\n');
    const big = join(dir, 'big-secret');
    writeFileSync(big, 'x'.repeat(5000));
    const add = ['webhook', 'add', '--db', db, '--name', 'ops'];
    for (const [argv, problem] of [
      [['webhook'], /expected 'webhook add', 'webhook remove', 'webhook list' or 'webhook deliveries', got ''/],
      [['webhook', 'delete', '--db', db], /got 'delete'/],
      [['webhook', 'add', '--name', 'ops', '--url', 'https://h.example/x'], /--db is required/],
      [['webhook', 'add', '--db', db, '--url', 'https://h.example/x'], /--name is required: what the webhook is for/],
      [['webhook', 'add', '--db', db, '--name', 'ops\u001b[2J', '--url', 'https://h.example/x'], /--name must be .*without control/],
      [[...add], /--url is required/],
      [[...add, '--url', 'ftp://files.example/drop'], /--url: the webhook URL must be http: or https:, not ftp:/],
      [[...add, '--url', 'file:///etc/passwd'], /must be http: or https:, not file:/],
      [[...add, '--url', 'javascript:alert(1)'], /must be http: or https:, not javascript:/],
      [[...add, '--url', 'hooks.example.com/halfkey'], /--url: the webhook URL is not a URL/],
      [
        [...add, '--url', 'https://user:hunter2pass@hooks.example.com/x'],
        /must not carry a user name or password \(https:\/\/…@hooks\.example\.com\)/,
      ],
      [[...add, '--url', 'https://hooks.example.com/a b'], /must not contain spaces/],
      [[...add, '--url', `https://hooks.example.com/${'a'.repeat(2100)}`], /at most 2048 characters/],
      [
        [...add, '--url', 'https://h.example/x', '--secret-file', join(dir, 'missing')],
        /--secret-file .*missing cannot be read \(no such file\)/,
      ],
      [[...add, '--url', 'https://h.example/x', '--secret-file', short], /must hold one line of 16 to 1024 characters/],
      [[...add, '--url', 'https://h.example/x', '--secret-file', spaced], /without spaces or control characters/],
      [[...add, '--url', 'https://h.example/x', '--secret-file', big], /larger than 4 KiB/],
      [['webhook', 'remove', '--db', db], /--id must be a whole number/],
      [['webhook', 'remove', '--db', db, '--id', '0'], /--id must be a whole number from 1/],
      [['webhook', 'remove', '--db', db, '--id', 'x1'], /--id must be a whole number/],
      [['webhook', 'deliveries', '--db', db, '--limit', '5000'], /--limit must be a whole number from 1 to 1000/],
      [['webhook', 'deliveries', '--db', db, '--webhook', '-1'], /--webhook/],
      [['webhook', 'list', '--db', db, '--url', 'https://h.example/x'], /Unknown option '--url'/],
    ] as const) {
      const result = await server(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.err, argv.join(' ')).toMatch(problem);
      expect(result.err).toMatch(/halfkey server webhook add --db … --name NAME --url URL \[--secret-file FILE\]/);
      for (const secret of ['hunter2pass', 'tooShort', 'a secret with spaces', 'etc/passwd', 'files.example/drop'])
        expect(result.err).not.toContain(secret);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.db'))).toEqual([]);
  });

  it('prints usage and exits 0 for --help at every level, through the halfkey command', async () => {
    for (const args of [
      ['server', 'webhook', '--help'],
      ['server', 'webhook', 'add', '--help'],
      ['server', 'webhook', 'list', '--db', 'sqlite:/nowhere/x.db', '-h'],
      ['server', 'webhook', 'deliveries', '--help'],
      ['server', 'webhook', 'remove', '--help'],
    ]) {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIo = {
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        env: {},
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
      };
      expect(await runCli(args, io), args.join(' ')).toBe(0);
      expect(err.join('')).toBe('');
      expect(out.join('')).toMatch(/halfkey server webhook deliveries --db … \[--webhook ID\] \[--limit N\] \[--json\]/);
    }
  });
});

describe.each<StorageKind>(['sqlite', 'postgres'])('halfkey server webhook add, list, deliveries and remove: %s', (kind) => {
  let db: string;
  let cleanup: () => Promise<void>;
  let dir: string;
  beforeAll(async () => {
    ({ url: db, cleanup } = await freshStorageUrl(kind));
    dir = mkdtempSync(join(tmpdir(), 'halfkey-webhook-cli-'));
  });
  afterAll(async () => {
    await cleanup?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds with a generated secret printed once, or one from a file; lists without secrets or URL paths; removes', async () => {
    const generated = await server(
      'webhook',
      'add',
      '--db',
      db,
      '--name',
      '#security-alerts',
      '--url',
      `https://hooks.slack.com${SLACK_PATH}`,
    );
    expect(generated.code).toBe(0);
    expect(generated.out).toContain('webhook 1 (#security-alerts) added: new incidents and alarms are sent to https://hooks.slack.com/…');
    const secret = /^secret: ([A-Za-z0-9_-]{43})$/m.exec(generated.out)?.[1];
    expect(secret).toBeDefined();
    expect(generated.err).toMatch(/it is not shown again/);
    expect(generated.out + generated.err).not.toContain(SLACK_PATH);

    const fileSecret = 'file-secret-0123456789abcdef';
    writeFileSync(join(dir, 'secret'), `${fileSecret}\n`);
    const fromFile = await server(
      'webhook',
      'add',
      '--db',
      db,
      '--name',
      'siem',
      '--url',
      'http://10.0.0.7:8080/in?key=querySecret',
      '--secret-file',
      join(dir, 'secret'),
    );
    expect(fromFile.code).toBe(0);
    expect(fromFile.out).toBe('webhook 2 (siem) added: new incidents and alarms are sent to http://10.0.0.7:8080/…\n');

    const storage = await openStorage(db);
    try {
      // Stored whole: the dispatcher needs the exact URL and secret.
      expect(await storage.queries.webhookTargets()).toEqual([
        { id: 1, url: `https://hooks.slack.com${SLACK_PATH}`, secret },
        { id: 2, url: 'http://10.0.0.7:8080/in?key=querySecret', secret: fileSecret },
      ]);
    } finally {
      await storage.close();
    }

    const list = await server('webhook', 'list', '--db', db);
    const json = await server('webhook', 'list', '--db', db, '--json');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^1 {2}active {3}#security-alerts {2}https:\/\/hooks\.slack\.com\/… {2}added \d{4}-/m);
    expect(list.out).toMatch(/^2 {2}active {3}siem {2}http:\/\/10\.0\.0\.7:8080\/… {2}added /m);
    expect(JSON.parse(json.out)).toEqual([
      { id: 1, name: '#security-alerts', url: 'https://hooks.slack.com/…', createdAt: expect.any(Number), disabledAt: null },
      { id: 2, name: 'siem', url: 'http://10.0.0.7:8080/…', createdAt: expect.any(Number), disabledAt: null },
    ]);
    for (const text of [list.out, list.err, json.out, fromFile.out, fromFile.err])
      for (const leak of [secret!, fileSecret, SLACK_PATH, 'XXXXslackPathSecretXXXX', 'querySecret']) expect(text).not.toContain(leak);

    expect(await server('webhook', 'remove', '--db', db, '--id', '1')).toMatchObject({
      code: 0,
      out: 'webhook 1 removed; its pending deliveries are marked failed\n',
    });
    expect(await server('webhook', 'remove', '--db', db, '--id', '1')).toMatchObject({ code: 1, out: 'there is no active webhook 1\n' });
    expect(await server('webhook', 'remove', '--db', db, '--id', '99')).toMatchObject({ code: 1 });
    expect((await server('webhook', 'list', '--db', db)).out).toMatch(/^1 {2}removed {2}#security-alerts/m);
    const after = await openStorage(db);
    try {
      expect((await after.queries.webhookTargets()).map((t) => t.id)).toEqual([2]);
    } finally {
      await after.close();
    }
    const deliveries = await server('webhook', 'deliveries', '--db', db, '--json');
    expect(deliveries).toMatchObject({ code: 0, out: '[]\n' });
  });
});
