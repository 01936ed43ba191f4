import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedEntry } from '../../shared/journal/entry';
import { verifyEntries } from '../../shared/journal/verifier';
import { CustodyService } from '../../electron/custody/custody-service';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import type { Keychain } from '../../electron/keychain/keychain';
import { Vault } from '../../electron/vault/vault';

// A child process doing checkouts is SIGKILLed at random moments, again and again; afterwards the
// vault tables and the journal must agree exactly, and the chain must verify. Real SQLite (WAL,
// synchronous=FULL), real keychain (run under build/with-keyring.sh), real process kills.
const CHILD = fileURLToPath(new URL('./custody-crash-child.ts', import.meta.url));
const ADMIN_PASS = 'amber lantern quietly folds 17';
const PAT_PASS = 'copper heron beneath winter 42';
const ACCOUNT = '210987654321';
const KILLS = 8;

let dir: string;
let keychain: Keychain;
let vaultId = '';
let patId = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-crash-'));
  keychain = await openKeytarKeychain();
  const { vault, adminId } = await Vault.create(dir, keychain, {
    admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: ADMIN_PASS },
  });
  vaultId = vault.id;
  const admin = await vault.custodians.unlock(adminId, ADMIN_PASS);
  const pat = await vault.custodians.enrol(admin, {
    name: 'Pat',
    organisation: 'Customer',
    role: 'password-custodian',
    passphrase: PAT_PASS,
  });
  await vault.custodians.unlock(pat.id, PAT_PASS);
  patId = pat.id;
  const custody = await CustodyService.open(vault);
  custody.accounts.add({
    by: adminId,
    accountId: ACCOUNT,
    alias: 'crash',
    rootEmail: 'root@example.com',
    organisation: 'Customer',
    phone: null,
    notes: '',
    exclusiveCheckout: false,
    rotateAfterCheckout: false,
  });
  custody.halves.assign({ by: adminId, accountId: ACCOUNT, item: 'password', custodianId: pat.id });
  custody.halves.set({ by: pat.id, accountId: ACCOUNT, item: 'password', secret: { kind: 'password', password: 'Crash-Test-Passw0rd!' } });
  await custody.close();
  vault.close();
}, 120_000);

afterAll(async () => {
  if (vaultId) await keychain.delete(`device:${vaultId}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts the child, waits for "ready", lets it run for `ms`, kills it with SIGKILL. */
function runAndKill(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: { ...process.env, CRASH_VAULT_DIR: dir, CRASH_CUSTODIAN: patId, CRASH_PASSPHRASE: PAT_PASS, CRASH_ACCOUNT: ACCOUNT },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let ready = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (!ready && d.toString().includes('ready')) {
        ready = true;
        setTimeout(() => child.kill('SIGKILL'), ms);
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`child exited on its own (code ${code}): ${stderr.slice(-2000)}`));
    });
  });
}

describe('crash consistency of checkouts', () => {
  it(`after ${KILLS} SIGKILLs at random points, every checkout row has its entries and every entry its row, rotations are whole, and the chain verifies`, async () => {
    for (let i = 0; i < KILLS; i += 1) await runAndKill(20 + Math.floor(Math.random() * 500));

    const vault = await Vault.open(dir, keychain);
    try {
      const custody = await CustodyService.open(vault);
      const rows = vault.db.prepare('SELECT id, closed_at, close_kind FROM custody_checkouts').all() as {
        id: string;
        closed_at: number | null;
        close_kind: string | null;
      }[];
      const entries = [...vault.journal.read()] as SignedEntry[];
      const byType = (type: string) => entries.filter((e) => e.type === type).map((e) => String(e.data.checkout));
      const opened = byType('checkout.opened');
      const closed = byType('checkout.closed');
      const revealed = byType('secret.revealed');
      expect(rows.length).toBeGreaterThan(KILLS);
      // Each opened row: exactly one checkout.opened; each checked-in row: exactly one checkout.closed; and nothing else.
      expect(new Set(opened).size).toBe(opened.length);
      expect(new Set(opened)).toEqual(new Set(rows.map((r) => r.id)));
      expect(new Set(closed).size).toBe(closed.length);
      expect(new Set(closed)).toEqual(new Set(rows.filter((r) => r.close_kind === 'checked-in').map((r) => r.id)));
      expect(rows.every((r) => r.close_kind === 'checked-in' || r.close_kind === null)).toBe(true);
      // Reveals only under a row that exists; at most one per checkout (the child reveals once per round).
      expect(revealed.every((id) => opened.includes(id))).toBe(true);
      expect(new Set(revealed).size).toBe(revealed.length);
      // The kills left at most one checkout per run open (killed between checkout and check-in).
      expect(rows.filter((r) => r.closed_at === null).length).toBeLessThanOrEqual(KILLS);
      // Rotations: the half's generation is 1 + the rotations journaled, and only that generation's
      // sealed copy and sighting exist (never a half-written rotation).
      const half = vault.db.prepare("SELECT generation FROM custody_halves WHERE account_id = ? AND item = 'password'").get(ACCOUNT) as {
        generation: number;
      };
      const rotations = entries.filter((e) => e.type === 'half.rotated');
      expect(rotations.length).toBeGreaterThan(0);
      expect(half.generation).toBe(1 + rotations.length);
      expect(rotations.map((e) => e.data.generation)).toEqual(rotations.map((_, i) => i + 2));
      const sealed = vault.db
        .prepare("SELECT custodian_id, generation FROM custody_sealed WHERE account_id = ? AND item = 'password'")
        .all(ACCOUNT);
      expect(sealed).toEqual([{ custodian_id: patId, generation: half.generation }]);
      const seen = vault.db
        .prepare("SELECT custodian_id, generation FROM custody_seen WHERE account_id = ? AND item = 'password'")
        .all(ACCOUNT);
      expect(seen).toEqual([{ custodian_id: patId, generation: half.generation }]);

      const report = verifyEntries(entries);
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.entries).toBe(entries.length);
      await custody.close();
    } finally {
      vault.close();
    }
  }, 180_000);
});
