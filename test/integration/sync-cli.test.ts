import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { issueToken } from '../support/sync-fixture';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';

let work: string;
let server: TestServer;
let vaultId = '';
let pinnedVaultId = '';

const halfkey = halfkeyIn(() => work);

beforeAll(async () => {
  requireKeyring();
  await sodiumReady();
  work = mkdtempSync(join(tmpdir(), 'halfkey-sync-cli-'));
  writeFileSync(join(work, 'admin.pass'), 'orchard lantern pebble 41\n');
  server = await startTestServer('sqlite');
});
afterAll(async () => {
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  if (pinnedVaultId) await (await openKeytarKeychain()).delete(deviceAccount(pinnedVaultId));
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('halfkey sync', () => {
  it('exits 2 for bad arguments, naming the problem', async () => {
    const missing = await halfkey(['sync']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--vault is required/);
    const half = await halfkey(['sync', '--vault', 'v', '--enroll', 'http://127.0.0.1:1']);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--enroll needs --token-file/);
  });

  it('enrols a real vault with a token file, uploads its whole journal, and is idempotent afterwards', async () => {
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
    expect(init.code).toBe(0);
    writeFileSync(join(work, 'token'), `${await issueToken(server)}\n`);
    const first = await halfkey(['sync', '--vault', 'vault', '--enroll', server.url, '--token-file', 'token']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(server.signer.fingerprint);
    expect(first.stdout).toMatch(/pending entries: 0/);
    const devices = await server.storage.queries.listDevices();
    expect(devices).toHaveLength(1);
    vaultId = devices[0]!.vault;
    const held = await server.storage.queries.entriesBySeq(devices[0]!.device, 0, 1_000);
    expect(held.length).toBeGreaterThan(0);
    expect(held.map((e) => e.seq)).toEqual(held.map((_, i) => i));
    const again = await halfkey(['sync', '--vault', 'vault']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/state: idle/);
    // A second enrolment of an enrolled vault is refused with the reason.
    writeFileSync(join(work, 'token2'), await issueToken(server));
    const twice = await halfkey(['sync', '--vault', 'vault', '--enroll', server.url, '--token-file', 'token2']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already enrolled/);
    // --repin checks the fingerprint a person was given against the key the server presents now.
    const both = await halfkey([
      'sync',
      '--vault',
      'vault',
      '--repin',
      server.signer.fingerprint,
      '--enroll',
      server.url,
      '--token-file',
      'token2',
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--repin and --enroll go separately/);
    const malformed = await halfkey(['sync', '--vault', 'vault', '--repin', 'abc']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/32 hex digits/);
    // The server has not rotated: there is nothing to re-pin, whatever fingerprint is given
    // (test/integration/server-key-repin.test.ts rotates a real server's key).
    for (const fingerprint of [server.signer.fingerprint, '0123 4567 89ab cdef 0123 4567 89ab cdef']) {
      const same = await halfkey(['sync', '--vault', 'vault', '--repin', fingerprint]);
      expect(same.code).toBe(1);
      expect(same.stderr).toMatch(/still signs with the pinned key/);
    }
  });

  it('--fingerprint checks the server key before enrolling, as --repin does: a wrong one is refused (exit 3) with nothing stored, the right one enrols', async () => {
    const init = await halfkey([
      'init',
      '--vault',
      'pinned',
      '--admin-name',
      'Ada Admin',
      '--organisation',
      'Provider Ltd',
      '--passphrase-file',
      'admin.pass',
    ]);
    expect(init.code).toBe(0);
    writeFileSync(join(work, 'pinned-token'), `${await issueToken(server)}\n`);
    const enrolled = (await server.storage.queries.listDevices()).length;

    const wrong = await halfkey([
      'sync',
      '--vault',
      'pinned',
      '--enroll',
      server.url,
      '--token-file',
      'pinned-token',
      '--fingerprint',
      '0123 4567 89ab cdef 0123 4567 89ab cdef',
    ]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(
      `presents a key with fingerprint ${server.signer.fingerprint}, not the one given (0123 4567 89ab cdef 0123 4567 89ab cdef)`,
    );
    expect(await server.storage.queries.listDevices()).toHaveLength(enrolled);
    const status = await halfkey(['sync', '--vault', 'pinned']);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/not enrolled/);

    const malformed = await halfkey([
      'sync',
      '--vault',
      'pinned',
      '--enroll',
      server.url,
      '--token-file',
      'pinned-token',
      '--fingerprint',
      'abc',
    ]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/32 hex digits/);
    const alone = await halfkey(['sync', '--vault', 'pinned', '--fingerprint', server.signer.fingerprint]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/needs --enroll/);

    // Typed as a person reads it off the operator's screen: upper case, spaces where they fall. The refusals left the token unused.
    const right = await halfkey([
      'sync',
      '--vault',
      'pinned',
      '--enroll',
      server.url,
      '--token-file',
      'pinned-token',
      '--fingerprint',
      ` ${server.signer.fingerprint.toUpperCase()} `,
    ]);
    expect(right.stderr).toBe('');
    expect(right.code).toBe(0);
    expect(right.stdout).toMatch(/pending entries: 0/);
    const devices = await server.storage.queries.listDevices();
    expect(devices).toHaveLength(enrolled + 1);
    pinnedVaultId = devices.find((d) => d.vault !== vaultId)!.vault;
  });
});
