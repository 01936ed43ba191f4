import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseOf } from '../../shared/api/contract';
import type { ApiResult } from '../../shared/api/result';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';
import { halfkeyIn } from '../support/halfkey-cli';
import { enrolCustodian } from '../support/roster';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { grantReviewer, issueToken } from '../support/sync-fixture';
import { TamperProxy } from '../support/tamper-proxy';

// The reviewer's loop from the client's side (issue 15 item 4), against a real server on loopback
// (SQLite storage) and a real vault (SQLite file, OS keychain through build/with-keyring.sh,
// Argon2id, libsodium): two break-glass sessions run through the router and synced; a reviewer the
// server's operator granted lists the incidents, each checked offline under the pinned key, and
// acknowledges them through the router and through the CLI. The only stand-in is TamperProxy, which
// rewrites one server answer to show a tampered entry is shown as failed.

const RITA = 'lattice pepper orbit canyon 52';
const REX = 'harbour thistle quantum ember 29';
const INCIDENT = { reference: 'INC-900', reason: 'SCP locks out every admin role', severity: 'critical' } as const;

let f: CustodyFixture;
let server: TestServer;
let proxy: TamperProxy;
let services: AppServices | null = null;
let router: ApiRouter;
let accounts: string[] = [];
const ids = { rita: '', rex: '' };
/** The break-glass incidents: pat and mia's (resolved) and Rex's own (aborted), by the hash of their opening entry. */
const incident = { ceremony: '', rexOwn: '' };

type Incidents = ResponseOf<'review:incidents'>;
type Ack = ResponseOf<'review:acknowledge'>;

async function call<T = Record<string, unknown>>(channel: string, payload: unknown): Promise<ApiResult<T>> {
  return (await router.call(channel, payload, { adapter: 'test' })) as ApiResult<T>;
}
async function value<T = Record<string, unknown>>(channel: string, payload: unknown): Promise<T> {
  const result = await call<T>(channel, payload);
  if (!result.ok) throw new Error(`${channel} failed: ${result.error.code} ${result.error.message}`);
  return result.value;
}
const unlock = (custodianId: string, passphrase: string) => value('custodian:unlock', { custodianId, passphrase });
/** The review:acknowledge request of `by` for incident `id`. */
const review = (by: string, id: string, finding: string, rotationDone: boolean, text: string) => ({
  by,
  subject: { kind: 'incident', id },
  finding,
  rotationDone,
  text,
});

async function openRouter(): Promise<void> {
  services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
  router = createRouter(createHandlerTable(services));
  await value('vault:open', {});
}
async function closeRouter(): Promise<void> {
  await services?.close();
  services = null;
}

const halfkey = halfkeyIn(() => f.dir);

beforeAll(async () => {
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  accounts = [await f.fullAccount(), await f.fullAccount()];
  const admin = { id: f.ids.admin, passphrase: PASSPHRASES.admin };
  const pat = { id: f.ids.pat, passphrase: PASSPHRASES.pat };
  ids.rita = (
    await enrolCustodian(f.vault, admin, { name: 'Rita Reviewer', organisation: 'Customer', role: 'reviewer', passphrase: RITA }, pat)
  ).id;
  // Rex is an admin now; he runs a break-glass session and is made a reviewer afterwards: his own break-glass.
  ids.rex = (
    await enrolCustodian(f.vault, admin, { name: 'Rex Second', organisation: 'Customer', role: 'admin', passphrase: REX }, pat)
  ).id;
  await f.custody.close();
  f.vault.close();

  server = await startTestServer('sqlite');
  proxy = new TamperProxy(server.url);
  const url = await proxy.listen();
  await openRouter();
  await value('sync:enrol', { url, token: await issueToken(server) });

  // Pat and Mia's ceremony on the first account, closed as resolved.
  await unlock(f.ids.pat, PASSPHRASES.pat);
  const opened = await value<{ sessionId: string }>('break-glass:open', { by: f.ids.pat, accountId: accounts[0], incident: INCIDENT });
  await value('break-glass:use-password', { by: f.ids.pat, sessionId: opened.sessionId, seconds: 10 });
  await unlock(f.ids.mia, PASSPHRASES.mia);
  await value('break-glass:use-mfa', { by: f.ids.mia, sessionId: opened.sessionId });
  await value('break-glass:close', { by: f.ids.mia, sessionId: opened.sessionId, outcome: 'resolved', note: 'role created, SCP fixed' });
  // Rex opens a session on the second account as an admin and aborts it.
  await unlock(ids.rex, REX);
  const own = await value<{ sessionId: string }>('break-glass:open', {
    by: ids.rex,
    accountId: accounts[1],
    incident: { reference: 'INC-901', reason: 'drill gone wrong', severity: 'low' },
  });
  await value('break-glass:close', { by: ids.rex, sessionId: own.sessionId, outcome: 'aborted', note: 'not needed after all' });
  // Then Rex becomes a reviewer (an admin proposes, Pat approves).
  await unlock(f.ids.admin, PASSPHRASES.admin);
  const change = await value<{ proposal: { id: string } }>('custodian:role-change', {
    by: f.ids.admin,
    custodianId: ids.rex,
    role: 'reviewer',
  });
  await value('proposal:approve', { by: f.ids.pat, proposalId: change.proposal.id, passphrase: PASSPHRASES.pat });

  const journal = services!.vault.current()!.journal;
  const openings = journal.query({ type: 'break-glass.opened' });
  incident.ceremony = openings.find((e) => e.data.session === opened.sessionId)!.hash;
  incident.rexOwn = openings.find((e) => e.data.session === own.sessionId)!.hash;
  await value('sync:now', {});
  const custodians = await value<{ custodians: { id: string; signingKey: string }[] }>('custodian:list', {});
  for (const [id, name] of [
    [ids.rita, 'Rita Reviewer'],
    [ids.rex, 'Rex Second'],
  ] as const) {
    await grantReviewer(server, custodians.custodians.find((c) => c.id === id)!.signingKey, name);
  }
  writeFileSync(join(f.dir, 'rita.pass'), `${RITA}\n`);
  writeFileSync(join(f.dir, 'rex.pass'), `${REX}\n`);
  writeFileSync(join(f.dir, 'review.txt'), 'Checked the ticket INC-901 and the CloudTrail record.\n');
}, 300_000);

