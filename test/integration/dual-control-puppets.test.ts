import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { verifyEntries } from '../../shared/journal/verifier';

// The puppet and one-keyboard scenarios of issue 14, through the router every adapter uses: Ada is
// one person who knows only her own passphrase and is an admin; Pat is a second, real person, the
// founding custodian. Alone, Ada must be refused at the first single-signature step, with a message
// that names the approval needed, and nothing may change.
const ADA = 'amber lantern quietly folds 17';
const PAT = 'copper heron beneath winter 42';
const PUPPET = 'violet canyon echoes softly 08';
const context = { adapter: 'test' } as const;
let dir = '';
let services: AppServices;
let router: ApiRouter;
let adaId = '';
let patId = '';

type Result = { ok: true; value: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };
const call = async (channel: string, payload: unknown): Promise<Result> => (await router.call(channel, payload, context)) as Result;
async function value(channel: string, payload: unknown): Promise<Record<string, unknown>> {
  const result = await call(channel, payload);
  if (!result.ok) throw new Error(`${channel}: ${result.error.code} ${result.error.message}`);
  return result.value;
}
const names = async (): Promise<string[]> => ((await value('custodian:list', {})).custodians as { name: string }[]).map((c) => c.name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-puppets-'));
  services = await openAppServices({ mode: 'preview', vaultDir: dir });
  router = createRouter(createHandlerTable(services));
  adaId = (await value('vault:create', { adminName: 'Ada Admin', organisation: 'Provider', passphrase: ADA })).adminId as string;
  await value('custodian:unlock', { custodianId: adaId, passphrase: ADA });
  // The founding custodian: Pat is present and types his own passphrase.
  patId = (
    (await value('custodian:enrol', { by: adaId, name: 'Pat', organisation: 'Customer', role: 'password-custodian', passphrase: PAT }))
      .custodian as { id: string }
  ).id;
}, 120_000);

afterAll(async () => {
  const id = services.vault.current()?.id;
  await services.close();
  if (id) await (await openKeytarKeychain()).delete(deviceAccount(id));
  rmSync(dir, { recursive: true, force: true });
});

describe('puppets: an admin alone cannot enrol custodians she controls', () => {
  it('refuses a passphrase chosen by the proposer, and writes nothing', async () => {
    const refused = await call('custodian:enrol', {
      by: adaId,
      name: 'Puppet One',
      organisation: 'Provider',
      role: 'mfa-custodian',
      passphrase: PUPPET,
    });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', message: expect.stringMatching(/newcomer types their own when a second custodian approves/) },
    });
    expect(await names()).toEqual(['Ada Admin', 'Pat']);
  });

  it('an enrolment is only a proposal, and its proposer cannot approve it', async () => {
    const proposed = await value('custodian:enrol', { by: adaId, name: 'Puppet One', organisation: 'Provider', role: 'mfa-custodian' });
    expect(proposed.custodian).toBeNull();
    const proposal = proposed.proposal as { id: string; state: string; summary: string };
    expect(proposal).toMatchObject({ state: 'open', summary: 'Enrol Puppet One as mfa-custodian of Provider' });
    const self = await call('proposal:approve', { by: adaId, proposalId: proposal.id, passphrase: ADA, newcomerPassphrase: PUPPET });
    expect(self).toMatchObject({
      ok: false,
      error: {
        code: 'NOT_PERMITTED',
        message: expect.stringMatching(/proposed and approved this change alone: a second custodian must approve it/),
      },
    });
    // Without Pat's passphrase she cannot approve as Pat either.
    const asPat = await call('proposal:approve', {
      by: patId,
      proposalId: proposal.id,
      passphrase: 'a guess at pats passphrase',
      newcomerPassphrase: PUPPET,
    });
    expect(asPat).toMatchObject({ ok: false, error: { code: 'BAD_PASSPHRASE' } });
    // Guessing is slowed down (and journaled): the next try must wait out the back-off.
    expect(
      await call('proposal:approve', { by: patId, proposalId: proposal.id, passphrase: 'another guess', newcomerPassphrase: PUPPET }),
    ).toMatchObject({ ok: false, error: { code: 'BACKOFF' } });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await names()).toEqual(['Ada Admin', 'Pat']);
    const open = (await value('proposal:list', {})).proposals as { id: string }[];
    expect(open.map((p) => p.id)).toEqual([proposal.id]);
  });

  it('with Pat approving and the newcomer typing their own passphrase, the enrolment applies with both signatures', async () => {
    const [open] = (await value('proposal:list', {})).proposals as { id: string }[];
    const applied = await value('proposal:approve', { by: patId, proposalId: open!.id, passphrase: PAT, newcomerPassphrase: PUPPET });
    expect(applied.proposal).toMatchObject({ state: 'applied', decidedBy: patId });
    expect(await names()).toEqual(['Ada Admin', 'Pat', 'Puppet One']);
    const entry = services.vault.require().journal.query({ type: 'custodian.enrolled' }).at(-1)!;
    expect(entry.actor).toBe(patId);
    expect(entry.data).toMatchObject({ name: 'Puppet One', approval: { proposer: adaId, approver: patId } });
    expect(entry.sigs).toHaveLength(3);
    expect(JSON.stringify(entry)).not.toContain(PUPPET);
  });
});

