import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HALF_PASSWORD, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';
import { enrolCustodian } from '../support/roster';
import { ServerProcess, freePort } from '../support/server-process';

// Issue 15 end to end, every step a real process: the central server (`halfkey server`, SQLite)
// with a webhook to a receiver on loopback; a real vault folder on the real keychain; the
// break-glass ceremony run by two custodians with the server stopped (the network cut); the
// server back, sync, the incident; the webhook received exactly once with a valid signature;
// the reviewer's verified queue, acknowledgement (the first one kept) and the org export that
// verifies with the review in it.

const RITA_PASSPHRASE = 'harbour tinsel marble 57 quietly';
const WEBHOOK_SECRET = 'e2e-webhook-secret-not-real-0123456789';

let f: CustodyFixture;
let serverDir: string;
let accountId = '';
let ritaId = '';
let ritaKey = '';
let server: ServerProcess;
let serverUrl = '';
let receiver: Server;
let receiverUrl = '';
/** Every request the webhook receiver got: headers and the exact body bytes. */
const received: { headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];

const halfkey = halfkeyIn(() => f.dir);
const as = (name: 'pat' | 'mia' | 'rita') => [
  '--vault',
  f.dir,
  '--as',
  name === 'rita' ? ritaId : f.ids[name],
  '--passphrase-file',
  `${name}.pass`,
];
const db = (): string => `sqlite:${join(serverDir, 'server.db')}`;

