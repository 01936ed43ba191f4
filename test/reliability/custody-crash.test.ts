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
import { enrolCustodian, present } from '../support/roster';

// A child process doing checkouts and rotations is SIGKILLed at random moments, again and again;
// afterwards the vault tables and the journal must agree exactly, and the chain must verify. Real SQLite (WAL,
// synchronous=FULL), real keychain (run under build/with-keyring.sh), real process kills.
const CHILD = fileURLToPath(new URL('./custody-crash-child.ts', import.meta.url));
const ADMIN_PASS = 'amber lantern quietly folds 17';
const PAT_PASS = 'copper heron beneath winter 42';
const MIA_PASS = 'granite meadow whistles north 63';
const ACCOUNT = '210987654321';
const KILLS = 8;

let dir: string;
let keychain: Keychain;
let vaultId = '';
let patId = '';
let miaId = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-crash-'));
  keychain = await openKeytarKeychain();
  const { vault, adminId } = await Vault.create(dir, keychain, {
    admin: { name: 'Ada Admin', organisation: 'Provider', passphrase: ADMIN_PASS },
  });
  vaultId = vault.id;
  const admin = await vault.custodians.unlock(adminId, ADMIN_PASS);
  const pat = await vault.custodians.enrolFounding(admin, {
    name: 'Pat',
    organisation: 'Customer',
    role: 'password-custodian',
    passphrase: PAT_PASS,
  });
  patId = pat.id;
  // Assigning is a two-person change, and Pat may not approve his own assignment: Mia does.
  const mia = await enrolCustodian(
    vault,
    { id: adminId, passphrase: ADMIN_PASS },
    { name: 'Mia', organisation: 'Provider', role: 'mfa-custodian', passphrase: MIA_PASS },
    { id: pat.id, passphrase: PAT_PASS },
  );
  miaId = mia.id;
  const custody = await CustodyService.open(vault);
  await present(vault, { id: adminId, passphrase: ADMIN_PASS });
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
  const { proposal } = custody.assignments.proposeAssign({ by: adminId, accountId: ACCOUNT, item: 'password', custodianId: pat.id });
  await vault.proposals.approve({ by: mia.id, proposalId: proposal.id, passphrase: MIA_PASS });
  await present(vault, { id: pat.id, passphrase: PAT_PASS });
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
      // Rotations: every pending one was abandoned, but for at most the one still pending; the
      // half stays at generation 1, and the pending generation's sealed copy exists exactly while it is pending.
      const half = vault.db.prepare("SELECT generation FROM custody_halves WHERE account_id = ? AND item = 'password'").get(ACCOUNT) as {
        generation: number;
      };
      const pendingRows = vault.db
        .prepare("SELECT generation FROM custody_pending_rotations WHERE account_id = ? AND item = 'password'")
        .all(ACCOUNT) as { generation: number }[];
      const pendingEntries = entries.filter((e) => e.type === 'rotation.pending');
      const abandoned = entries.filter((e) => e.type === 'rotation.abandoned');
      expect(pendingEntries.length).toBeGreaterThan(0);
      expect(half.generation).toBe(1);
      expect(pendingEntries.length).toBe(abandoned.length + pendingRows.length);
      expect([...pendingEntries, ...abandoned].every((e) => e.data.generation === 2)).toBe(true);
      const sealed = vault.db
        .prepare("SELECT custodian_id, generation FROM custody_sealed WHERE account_id = ? AND item = 'password'")
        .all(ACCOUNT);
      expect(sealed).toEqual([{ custodian_id: patId, generation: 1 }]);
      const pendingSealed = vault.db
        .prepare("SELECT custodian_id, generation FROM custody_pending_sealed WHERE account_id = ? AND item = 'password'")
        .all(ACCOUNT);
      expect(pendingSealed).toEqual(pendingRows.map((r) => ({ custodian_id: patId, generation: r.generation })));
      const seen = () =>
        vault.db.prepare("SELECT custodian_id, generation FROM custody_seen WHERE account_id = ? AND item = 'password'").all(ACCOUNT);
      expect(seen()).toEqual([{ custodian_id: patId, generation: 1 }]);

      // Confirming (two custodians) makes the pending generation whole: the only sealed copy and sighting.
      await present(vault, { id: patId, passphrase: PAT_PASS });
      if (pendingRows.length === 0) custody.rotations.rotate({ by: patId, accountId: ACCOUNT, item: 'password', seconds: 1 });
      const { proposal } = custody.rotations.proposeConfirm({ by: patId, accountId: ACCOUNT, item: 'password' });
      await vault.proposals.approve({ by: miaId, proposalId: proposal.id, passphrase: MIA_PASS });
      expect(
        vault.db.prepare("SELECT custodian_id, generation FROM custody_sealed WHERE account_id = ? AND item = 'password'").all(ACCOUNT),
      ).toEqual([{ custodian_id: patId, generation: 2 }]);
      expect(seen()).toEqual([{ custodian_id: patId, generation: 2 }]);

      const all = [...vault.journal.read()];
      const report = verifyEntries(all);
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.entries).toBe(all.length);
      await custody.close();
    } finally {
      vault.close();
    }
  }, 180_000);
});
