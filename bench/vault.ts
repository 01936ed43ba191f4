// Custody speed, each figure beside the raw primitive measured in the same run:
//   checkout-to-code: checkout of an MFA half + its current TOTP code (two journaled, fsynced
//     transactions, device + custodian signatures, device-key open + crypto_box_seal_open), against
//     a raw crypto_box_seal_open + totpCode on the same blob size;
//   list / search 10,000 accounts: listAccounts (halves, open checkouts, assignments) against a raw
//     SELECT * of the accounts table.
// The custodian is unlocked once before timing: Argon2id is not part of either figure.
// Run: build/with-keyring.sh npx tsx bench/vault.ts   (targets: checkout-to-code p95 < 20 ms; list/search p95 < 50 ms)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserializeTotpParams, serializeTotpParams, totpCode, manualTotpParams } from '../shared/otp/totp';
import { sodiumReady } from '../shared/sodium';
import { CustodyService } from '../electron/custody/custody-service';
import { openKeytarKeychain } from '../electron/keychain/keytar-keychain';
import { Vault } from '../electron/vault/vault';

const SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const ACCOUNTS = 10_000;
/** The optional account fields, as the router fills them in. */
const ACCOUNT_DEFAULTS = { phone: null, notes: '', exclusiveCheckout: false, rotateAfterCheckout: false };

/** p50 and p95 of a list of milliseconds. */
function percentiles(samples: number[]): { p50: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95) };
}

async function time(run: () => unknown, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await run();
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out;
}

const fmt = (x: number) => x.toFixed(3);
function report(name: string, ours: number[], raw: number[], rawName: string): void {
  const o = percentiles(ours);
  const r = percentiles(raw);
  console.log(
    `${name}: p50 ${fmt(o.p50)} ms, p95 ${fmt(o.p95)} ms | ${rawName}: p50 ${fmt(r.p50)} ms, p95 ${fmt(r.p95)} ms | ratio p50 ${(o.p50 / r.p50).toFixed(1)}x, p95 ${(o.p95 / r.p95).toFixed(1)}x`,
  );
}

