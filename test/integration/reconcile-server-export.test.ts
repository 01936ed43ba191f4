import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseOf } from '../../shared/api/contract';
import { sodiumReady } from '../../shared/sodium';
import { gzippedCopy, INPUTS } from '../fixtures/cloudtrail/expected-findings';
import { fixtureJournal } from '../fixtures/cloudtrail/fixture-journal';
import { halfkeyIn } from '../support/halfkey-cli';
import { seededSigner, TestJournal } from '../support/journal-builder';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { enrolledClient, grantReviewer, reviewerExport } from '../support/sync-fixture';

// The org-wide view: two devices sync to a real central server (SQLite), a reviewer downloads
// the server's export, and `halfkey reconcile --server-export` sets the same CloudTrail fixture
// against both devices' custody. Account 333333333333, unknown to the first device, is held by
// the second, so its root sign-in is reconciled instead of skipped.

let work: string;
let server: TestServer;
const halfkey = halfkeyIn(() => work);
const REVIEWER_SEED = 0x52;
const at = (iso: string): number => Date.parse(iso);

/** The second device: account 333333333333, both halves out around its sign-in at 12:00. */
function secondDevice(): TestJournal {
  const journal = new TestJournal({ start: at('2025-12-31T12:00:00Z'), deviceSeed: 33 });
  // The admin and sam are the founding pair; kim's enrolment is proposed by the admin and approved by sam.
  const ada = journal.enrol('ada2', 0x63, { name: 'Ada Admin', role: 'admin' });
  const sam = journal.enrol('sam', 0x61, { name: 'Sam Password', role: 'password-custodian' });
  const kim = journal.enrol('kim', 0x62, { name: 'Kim MFA', role: 'mfa-custodian' });
  const write = (time: string, type: string, actor: typeof sam | null, data: Record<string, string | number | boolean | null>): void => {
    journal.clock = at(time);
    journal.store.append({ type, actor, account: '333333333333', data });
  };
  write('2026-01-01T09:00:00Z', 'account.added', ada, {
    alias: 'sandbox-root',
    rootEmail: 'aws-root-sandbox@example.com',
    organisation: 'Customer',
    phone: null,
    exclusiveCheckout: true,
    rotateAfterCheckout: false,
  });
  write('2026-01-02T11:55:00Z', 'checkout.opened', sam, {
    checkout: '30000000000000000000000000000001',
    item: 'password',
    reason: 'sandbox cleanup',
    ticket: null,
    leaseUntil: at('2026-01-02T13:00:00Z'),
  });
  write('2026-01-02T11:56:00Z', 'checkout.opened', kim, {
    checkout: '30000000000000000000000000000002',
    item: 'mfa',
    reason: 'sandbox cleanup',
    ticket: null,
    leaseUntil: at('2026-01-02T13:00:00Z'),
  });
  write('2026-01-02T12:10:00Z', 'checkout.closed', sam, {
    checkout: '30000000000000000000000000000001',
    item: 'password',
    rotationDue: false,
  });
  write('2026-01-02T12:11:00Z', 'checkout.closed', kim, { checkout: '30000000000000000000000000000002', item: 'mfa', rotationDue: false });
  return journal;
}

beforeAll(async () => {
  await sodiumReady();
  work = mkdtempSync(join(tmpdir(), 'halfkey-reconcile-export-'));
  gzippedCopy(work);
  server = await startTestServer('sqlite');
  const first = fixtureJournal();
  const second = secondDevice();
  try {
    first.enrol('rita', REVIEWER_SEED, { name: 'Rita Reviewer', role: 'reviewer' });
    await grantReviewer(server, seededSigner(REVIEWER_SEED).publicKey, 'Rita');
    for (const journal of [first, second]) await (await enrolledClient(server, journal)).syncNow();
    writeFileSync(join(work, 'org.hkx'), await reviewerExport(server, seededSigner(REVIEWER_SEED)));
  } finally {
    first.close();
    second.close();
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('halfkey reconcile --server-export', () => {
  it('verifies the export against the pinned server key and reconciles root activity of every device in it', async () => {
    const run = await halfkey([
      'reconcile',
      '--server-export',
      'org.hkx',
      '--server-key',
      server.signer.publicKey,
      '--cloudtrail',
      ...INPUTS,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as ResponseOf<'reconcile:run'>;
    expect(report.journal).toMatchObject({ kind: 'server-export', devices: 2, checkouts: 8 });
    expect(report.journal.accounts.map((a) => a.account)).toEqual(['111111111111', '222222222222', '333333333333']);
    const sandbox = report.findings.find((f) => f.eventId === '5e1c0a7e-0015-4c1e-9d2a-000000000015');
    expect(sandbox).toMatchObject({
      verdict: 'explained',
      accountAlias: 'sandbox-root',
      password: { custodian: 'sam', custodianName: 'Sam Password', reason: 'sandbox cleanup' },
      mfaHalf: { custodian: 'kim' },
    });
    // Everything else is as against the first device's bundle alone.
    expect(report.summary).toMatchObject({ explained: 11, halfExplained: 2, unexplained: 2, failedSignIns: 2, flagged: 4 });
    expect(report.skippedByReason.map((s) => s.reason)).not.toContain('ACCOUNT_NOT_IN_VAULT');
    expect(report.counts.skippedRecords).toBe(5);
  });

  it('refuses an export checked against another server key (exit 2): its entries cannot be trusted', async () => {
    const run = await halfkey(['reconcile', '--server-export', 'org.hkx', '--server-key', 'ab'.repeat(32), '--cloudtrail', 'logs']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/does not verify .*SERVER_KEY_MISMATCH/);
    expect(run.stdout).toBe('');
  });
});