beforeAll(async () => {
  requireKeyring();
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  accountId = await f.fullAccount();
  const rita = await enrolCustodian(
    f.vault,
    { id: f.ids.admin, passphrase: PASSPHRASES.admin },
    { name: 'Rita Reviewer', organisation: 'Provider', role: 'reviewer', passphrase: RITA_PASSPHRASE },
    { id: f.ids.pat, passphrase: PASSPHRASES.pat },
  );
  ritaId = rita.id;
  ritaKey = rita.signingKey;
  await f.custody.close();
  f.vault.close();
  for (const name of ['pat', 'mia'] as const) writeFileSync(join(f.dir, `${name}.pass`), `${PASSPHRASES[name]}\n`);
  writeFileSync(join(f.dir, 'rita.pass'), `${RITA_PASSPHRASE}\n`);

  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/halfkey`;

  // The operator's side, all before the server first starts.
  serverDir = mkdtempSync(join(tmpdir(), 'halfkey-e2e-server-'));
  writeFileSync(join(serverDir, 'webhook.secret'), `${WEBHOOK_SECRET}\n`);
  const port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  server = new ServerProcess({ db: db(), port, keyFile: join(serverDir, 'server.key') });
  await server.start();
  const token = await halfkey(['server', 'enroll-token', '--db', db()]);
  expect(token.code).toBe(0);
  writeFileSync(join(f.dir, 'token'), token.stdout);
  const hook = await halfkey([
    'server',
    'webhook',
    'add',
    '--db',
    db(),
    '--name',
    '#security',
    '--url',
    receiverUrl,
    '--secret-file',
    join(serverDir, 'webhook.secret'),
  ]);
  expect(hook.code).toBe(0);
  expect(hook.stdout).not.toContain(WEBHOOK_SECRET);
  expect((await halfkey(['server', 'reviewer', 'grant', '--db', db(), '--key', ritaKey, '--name', 'Rita'])).code).toBe(0);
  const enrolled = await halfkey(['sync', '--vault', f.dir, '--enroll', serverUrl, '--token-file', 'token']);
  expect(enrolled.stderr).toBe('');
  expect(enrolled.code).toBe(0);
}, 240_000);

afterAll(async () => {
  await server?.stop();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  await f?.close();
  if (serverDir) rmSync(serverDir, { recursive: true, force: true });
});

/** Waits until the receiver holds a request for `event`, then a little longer to see any repeat. */
async function deliveriesOf(event: string): Promise<typeof received> {
  const of = () => received.filter((r) => r.headers['x-halfkey-event'] === event);
  for (let waited = 0; of().length === 0 && waited < 20_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1500));
  return of();
}

describe('break-glass with the network cut, then the reviewer closes the loop', () => {
  it('runs offline, syncs when the server is back, notifies once, and is acknowledged in a verifiable review', async () => {
    // The network cut: the server is down for the whole ceremony.
    await server.stop();
    const opened = await halfkey([
      'break-glass',
      'open',
      ...as('pat'),
      '--account',
      accountId,
      '--reference',
      'INC-2041',
      '--reason',
      'identity provider down, every admin locked out',
      '--severity',
      'critical',
      '--lease',
      '30m',
    ]);
    expect(opened.stderr).toBe('');
    expect(opened.code).toBe(0);
    const sessionId = /session ([0-9a-f]{32})/.exec(opened.stdout)![1]!;
    const pw = await halfkey(['break-glass', 'use-password', ...as('pat'), '--session', sessionId]);
    expect(pw.code).toBe(0);
    expect(pw.stdout.split('\n')).toContain(HALF_PASSWORD);
    const mfa = await halfkey(['break-glass', 'use-mfa', ...as('mia'), '--session', sessionId]);
    expect(mfa.code).toBe(0);
    const closed = await halfkey([
      'break-glass',
      'close',
      ...as('mia'),
      '--session',
      sessionId,
      '--outcome',
      'resolved',
      '--note',
      'break-glass role created, SCP fixed, signed out',
    ]);
    expect(closed.code).toBe(0);
    const offline = await halfkey(['sync', '--vault', f.dir]);
    expect(offline.code).not.toBe(0);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toMatch(/state: offline\npending entries: \d+/);
    expect(offline.stdout).toMatch(/last error: the server at .* is unreachable/);
    expect(received).toEqual([]);

    // The server is back: one sync uploads the ceremony and the server opens the incident.
    await server.start();
    const synced = await halfkey(['sync', '--vault', f.dir]);
    expect(synced.stderr).toBe('');
    expect(synced.code).toBe(0);

    const opening = await deliveriesOf('incident.opened');
    expect(opening).toHaveLength(1);
    const delivery = opening[0]!;
    expect(delivery.headers['x-halfkey-signature']).toBe(
      `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(delivery.body).digest('hex')}`,
    );
    const body = JSON.parse(delivery.body.toString('utf8')) as {
      schema: string;
      event: string;
      subject: string;
      delivery: string;
      text: string;
    };
    expect(body).toMatchObject({
      schema: 'halfkey.webhook.v1',
      event: 'incident.opened',
      delivery: delivery.headers['x-halfkey-delivery'],
    });
    expect(body.text).toContain('INC-2041');
    expect(delivery.body.toString('utf8')).not.toContain(HALF_PASSWORD);

    // The reviewer's queue, verified on this machine under the pinned server key.
    const queue = await halfkey(['review', 'incidents', ...as('rita'), '--json']);
    expect(queue.stderr).toBe('');
    expect(queue.code).toBe(0);
    const incidents = (
      JSON.parse(queue.stdout) as {
        incidents: {
          id: string;
          account: string;
          reference: string;
          state: string;
          verified: boolean;
          entries: { type: string; actor: string | null }[];
        }[];
      }
    ).incidents;
    expect(incidents).toHaveLength(1);
    const incident = incidents[0]!;
    expect(incident).toMatchObject({ id: body.subject, account: accountId, reference: 'INC-2041', state: 'open', verified: true });
    const steps = incident.entries.filter((e) => e.type.startsWith('break-glass.')).map((e) => [e.type, e.actor]);
    expect(steps).toEqual([
      ['break-glass.opened', f.ids.pat],
      ['break-glass.password-used', f.ids.pat],
      ['break-glass.mfa-used', f.ids.mia],
      ['break-glass.closed', f.ids.mia],
    ]);

    // The acknowledgement; a second one answers the first.
    writeFileSync(join(f.dir, 'review.txt'), 'Called both custodians; matches INC-2041. Rotation scheduled.\n');
    const ack = await halfkey([
      'review',
      'ack',
      ...as('rita'),
      '--incident',
      incident.id,
      '--finding',
      'authorised',
      '--rotation-done',
      'no',
      '--text-file',
      'review.txt',
      '--json',
    ]);
    expect(ack.stderr).toBe('');
    expect(ack.code).toBe(0);
    const first = JSON.parse(ack.stdout) as {
      already: boolean;
      acknowledgement: { hash: string; verified: boolean; review: { finding: string } };
    };
    expect(first).toMatchObject({ already: false, acknowledgement: { verified: true, review: { finding: 'authorised' } } });
    const again = await halfkey([
      'review',
      'ack',
      ...as('rita'),
      '--incident',
      incident.id,
      '--finding',
      'unauthorised',
      '--rotation-done',
      'yes',
      '--text',
      'second thoughts',
      '--json',
    ]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      already: true,
      acknowledgement: { hash: first.acknowledgement.hash, review: { finding: 'authorised' } },
    });
    const open = await halfkey(['review', 'incidents', ...as('rita'), '--json']);
    expect((JSON.parse(open.stdout) as { incidents: unknown[] }).incidents).toEqual([]);
    expect(await deliveriesOf('incident.acknowledged')).toHaveLength(1);

    // Both halves were out at once during the ceremony: an alarm of its own, acknowledged the same way.
    const alarms = await halfkey(['review', 'alarms', ...as('rita'), '--json']);
    expect(alarms.code).toBe(0);
    const both = (
      JSON.parse(alarms.stdout) as { alarms: { id: string; kind: string; verified: boolean; entries: { type: string }[] }[] }
    ).alarms.filter((a) => a.kind === 'BOTH_HALVES_OUT');
    expect(both).toHaveLength(1);
    expect(both[0]).toMatchObject({ verified: true });
    expect(both[0]!.entries.map((e) => e.type)).toContain('custody.both-halves-out');
    const alarmAck = await halfkey([
      'review',
      'ack',
      ...as('rita'),
      '--alarm',
      both[0]!.id,
      '--finding',
      'authorised',
      '--rotation-done',
      'no',
      '--text',
      'the break-glass ceremony INC-2041',
    ]);
    expect(alarmAck.code).toBe(0);
    expect(alarmAck.stdout).toMatch(/Acknowledged alarm/);
    expect(await deliveriesOf('alarm.raised')).toHaveLength(1);

    // The org export holds the review as a log leaf, and verifies under the server's key.
    const exported = await halfkey(['review', 'export', ...as('rita'), '--out', 'org-export.jsonl', '--json']);
    expect(exported.code).toBe(0);
    const report = JSON.parse(exported.stdout) as { ok: boolean; reviews: { subject: { id: string }; finding: string; ok: boolean }[] };
    expect(report.ok).toBe(true);
    expect(report.reviews).toEqual([
      expect.objectContaining({ subject: expect.objectContaining({ id: incident.id }), finding: 'authorised', ok: true }),
      expect.objectContaining({ subject: { kind: 'alarm', id: both[0]!.id }, finding: 'authorised', ok: true }),
    ]);
    const { serverKey } = (await (await fetch(`${serverUrl}/v1/server-key`)).json()) as { serverKey: string };
    const verified = await halfkey(['journal', 'verify', join(f.dir, 'org-export.jsonl'), '--server-key', serverKey]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`2/2 reviews valid (signed acknowledgements in the log):`);
    expect(verified.stdout).toMatch(new RegExp(`incident ${incident.id}, authorised, by reviewer key ${ritaKey}: VALID`));
    expect(verified.stdout).toMatch(/Result: VALID/);
  }, 600_000);
});