afterAll(async () => {
  await closeRouter();
  await proxy?.close();
  await server?.close();
  await f?.close();
});

describe('the reviewer queue through the router', () => {
  it('lists both incidents, every entry checked offline: who, which half, when, reason', async () => {
    await unlock(ids.rita, RITA);
    const answer = await value<Incidents>('review:incidents', { by: ids.rita });
    expect(answer.headProblem).toBeNull();
    expect(answer.serverFingerprint).toBe(server.signer.fingerprint);
    const byId = new Map(answer.incidents.map((i) => [i.id, i]));
    const ceremony = byId.get(incident.ceremony)!;
    expect(ceremony).toMatchObject({
      verified: true,
      problems: [],
      state: 'open',
      reference: 'INC-900',
      outcome: 'resolved',
      ownKeySigned: false,
    });
    expect(ceremony.entries.every((e) => e.verified)).toBe(true);
    const steps = ceremony.entries.filter((e) => e.type.startsWith('break-glass.'));
    expect(steps.map((e) => [e.type, e.actor, e.half])).toEqual([
      ['break-glass.opened', f.ids.pat, null],
      ['break-glass.password-used', f.ids.pat, 'password'],
      ['break-glass.mfa-used', f.ids.mia, 'mfa'],
      ['break-glass.closed', f.ids.mia, null],
    ]);
    expect(steps[0]).toMatchObject({ reason: INCIDENT.reason, actorName: 'pat' });
    expect(byId.get(incident.rexOwn)).toMatchObject({ verified: true, outcome: 'aborted', ownKeySigned: false });
  });

  it('shows an incident whose entry the answer changed as failed, with the reason (TamperProxy stand-in)', async () => {
    proxy.tamper('/v1/reviewer/incidents', (body) => {
      const b = body as { incidents: { id: string; entries: { entry: { data: Record<string, unknown> } }[] }[] };
      for (const i of b.incidents) if (i.id === incident.ceremony) i.entries[0]!.entry.data.reason = 'routine maintenance';
      return b;
    });
    try {
      const answer = await value<Incidents>('review:incidents', { by: ids.rita });
      const ceremony = answer.incidents.find((i) => i.id === incident.ceremony)!;
      expect(ceremony.verified).toBe(false);
      expect(ceremony.problems.join('\n')).toMatch(/hash does not match its body/);
      expect(ceremony.entries[0]).toMatchObject({ verified: false, reason: 'routine maintenance' });
      // The untouched incident still verifies: one failure is not spread over the page.
      expect(answer.incidents.find((i) => i.id === incident.rexOwn)?.verified).toBe(true);
      // And it cannot be acknowledged while its evidence fails.
      expect(await call('review:acknowledge', review(ids.rita, incident.ceremony, 'authorised', false, ''))).toMatchObject({
        ok: false,
        error: { code: 'CONFLICT', message: expect.stringMatching(/does not verify/) },
      });
      expect(proxy.rewritten).toBeGreaterThanOrEqual(2);
    } finally {
      proxy.clear();
    }
  });

  it("refuses Rex's acknowledgement of his own break-glass before anything is sent", async () => {
    await unlock(ids.rex, REX);
    const listed = await value<Incidents>('review:incidents', { by: ids.rex });
    expect(listed.incidents.find((i) => i.id === incident.rexOwn)?.ownKeySigned).toBe(true);
    const refused = await call('review:acknowledge', review(ids.rex, incident.rexOwn, 'authorised', true, 'mine, fine'));
    expect(refused).toMatchObject({ ok: false, error: { code: 'NOT_PERMITTED', detail: { rule: 'own-break-glass' } } });
    const after = await value<Incidents>('review:incidents', { by: ids.rex, state: 'all' });
    expect(after.incidents.find((i) => i.id === incident.rexOwn)).toMatchObject({ state: 'open', acknowledgement: null });
  });

  it('acknowledges through the router with a signed review, checked when it comes back; a second acknowledgement answers the first', async () => {
    await unlock(ids.rita, RITA);
    const first = await value<Ack>(
      'review:acknowledge',
      review(ids.rita, incident.ceremony, 'authorised', false, 'SCP incident INC-900, both custodians present'),
    );
    expect(first.already).toBe(false);
    expect(first.acknowledgement).toMatchObject({ verified: true, problems: [], reviewerName: 'Rita Reviewer' });
    expect(first.acknowledgement.review).toMatchObject({ finding: 'authorised', text: 'SCP incident INC-900, both custodians present' });
    const open = await value<Incidents>('review:incidents', { by: ids.rita });
    expect(open.incidents.map((i) => i.id)).not.toContain(incident.ceremony);
    const all = await value<Incidents>('review:incidents', { by: ids.rita, state: 'all' });
    expect(all.incidents.find((i) => i.id === incident.ceremony)).toMatchObject({
      state: 'acknowledged',
      verified: true,
      acknowledgement: { verified: true, hash: first.acknowledgement.hash },
    });

    // Rex (not his own incident) acknowledges it again: the server answers Rita's, and it verifies.
    await unlock(ids.rex, REX);
    const again = await value<Ack>('review:acknowledge', review(ids.rex, incident.ceremony, 'unauthorised', true, 'second opinion'));
    expect(again.already).toBe(true);
    expect(again.acknowledgement).toMatchObject({ verified: true, hash: first.acknowledgement.hash, review: { finding: 'authorised' } });
  });
});