describe('puppets: an admin alone cannot give out the halves', () => {
  it('her assignments are only proposals: she cannot hold a half, approve her own proposal, or have its subject approve it', async () => {
    await value('custodian:unlock', { custodianId: adaId, passphrase: ADA });
    const accountId = '123456789012';
    await value('custody:account-add', { by: adaId, accountId, alias: 'prod', rootEmail: 'root@example.com', organisation: 'Customer' });
    const puppetId = ((await value('custodian:list', {})).custodians as { id: string; name: string }[]).find(
      (c) => c.name === 'Puppet One',
    )!.id;
    expect(await call('custody:assign', { by: adaId, accountId, item: 'mfa', custodianId: adaId })).toMatchObject({
      ok: false,
      error: { code: 'POLICY_REFUSED' },
    });
    const mfa = (await value('custody:assign', { by: adaId, accountId, item: 'mfa', custodianId: puppetId })).proposal as {
      id: string;
      state: string;
    };
    const password = (await value('custody:assign', { by: adaId, accountId, item: 'password', custodianId: patId })).proposal as {
      id: string;
    };
    expect(mfa.state).toBe('open');
    for (const proposalId of [mfa.id, password.id]) {
      expect(await call('proposal:approve', { by: adaId, proposalId, passphrase: ADA })).toMatchObject({
        ok: false,
        error: {
          code: 'NOT_PERMITTED',
          message: expect.stringMatching(/proposed and approved this change alone: a second custodian must approve it/),
        },
      });
    }
    // The custodian an assignment is about may not approve it: a puppet cannot wave its own half through.
    expect(await call('proposal:approve', { by: puppetId, proposalId: mfa.id, passphrase: PUPPET })).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/about themselves/) },
    });
    expect((await value('custody:account-list', { search: accountId })).accounts).toMatchObject([{ accountId, assignments: [] }]);
    for (const proposalId of [mfa.id, password.id]) await value('proposal:withdraw', { by: adaId, proposalId, reason: 'test over' });
  });
});

describe('one keyboard: custodians unlocked earlier cannot be acted as', () => {
  it('unlocking Ada locks Pat; Ada cannot use Pat to approve or to open anything without his passphrase', async () => {
    await value('custodian:unlock', { custodianId: patId, passphrase: PAT });
    await value('custodian:unlock', { custodianId: adaId, passphrase: ADA });
    const list = (await value('custodian:list', {})).custodians as { id: string; unlocked: boolean }[];
    expect(list.filter((c) => c.unlocked).map((c) => c.id)).toEqual([adaId]);
    const revoke = await value('custodian:revoke', { by: adaId, custodianId: patId, reason: 'take over' });
    const proposal = revoke.proposal as { id: string };
    // Pat is the subject: he may not approve it, and Ada may not either.
    expect(await call('proposal:approve', { by: adaId, proposalId: proposal.id, passphrase: ADA })).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED' },
    });
    expect(await call('proposal:approve', { by: patId, proposalId: proposal.id, passphrase: PAT })).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/about themselves/) },
    });
    expect(((await value('custodian:list', {})).custodians as { revoked: boolean }[]).every((c) => !c.revoked)).toBe(true);
    expect(await value('proposal:withdraw', { by: adaId, proposalId: proposal.id, reason: 'test over' })).toMatchObject({
      proposal: { state: 'withdrawn' },
    });
  });

  it('the journal of all of the above verifies', () => {
    const report = verifyEntries(services.vault.require().journal.read());
    expect(report.failures).toEqual([]);
  });
});
