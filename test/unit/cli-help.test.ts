import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../electron/cli/main';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function halfkey(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd: root };
  const code = await runCli(args, io);
  return { code, out: out.join(''), err: err.join('') };
}

describe('halfkey … --help', () => {
  it('prints usage and exits 0 for every command, every subcommand, and with other options around it (nothing is opened or asked for)', async () => {
    const listed = await halfkey(['--help']);
    expect(listed.code).toBe(0);
    const commands = [...listed.out.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]!);
    expect(commands).toEqual(
      expect.arrayContaining(['account', 'checkout', 'custodian', 'init', 'journal', 'recover', 'review', 'server', 'status', 'sync']),
    );
    const lines: string[][] = [
      ...commands.flatMap((c) => [
        [c, '--help'],
        [c, '-h'],
      ]),
      ['journal', 'verify', '--help'],
      ['journal', 'verify', 'missing.hkj', '--json', '-h'],
      ['journal', 'export', '--help'],
      ['journal', 'export', '--vault', 'nowhere', '--help'],
      ['account', 'add', '--help'],
      ['account', 'add', '--vault', 'v', '--id', '1234', '--help'],
      ['half', 'set', '--help'],
      ['checkout', '--vault', 'v', '--as', 'x', '--help'],
      ['custodian', 'add', '--help'],
      ['custodian', 'list', '--help'],
      ['custodian', 'revoke', '--help'],
      ['review', 'export', '--help'],
      ['sync', '--vault', 'v', '--enroll', 'http://127.0.0.1:1', '--help'],
      ['server', 'reviewer', 'grant', '--help'],
      ['server', 'enroll-token', '--help'],
      ['status', '--vault', 'v', '--help'],
    ];
    for (const args of lines) {
      const result = await halfkey(args);
      expect(result, args.join(' ')).toMatchObject({ code: 0, err: '' });
      expect(result.out, args.join(' ')).toMatch(/usage/);
    }
  });

  it('`halfkey journal verify --help` exits 0 as a real process too (it used to ask for the missing BUNDLE and exit 2)', () => {
    const result = spawnSync(process.execPath, ['build/halfkey.mjs', 'journal', 'verify', '--help'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('halfkey journal verify BUNDLE');
  });

  it('bad arguments still exit 2 with the usage on stderr', async () => {
    const result = await halfkey(['journal', 'verify']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/expected 1 argument/);
  });
});
