import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJournal } from '../../electron/journal/export';
import { runReconcile } from '../../electron/reconcile/reconcile-service';
import { freshAccountId, openCustodyFixture, routed, type CustodyFixture } from '../support/custody-fixture';

// The journal side read from what custody really writes: a real vault (real keychain, real
// Argon2id, real SQLite) where custodians check halves out and in and rotate the password,
// exported as a bundle, against CloudTrail records placed at the times the journal recorded.

let f: CustodyFixture;
let account: string;
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

beforeAll(async () => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS)
    throw new Error('These tests need a real Secret Service: run them through build/with-keyring.sh (npm test does).');
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  account = freshAccountId();
  await f.as('admin');
  f.custody.accounts.add(
    routed('custody:account-add', {
      by: f.ids.admin,
      accountId: account,
      alias: 'real-custody',
      rootEmail: 'root@example.com',
      organisation: 'Customer',
    }),
  );
  // Assignments are proposals, each approved by the other custodian; each custodian acts while present.
  const password = f.proposeAssign('password', account, 'pat');
  const mfaHalf = f.proposeAssign('mfa', account, 'mia');
  await f.approve(password, 'mia');
  await f.approve(mfaHalf, 'pat');
  f.custody.halves.set({
    by: f.ids.pat,
    accountId: account,
    item: 'password',
    secret: { kind: 'password', password: 'Initial-Root-Passw0rd!' },
  });
  await f.as('mia');
  f.custody.halves.set({
    by: f.ids.mia,
    accountId: account,
    item: 'mfa',
    secret: { kind: 'totp', seed: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' },
  });
  await f.as('pat');
  const passwordOut = f.custody.checkouts.open(
    routed('custody:checkout', {
      by: f.ids.pat,
      accountId: account,
      item: 'password',
      reason: 'root sign-in drill',
      ticket: 'CHG-7',
      leaseSeconds: 600,
    }),
  );
  // The fixture's clock is the journal's: it moves only when told, as time passes between these steps.
  f.clock.t += 5_000;
  await f.as('mia');
  const mfa = f.custody.checkouts.open(
    routed('custody:checkout', { by: f.ids.mia, accountId: account, item: 'mfa', reason: 'root sign-in drill', leaseSeconds: 600 }),
  );
  f.clock.t += 5_000;
  await f.as('pat');
  f.custody.rotations.rotate(routed('custody:rotate', { by: f.ids.pat, accountId: account, item: 'password', seconds: 30 }));
  f.clock.t += 5_000;
  await f.as('mia');
  f.custody.checkouts.checkin({ by: f.ids.mia, checkoutId: mfa.checkoutId });
  f.clock.t += 5_000;
  await f.as('pat');
  f.custody.checkouts.checkin({ by: f.ids.pat, checkoutId: passwordOut.checkoutId });
}, 120_000);
afterAll(async () => {
  await f?.close();
});

describe('reconciling against a journal custody really wrote', () => {
  it('explains a sign-in while both halves were out, confirms the rotation by the password change, and leaves a later sign-in unexplained', async () => {
    const opened = f.vault.journal.query({ type: 'checkout.opened', account });
    const rotated = f.vault.journal.query({ type: 'rotation.pending', account });
    expect(opened).toHaveLength(2);
    expect(rotated).toHaveLength(1);
    const bothOut = Math.max(...opened.map((e) => e.time));
    const record = (id: string, time: number, source: string, name: string, extra: Record<string, unknown> = {}) => ({
      eventVersion: '1.09',
      userIdentity: { type: 'Root', principalId: account, arn: `arn:aws:iam::${account}:root`, accountId: account, accessKeyId: '' },
      eventTime: iso(time),
      eventSource: source,
      eventName: name,
      awsRegion: 'us-east-1',
      sourceIPAddress: '198.51.100.5',
      userAgent: 'Mozilla/5.0',
      requestParameters: null,
      eventID: id,
      eventType: 'AwsConsoleSignIn',
      recipientAccountId: account,
      ...extra,
    });
    const logs = join(f.dir, 'logs');
    mkdirSync(logs);
    writeFileSync(
      join(logs, 'root.json'),
      JSON.stringify({
        Records: [
          record('in-window', bothOut, 'signin.amazonaws.com', 'ConsoleLogin', {
            responseElements: { ConsoleLogin: 'Success' },
            additionalEventData: { MFAUsed: 'Yes' },
          }),
          record('password-set', rotated[0]!.time, 'signin.amazonaws.com', 'PasswordUpdated'),
          record('an-hour-later', bothOut + 3_600_000, 'signin.amazonaws.com', 'ConsoleLogin', {
            responseElements: { ConsoleLogin: 'Success' },
            additionalEventData: { MFAUsed: 'Yes' },
          }),
        ],
      }),
    );
    const bundle = join(f.dir, 'journal.hkj');
    exportJournal(f.vault.journal, { out: bundle, signer: f.vault.device.signer });

    const report = await runReconcile({ journal: { kind: 'bundle', path: bundle }, cloudtrail: [logs], slackSeconds: 300, workers: 1 });
    const byId = new Map(report.findings.map((x) => [x.eventId, x]));
    expect(byId.get('in-window')).toMatchObject({
      verdict: 'explained',
      accountAlias: 'real-custody',
      password: { custodian: f.ids.pat, custodianName: 'pat', reason: 'root sign-in drill', ticket: 'CHG-7', ended: 'checked-in' },
      mfaHalf: { custodian: f.ids.mia, custodianName: 'mia', ended: 'checked-in' },
    });
    expect(byId.get('password-set')).toMatchObject({
      verdict: 'explained',
      custodyEvent: 'password-change',
      matches: { type: 'rotation.pending', seq: rotated[0]!.seq },
      flags: [],
    });
    expect(byId.get('an-hour-later')).toMatchObject({ verdict: 'unexplained', nearest: { checkout: { account } } });
    expect(report.rotationsNotSeen).toEqual([]);
    expect(report.ok).toBe(false);
  });
});
