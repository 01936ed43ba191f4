import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { lockOnScreenLockAndSuspend } from '../../electron/main/power-monitor';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { Keychain } from '../../electron/keychain/keychain';
import { PRESENCE_WINDOW_MS } from '../../electron/vault/custodians';
import { Vault } from '../../electron/vault/vault';

// Presence per action against one person at a workstation where others unlocked earlier
// (docs/custody.md, "Presence"): real vault, real keychain, real Argon2id; the clock is the vault's.
const ADA = 'amber lantern quietly folds 17';
const PAT = 'copper heron beneath winter 42';
let dir = '';
let keychain: Keychain;
let vault: Vault;
let adaId = '';
let patId = '';
const clock = { t: Date.now() };

async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof HalfkeyError) return error.code;
    throw error;
  }
  return 'none';
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-presence-'));
  keychain = await openKeytarKeychain();
  const created = await Vault.create(
    dir,
    keychain,
    { admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: ADA } },
    { now: () => clock.t },
  );
  vault = created.vault;
  adaId = created.adminId;
  const ada = await vault.custodians.unlock(adaId, ADA);
  patId = (
    await vault.custodians.enrolFounding(ada, { name: 'Pat', organisation: 'Customer', role: 'password-custodian', passphrase: PAT })
  ).id;
}, 120_000);

afterAll(async () => {
  vault.close();
  await keychain.delete(`device:${vault.id}`);
  rmSync(dir, { recursive: true, force: true });
});

describe('one actor at a time', () => {
  it('unlocking a custodian locks the one who acted before: no switching back without their passphrase', async () => {
    await vault.custodians.unlock(adaId, ADA);
    await vault.custodians.unlock(patId, PAT);
    expect(vault.custodians.actor()).toBe(patId);
    expect(vault.custodians.unlockedIds()).toEqual([patId]);
    expect(await codeOf(() => vault.custodians.unlocked(adaId))).toBe('CUSTODIAN_LOCKED');
    expect(vault.journal.query({ type: 'custodian.locked' }).at(-1)?.data).toEqual({ custodian: adaId, reason: 'switched' });
  });
});

describe('presence per action', () => {
  it('a half or a proposal needs the passphrase within the presence window; entering it again restarts the window', async () => {
    await vault.custodians.unlock(patId, PAT);
    expect(vault.custodians.present(patId).id).toBe(patId);
    const timers = vault.custodians.timers(patId)!;
    expect(timers.presentUntil).toBe(clock.t + PRESENCE_WINDOW_MS);
    clock.t += PRESENCE_WINDOW_MS + 1;
    // Still unlocked (idle lock is later), but no longer present.
    expect(vault.custodians.unlocked(patId).id).toBe(patId);
    expect(await codeOf(() => vault.custodians.present(patId))).toBe('PRESENCE_REQUIRED');
    expect(
      await codeOf(() =>
        vault.proposals.propose(patId, 'custodian.revoked', {
          custodian: adaId,
          signingKey: vault.custodians.get(adaId)!.signingKey,
          reason: 'x',
        }),
      ),
    ).toBe('PRESENCE_REQUIRED');
    await vault.custodians.unlock(patId, PAT);
    expect(vault.custodians.present(patId).id).toBe(patId);
  });
});

describe('the OS screen lock and suspend lock everyone (Electron powerMonitor, driven through an EventEmitter stand-in)', () => {
  for (const [event, reason] of [
    ['lock-screen', 'screen-locked'],
    ['suspend', 'suspended'],
  ] as const) {
    it(`${event} locks every custodian and journals why`, async () => {
      await vault.custodians.unlock(adaId, ADA);
      const power = new EventEmitter();
      lockOnScreenLockAndSuspend(power, (why) => vault.lock(why));
      power.emit(event);
      expect(vault.custodians.unlockedIds()).toEqual([]);
      expect(vault.journal.query({ type: 'vault.locked' }).at(-1)?.data).toEqual({ custodians: [adaId], reason });
      expect(vault.journal.query({ type: 'custodian.locked' }).at(-1)?.data).toEqual({ custodian: adaId, reason });
    });
  }
});