describe('halfkey review through the CLI', () => {
  beforeAll(async () => {
    // One writer per vault: the router's services let it go while the CLI runs.
    await closeRouter();
  });

  it('--help exits 0; bad arguments exit 2 naming the option', async () => {
    const help = await halfkey(['review', 'ack', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--rotation-done yes\|no/);
    const both = await halfkey(['review', 'ack', '--vault', '.', '--as', ids.rita, '--incident', incident.rexOwn, '--alarm', '1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --incident ID or --alarm ID/);
    const finding = await halfkey(['review', 'ack', '--vault', '.', '--as', ids.rita, '--incident', incident.rexOwn, '--finding', 'fine']);
    expect(finding.code).toBe(2);
    expect(finding.stderr).toMatch(/--finding must be one of/);
  });

  it('refuses Rex his own break-glass (exit 3)', async () => {
    const own = await halfkey([
      'review',
      'ack',
      '--vault',
      '.',
      '--as',
      ids.rex,
      '--passphrase-file',
      'rex.pass',
      '--incident',
      incident.rexOwn,
      '--finding',
      'authorised',
      '--rotation-done',
      'yes',
      '--text',
      'mine',
    ]);
    expect(own.code).toBe(3);
    expect(own.stderr).toMatch(/own break-glass/);
  });

  it('lists the queue, acknowledges from a text file, and says so when it was already acknowledged', async () => {
    const list = await halfkey(['review', 'incidents', '--vault', '.', '--as', ids.rita, '--passphrase-file', 'rita.pass']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`incident ${incident.rexOwn} [VERIFIED] open`);
    expect(list.stdout).toMatch(/break-glass\.opened: Rex Second/);

    const args = ['review', 'ack', '--vault', '.', '--as', ids.rita, '--passphrase-file', 'rita.pass', '--incident', incident.rexOwn];
    const ack = await halfkey([...args, '--finding', 'false-alarm', '--rotation-done', 'no', '--text-file', 'review.txt']);
    expect(ack.stderr).toBe('');
    expect(ack.code).toBe(0);
    expect(ack.stdout).toMatch(/Acknowledged incident/);
    expect(ack.stdout).toContain('Checked the ticket INC-901 and the CloudTrail record.');
    expect(ack.stdout).toMatch(/\[VERIFIED\]/);

    const again = await halfkey([...args, '--finding', 'unauthorised', '--rotation-done', 'yes', '--text', 'changed my mind', '--json']);
    expect(again.code).toBe(0);
    const shown = JSON.parse(again.stdout) as Ack;
    expect(shown.already).toBe(true);
    expect(shown.acknowledgement).toMatchObject({ verified: true, review: { finding: 'false-alarm', rotationDone: false } });
    const plain = await halfkey([...args, '--finding', 'unauthorised', '--rotation-done', 'yes', '--text', 'changed my mind']);
    expect(plain.stdout).toMatch(/was already acknowledged; the server keeps the first acknowledgement/);
  });
});