const sodium = await sodiumReady();
const dir = mkdtempSync(join(tmpdir(), 'halfkey-bench-'));
const keychain = await openKeytarKeychain();
const admin = { name: 'Ada Admin', organisation: 'Provider', passphrase: 'amber lantern quietly folds 17' };
const created = await Vault.create(dir, keychain, { admin });
const vault = created.vault;
try {
  const adminUnlocked = await vault.custodians.unlock(created.adminId, admin.passphrase);
  const mia = await vault.custodians.enrol(adminUnlocked, {
    name: 'Mia',
    organisation: 'Provider',
    role: 'mfa-custodian',
    passphrase: 'granite meadow whistles north 63',
  });
  const pat = await vault.custodians.enrol(adminUnlocked, {
    name: 'Pat',
    organisation: 'Customer',
    role: 'password-custodian',
    passphrase: 'copper heron beneath winter 42',
  });
  await vault.custodians.unlock(mia.id, 'granite meadow whistles north 63');
  const custody = await CustodyService.open(vault);

  // Checkout-to-code.
  const account = '123456789012';
  custody.accounts.add({
    by: created.adminId,
    ...ACCOUNT_DEFAULTS,
    accountId: account,
    alias: 'bench',
    rootEmail: 'root@example.com',
    organisation: 'Customer',
  });
  custody.halves.assign({ by: created.adminId, accountId: account, item: 'mfa', custodianId: mia.id });
  custody.halves.set({ by: mia.id, accountId: account, item: 'mfa', secret: { kind: 'totp', seed: SEED } });
  const rounds = 300;
  const checkouts: string[] = [];
  const ours = await time(async () => {
    const out = custody.checkouts.open({ by: mia.id, accountId: account, item: 'mfa', reason: 'bench', leaseSeconds: 3600 });
    await custody.checkouts.totpCode({ by: mia.id, checkoutId: out.checkoutId });
    checkouts.push(out.checkoutId);
  }, rounds);
  for (const id of checkouts.splice(0)) custody.checkouts.checkin({ by: mia.id, checkoutId: id });
  const keys = sodium.crypto_box_keypair();
  const sealed = sodium.crypto_box_seal(serializeTotpParams(manualTotpParams(SEED)), keys.publicKey);
  let t = Date.now();
  const raw = await time(async () => {
    const params = deserializeTotpParams(sodium.crypto_box_seal_open(sealed, keys.publicKey, keys.privateKey));
    await totpCode(params, (t += 30_000));
  }, rounds);
  report(`checkout-to-code (${rounds} rounds)`, ours, raw, 'raw crypto_box_seal_open + totpCode');
  // Context for the figure above: it commits twice (the checkout, the code shown), each durable
  // (WAL, synchronous=FULL: an fsync). The same loop with fsync off shows the CPU part alone;
  // it is context only, never how Halfkey runs.
  vault.db.pragma('synchronous = OFF');
  const cpuOnly = await time(async () => {
    const out = custody.checkouts.open({ by: mia.id, accountId: account, item: 'mfa', reason: 'bench', leaseSeconds: 3600 });
    await custody.checkouts.totpCode({ by: mia.id, checkoutId: out.checkoutId });
    checkouts.push(out.checkoutId);
  }, rounds);
  vault.db.pragma('synchronous = FULL');
  for (const id of checkouts.splice(0)) custody.checkouts.checkin({ by: mia.id, checkoutId: id });
  report('  the same with fsync off (context only)', cpuOnly, raw, 'raw crypto_box_seal_open + totpCode');

  // 10,000 accounts, each with its password half assigned (bulk-loaded in one transaction; every row still journaled).
  const loadStart = Date.now();
  vault.db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) {
      const id = String(200_000_000_000 + i);
      custody.accounts.add({
        by: created.adminId,
        ...ACCOUNT_DEFAULTS,
        accountId: id,
        alias: `acct-${i}`,
        rootEmail: `root+${i}@example.com`,
        organisation: i % 2 === 0 ? 'Customer' : 'Partner',
      });
      custody.halves.assign({ by: created.adminId, accountId: id, item: 'password', custodianId: pat.id });
    }
  })();
  console.log(`loaded ${ACCOUNTS} accounts with assignments in ${Date.now() - loadStart} ms (${vault.journal.size()} journal entries)`);
  const listRaw = await time(() => vault.db.prepare('SELECT * FROM custody_accounts').all(), 30);
  const list = await time(() => {
    const page = custody.accounts.list({ search: '', limit: 10_000, offset: 0 });
    if (page.accounts.length !== 10_000) throw new Error(`listed ${page.accounts.length}`);
  }, 30);
  report(`list 10,000 of ${ACCOUNTS + 1} accounts`, list, listRaw, 'raw SELECT * of the table');
  const pageRaw = await time(
    () => vault.db.prepare('SELECT * FROM custody_accounts ORDER BY alias COLLATE NOCASE, id LIMIT 200 OFFSET 5000').all(),
    30,
  );
  const page = await time(() => custody.accounts.list({ search: '', limit: 200, offset: 5_000 }), 30);
  report(`list a page of 200 (offset 5,000) of ${ACCOUNTS + 1} accounts`, page, pageRaw, 'raw SELECT … ORDER BY … LIMIT 200');
  const searchRaw = await time(() => vault.db.prepare("SELECT * FROM custody_accounts WHERE alias LIKE '%acct-99%'").all(), 30);
  const search = await time(() => {
    const found = custody.accounts.list({ search: 'acct-99', limit: 10_000, offset: 0 });
    if (found.total !== 111) throw new Error(`found ${found.total}`);
  }, 30);
  report(`search 'acct-99' over ${ACCOUNTS + 1} accounts (111 hits)`, search, searchRaw, 'raw SELECT … LIKE');
  await custody.close();
} finally {
  vault.close();
  await keychain.delete(`device:${vault.id}`);
  rmSync(dir, { recursive: true, force: true });
}
