import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireKeyring } from '../support/halfkey-cli';
import { NODE_SQLITE_ADDON } from '../support/native-build-stand-in';

// The Node entry points (CLI, server, preview, and the tests' own process) open their databases
// with the better-sqlite3 npm installed in node_modules, never a build from build/native/. Each is
// run for real with a recorder of every addon it loads; the Electron side is the same check on
// the bundled main process (electron-bundle.test.ts).
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const RECORDER = join(projectRoot, 'test', 'support', 'native-load-recorder.mjs');
const CLI = join(projectRoot, 'build', 'halfkey.mjs');
const NODE_BUILD = realpathSync(NODE_SQLITE_ADDON);
let work: string;

beforeAll(() => {
  requireKeyring();
  work = mkdtempSync(join(tmpdir(), 'halfkey-node-side-'));
  writeFileSync(join(work, 'passphrase'), 'node side probe passphrase 58', { mode: 0o600 });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The better_sqlite3.node files a process loaded, by real path, from the recorder's log. */
function sqliteLoads(log: string): string[] {
  return existsSync(log)
    ? readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter((path) => path.endsWith('better_sqlite3.node'))
        .map((path) => realpathSync(path))
    : [];
}

const recorded = (log: string): NodeJS.ProcessEnv => ({ ...process.env, HALFKEY_NATIVE_LOAD_LOG: log });

describe('Node entry points load only the Node build of better-sqlite3', () => {
  it('the CLI (halfkey init: the vault lock and vault.db)', async () => {
    const log = join(work, 'cli.log');
    await promisify(execFile)(
      process.execPath,
      [
        '--import',
        RECORDER,
        CLI,
        'init',
        '--vault',
        join(work, 'vault'),
        '--admin-name',
        'Node Side',
        '--organisation',
        'Probe',
        '--passphrase-file',
        join(work, 'passphrase'),
      ],
      {
        env: recorded(log),
        timeout: 90_000,
      },
    );
    expect(sqliteLoads(log)).toEqual([NODE_BUILD]);
  });

  it('the server (halfkey server reviewer list on SQLite)', async () => {
    const log = join(work, 'server.log');
    await promisify(execFile)(
      process.execPath,
      ['--import', RECORDER, CLI, 'server', 'reviewer', 'list', '--db', `sqlite:${join(work, 'server.db')}`],
      { env: recorded(log), timeout: 60_000 },
    );
    expect(sqliteLoads(log)).toEqual([NODE_BUILD]);
  });

  it('the preview (npm start without Electron), opening the vault the CLI made', async () => {
    const log = join(work, 'preview.log');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', RECORDER, join(projectRoot, 'electron', 'preview', 'main.ts'), '--vault', join(work, 'vault')],
      { cwd: projectRoot, env: recorded(log), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      // It prints its one line once the services (and so the vault) are open.
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`the preview exited with ${code}`)));
      });
    } finally {
      child.kill('SIGTERM');
    }
    expect(sqliteLoads(log)).toEqual([NODE_BUILD]);
  });

  it("the tests' own process", async () => {
    const { openDatabase } = await import('../../electron/base/database');
    const { openSqliteStorage } = await import('../../server/storage/sqlite');
    const seen: string[] = [];
    const dlopen = process.dlopen;
    process.dlopen = (module, filename, ...rest) => {
      seen.push(filename);
      return dlopen.call(process, module, filename, ...rest);
    };
    try {
      openDatabase(join(work, 'test-process.db')).close();
      await openSqliteStorage(join(work, 'test-server.db')).close();
    } finally {
      process.dlopen = dlopen;
    }
    expect(seen.filter((path) => path.endsWith('better_sqlite3.node')).map((path) => realpathSync(path))).toEqual([NODE_BUILD]);
  });
});
