import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiResult } from '../../shared/api/result';
import type { CallContext } from '../../electron/app/router';
import { runCli, type CliIo } from '../../electron/cli/main';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { requireKeyring } from '../support/halfkey-cli';

// Every router the CLI makes is wrapped to record what crosses it: the channel, the adapter the
// CLI names, and the router's answer. The CLI itself runs in this process, unchanged.
const crossed = vi.hoisted(() => [] as { channel: unknown; adapter: CallContext['adapter']; result: ApiResult<unknown> }[]);
vi.mock('../../electron/app/router', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../electron/app/router')>();
  return {
    ...actual,
    createRouter: (...args: Parameters<typeof actual.createRouter>) => {
      const router = actual.createRouter(...args);
      return {
        call: async (channel: unknown, payload: unknown, context: CallContext) => {
          const result = await router.call(channel, payload, context);
          crossed.push({ channel, adapter: context.adapter, result });
          return result;
        },
      };
    },
  };
});

const PASSPHRASE = 'lantern orchard pebble 57';
let work: string;
let vaultId = '';

async function halfkey(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd: work };
  crossed.length = 0;
  const code = await runCli(args, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(async () => {
  requireKeyring();
  work = mkdtempSync(join(tmpdir(), 'halfkey-router-cli-'));
  writeFileSync(join(work, 'admin.pass'), `${PASSPHRASE}\n`);
  const init = await halfkey([
    'init',
    '--vault',
    'vault',
    '--admin-name',
    'Ada Admin',
    '--organisation',
    'Provider Ltd',
    '--passphrase-file',
    'admin.pass',
  ]);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  vaultId = /Vault ([0-9a-f]{32}) created/.exec(init.stdout)?.[1] ?? '';
  expect(crossed.map((c) => [c.channel, c.adapter, c.result.ok])).toEqual([['vault:create', 'cli', true]]);
}, 120_000);
afterAll(async () => {
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the CLI is an adapter over the API router', () => {
  it("a router refusal (INVALID_PAYLOAD naming the field) reaches the user as exit 2, in the option's name, with the schema's words", async () => {
    const result = await halfkey([
      'custodian',
      'add',
      '--vault',
      'vault',
      '--as',
      'not-a-custodian-id',
      '--name',
      'Rita',
      '--organisation',
      'Audit',
      '--role',
      'reviewer',
      '--passphrase-file',
      'admin.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    // The words are the schema's (shared/api/channels/vault.ts), which only the router applies; the field is the user's option.
    expect(result.stderr).toBe('halfkey custodian: --as: a custodian id is 32 lowercase hex characters [INVALID_PAYLOAD]\n');
    expect(crossed.map((c) => [c.channel, c.adapter])).toEqual([
      ['vault:open', 'cli'],
      ['custodian:unlock', 'cli'],
    ]);
    expect(crossed[1]!.result).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', detail: { field: 'custodianId', issue: 'a custodian id is 32 lowercase hex characters' } },
    });
    expect(result.stderr).not.toContain(PASSPHRASE);
  });

  it('acts as a custodian the way the app does: custodian:unlock, then requests carrying `by`', async () => {
    const list = await halfkey(['custodian', 'list', '--vault', 'vault', '--json']);
    expect(list.code).toBe(0);
    const [admin] = JSON.parse(list.stdout) as { id: string }[];
    const result = await halfkey([
      'account',
      'add',
      '--vault',
      'vault',
      '--as',
      admin!.id,
      '--passphrase-file',
      'admin.pass',
      '--id',
      '210987654321',
      '--alias',
      'routed',
      '--email',
      'root@example.com',
      '--organisation',
      'Customer',
    ]);
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, stdout: 'added account 210987654321 (routed)\n' });
    expect(crossed.map((c) => [c.channel, c.adapter, c.result.ok])).toEqual([
      ['vault:open', 'cli', true],
      ['custodian:unlock', 'cli', true],
      ['custody:account-add', 'cli', true],
    ]);
  });

  it("the services the CLI opens report mode 'cli' in app:status", async () => {
    const result = await halfkey(['status', '--vault', 'vault', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ mode: 'cli', vault: { state: 'locked', id: vaultId } });
    expect(crossed.map((c) => c.channel)).toEqual(['vault:open', 'app:status']);
    expect(crossed[1]!.result).toMatchObject({ ok: true, value: { mode: 'cli' } });
  });

  it('a policy refusal by a handler exits 3, a missing vault 1 (and no folder is made for it), a vault held by another opener 2', async () => {
    // Only an admin may enrol: the admin enrols a reviewer, who then tries to enrol someone.
    writeFileSync(join(work, 'rita.pass'), 'quarry velvet signal 88');
    const [admin] = JSON.parse((await halfkey(['custodian', 'list', '--vault', 'vault', '--json'])).stdout) as { id: string }[];
    const rita = await halfkey([
      'custodian',
      'add',
      '--vault',
      'vault',
      '--as',
      admin!.id,
      '--name',
      'Rita Reviewer',
      '--organisation',
      'Audit',
      '--role',
      'reviewer',
      '--passphrase-file',
      'rita.pass',
      '--admin-passphrase-file',
      'admin.pass',
    ]);
    expect(rita.code).toBe(0);
    const ritaId = /custodian id ([0-9a-f]{32})/.exec(rita.stdout)?.[1] ?? '';
    const refused = await halfkey([
      'custodian',
      'add',
      '--vault',
      'vault',
      '--as',
      ritaId,
      '--name',
      'Max',
      '--organisation',
      'Audit',
      '--role',
      'reviewer',
      '--admin-passphrase-file',
      'rita.pass',
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/Rita Reviewer cannot propose this: custodian\.enrolled is proposed by admin.*\[NOT_PERMITTED\]/);

    const none = await halfkey(['custodian', 'list', '--vault', 'elsewhere']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/There is no vault in .*elsewhere.*\[VAULT_NOT_INITIALISED\]/);
    expect(existsSync(join(work, 'elsewhere'))).toBe(false);

    // The app (or another halfkey) holds the vault: the CLI's open is refused with VAULT_IN_USE.
    const { openAppServices } = await import('../../electron/app/app-services');
    const app = await openAppServices({ mode: 'preview', vaultDir: join(work, 'vault') });
    try {
      const busy = await halfkey(['custodian', 'list', '--vault', 'vault']);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/is already open in this Halfkey process.*\[CONFLICT\]/);
      expect(crossed[0]!.result).toMatchObject({ ok: false, error: { detail: { reason: 'VAULT_IN_USE' } } });
    } finally {
      await app.close();
    }
  });
});
