import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import { verifyEntries } from '../../shared/journal/verifier';
import { VECTORS_DIR } from '../support/journal-vectors';

// Organisations as records, role and organisation changes, vault policy and the recovery channels'
// organisations, through the router every adapter uses (real SQLite, real libsodium, real Argon2id,
// the real keychain: run through build/with-keyring.sh). Ada (admin, Provider) is one person who knows
// only her passphrase; Pat (password custodian, Customer) is the founding second custodian.
const PASS = {
  ada: 'amber lantern quietly folds 17',
  pat: 'copper heron beneath winter 42',
  dora: 'violet canyon echoes softly 08',
  mia: 'granite meadow whistles north 63',
  max: 'silver orchard drifts eastward 95',
  rita: 'mossy harbour counts pebbles 31',
} as const;
type Person = keyof typeof PASS;
const context = { adapter: 'test' } as const;
const ACCOUNT = { a: '111111111111', b: '222222222222', c: '333333333333' } as const;

let dir = '';
let services: AppServices;
let router: ApiRouter;
const ids = {} as Record<Person, string>;

type Failure = { code: string; message: string; detail?: Record<string, unknown> };
type Result = { ok: true; value: Record<string, unknown> } | { ok: false; error: Failure };
const call = async (channel: string, payload: unknown): Promise<Result> => (await router.call(channel, payload, context)) as Result;
async function value(channel: string, payload: unknown): Promise<Record<string, unknown>> {
  const result = await call(channel, payload);
  if (!result.ok) throw new Error(`${channel}: ${result.error.code} ${result.error.message}`);
  return result.value;
}
async function refused(channel: string, payload: unknown): Promise<Failure> {
  const result = await call(channel, payload);
  if (result.ok) throw new Error(`${channel} was expected to be refused`);
  return result.error;
}
/** `who` becomes the present actor (their own passphrase). */
const act = (who: Person) => value('custodian:unlock', { custodianId: ids[who], passphrase: PASS[who] });
/** `who` proposes on `channel` (made present first) and returns the proposal id. */
async function propose(who: Person, channel: string, payload: Record<string, unknown>): Promise<string> {
  await act(who);
  return ((await value(channel, { by: ids[who], ...payload })).proposal as { id: string }).id;
}
const approve = (proposalId: string, who: Person, extra: Record<string, unknown> = {}) =>
  call('proposal:approve', { by: ids[who], proposalId, passphrase: PASS[who], ...extra });
async function applied(proposalId: string, who: Person, extra: Record<string, unknown> = {}): Promise<number> {
  const result = await approve(proposalId, who, extra);
  if (!result.ok) throw new Error(`approve by ${who}: ${result.error.code} ${result.error.message}`);
  return result.value.seq as number;
}
const organisations = async () =>
  (await value('organisation:list', {})).organisations as { id: string; name: string; origin: string; members: string[] }[];
const orgNamed = async (name: string) => (await organisations()).find((o) => o.name === name)!;
const custodian = async (who: Person) =>
  ((await value('custodian:list', {})).custodians as { id: string; role: string; organisation: string }[]).find((c) => c.id === ids[who])!;
const journal = () => services.vault.require().journal;

/** Ada adds an account (and is the actor afterwards). */
async function addAccount(accountId: string): Promise<void> {
  await act('ada');
  await value('custody:account-add', {
    by: ids.ada,
    accountId,
    alias: `acct-${accountId}`,
    rootEmail: `root-${accountId}@example.com`,
    organisation: 'Customer',
  });
}

async function enrol(who: Person, role: string, organisation: string): Promise<void> {
  const proposed = await value('custodian:enrol', { by: ids.ada, name: who, organisation, role });
  const id = (proposed.proposal as { id: string; change: { custodian: string } }).change.custodian;
  await applied((proposed.proposal as { id: string }).id, 'pat', { newcomerPassphrase: PASS[who] });
  ids[who] = id;
  await act('ada');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-orgs-'));
  services = await openAppServices({ mode: 'preview', vaultDir: dir });
  router = createRouter(createHandlerTable(services));
  ids.ada = (await value('vault:create', { adminName: 'Ada Admin', organisation: 'Provider', passphrase: PASS.ada })).adminId as string;
  await act('ada');
  ids.pat = (
    (
      await value('custodian:enrol', {
        by: ids.ada,
        name: 'Pat',
        organisation: 'Customer',
        role: 'password-custodian',
        passphrase: PASS.pat,
      })
    ).custodian as { id: string }
  ).id;
}, 180_000);

afterAll(async () => {
  const id = services?.vault.current()?.id;
  await services?.close();
  if (id) await (await openKeytarKeychain()).delete(deviceAccount(id));
  rmSync(dir, { recursive: true, force: true });
});

describe('organisations are records', () => {
  it("the founding pair's organisations are adopted as founding records, journaled", async () => {
    const list = await organisations();
    expect(list.map((o) => [o.name, o.origin, o.members])).toEqual([
      ['Customer', 'founding', [ids.pat]],
      ['Provider', 'founding', [ids.ada]],
    ]);
    expect(
      journal()
        .query({ type: 'organisation.adopted' })
        .map((e) => e.data.name),
    ).toEqual(['Provider', 'Customer']);
  });

  it('one person alone cannot add an organisation; a second custodian can; a name differing only in case is the same one', async () => {
    const proposal = await propose('ada', 'organisation:add', { name: 'DoiT' });
    expect((await organisations()).map((o) => o.name)).not.toContain('DoiT');
    expect(await approve(proposal, 'ada')).toMatchObject({
      ok: false,
      error: {
        code: 'NOT_PERMITTED',
        message: expect.stringMatching(/needs a second, eligible custodian: .*a second custodian must approve it/),
      },
    });
    const seq = await applied(proposal, 'pat');
    const entry = journal().query({ type: 'organisation.added' }).at(-1)!;
    expect(entry).toMatchObject({ seq, actor: ids.pat, data: { name: 'DoiT', approval: { proposer: ids.ada, approver: ids.pat } } });
    expect(entry.sigs).toHaveLength(2);
    expect((await orgNamed('DoiT')).origin).toBe('approved');
    await act('ada');
    expect(await refused('organisation:add', { by: ids.ada, name: '  doit ' })).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/Organisation "DoiT" \(.*\) already exists/),
    });
  });

  it('an enrolment names an existing organisation, by id or by name in any case; an unknown one is refused', async () => {
    expect(await refused('custodian:enrol', { by: ids.ada, name: 'Eve', organisation: 'Acme', role: 'admin' })).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/There is no organisation "Acme" in this vault; an admin proposes it/),
    });
    await enrol('dora', 'password-custodian', 'DoiT');
    await enrol('mia', 'mfa-custodian', 'doit');
    await enrol('max', 'mfa-custodian', (await orgNamed('Provider')).id);
    await enrol('rita', 'reviewer', 'Customer');
    const doit = await orgNamed('DoiT');
    expect(doit.members.sort()).toEqual([ids.dora, ids.mia].sort());
    // Mia typed "doit": she is shown, and compared, as DoiT.
    expect((await custodian('mia')).organisation).toBe('DoiT');
    const enrolled = journal().query({ type: 'custodian.enrolled' }).at(-3)!;
    expect(enrolled.data).toMatchObject({ organisation: 'doit', organisationId: doit.id });
  });
});

describe('role changes are two-person changes', () => {
  it('are proposed by an admin only, never approved by their proposer alone or by the custodian they are about', async () => {
    await act('pat');
    expect(await refused('custodian:role-change', { by: ids.pat, custodianId: ids.max, role: 'password-custodian' })).toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/proposed by admin/),
    });
    const proposal = await propose('ada', 'custodian:role-change', { custodianId: ids.max, role: 'password-custodian' });
    expect((await custodian('max')).role).toBe('mfa-custodian');
    expect(await approve(proposal, 'ada')).toMatchObject({ ok: false, error: { code: 'NOT_PERMITTED' } });
    expect(await approve(proposal, 'max')).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/may not approve a change about themselves/) },
    });
    expect(await approve(proposal, 'rita')).toMatchObject({
      ok: false,
      error: {
        code: 'NOT_PERMITTED',
        message: expect.stringMatching(/approved by admin or password-custodian or mfa-custodian, not by .* \(reviewer\)/),
      },
    });
    expect((await custodian('max')).role).toBe('mfa-custodian');
    const seq = await applied(proposal, 'pat');
    expect((await custodian('max')).role).toBe('password-custodian');
    expect(journal().query({ type: 'custodian.role-changed' }).at(-1)).toMatchObject({
      seq,
      actor: ids.pat,
      data: { custodian: ids.max, role: 'password-custodian', previous: 'mfa-custodian' },
    });
    // And back, for the tests below.
    await applied(await propose('ada', 'custodian:role-change', { custodianId: ids.max, role: 'mfa-custodian' }), 'mia');
  });

  it('the custodian a change is about cannot propose it either (an admin changing their own role)', async () => {
    await act('ada');
    expect(await refused('custodian:role-change', { by: ids.ada, custodianId: ids.ada, role: 'reviewer' })).toMatchObject({
      code: 'NOT_PERMITTED',
    });
  });
});

describe('organisation changes are two-person changes', () => {
  it('move a custodian only when a second custodian other than them approves', async () => {
    const doit = await orgNamed('DoiT');
    const proposal = await propose('ada', 'custodian:organisation-change', { custodianId: ids.max, organisation: 'DOIT' });
    expect(await approve(proposal, 'ada')).toMatchObject({ ok: false, error: { code: 'NOT_PERMITTED' } });
    expect(await approve(proposal, 'max')).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/may not approve a change about themselves/) },
    });
    expect((await custodian('max')).organisation).toBe('Provider');
    const seq = await applied(proposal, 'pat');
    expect((await custodian('max')).organisation).toBe('DoiT');
    expect((await orgNamed('DoiT')).members).toContain(ids.max);
    expect(journal().query({ type: 'custodian.organisation-changed' }).at(-1)).toMatchObject({
      seq,
      data: { custodian: ids.max, organisation: doit.id, name: 'DoiT', previous: (await orgNamed('Provider')).id },
    });
    await applied(await propose('ada', 'custodian:organisation-change', { custodianId: ids.max, organisation: 'Provider' }), 'mia');
    expect((await custodian('max')).organisation).toBe('Provider');
  });
});

describe('vault policy is a two-person change', () => {
  it('shows the defaults, and refuses an empty change by its schema', async () => {
    expect(await value('policy:show', {})).toEqual({ separateOrganisations: false, maxLeaseSeconds: 604_800, idleLockSeconds: 300 });
    await act('ada');
    expect(await refused('policy:change', { by: ids.ada })).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(await refused('policy:change', { by: ids.ada, idleLockSeconds: 5 })).toMatchObject({ code: 'INVALID_PAYLOAD' });
  });

  it('lease limit and idle lock: one person alone and a reviewer cannot apply it, a second custodian can; then checkouts and idle lock follow it', async () => {
    const proposal = await propose('ada', 'policy:change', { maxLeaseSeconds: 3600, idleLockSeconds: 120 });
    expect(await approve(proposal, 'ada')).toMatchObject({
      ok: false,
      error: { code: 'NOT_PERMITTED', message: expect.stringMatching(/a second custodian must approve it/) },
    });
    expect(await approve(proposal, 'rita')).toMatchObject({ ok: false, error: { code: 'NOT_PERMITTED' } });
    expect((await value('policy:show', {})).maxLeaseSeconds).toBe(604_800);
    const seq = await applied(proposal, 'pat');
    expect(await value('policy:show', {})).toEqual({ separateOrganisations: false, maxLeaseSeconds: 3600, idleLockSeconds: 120 });
    expect(journal().query({ type: 'policy.changed' }).at(-1)).toMatchObject({
      seq,
      data: { maxLeaseSeconds: 3600, idleLockSeconds: 120, previous: { maxLeaseSeconds: 604_800, idleLockSeconds: 300 } },
    });
    // The idle lock in force is the policy's: Pat, the actor, locks 120 s after his last use.
    const pat = ((await value('custodian:list', {})).custodians as { id: string; idleLocksAt: number | null }[]).find(
      (c) => c.id === ids.pat,
    )!;
    expect(pat.idleLocksAt! - Date.now()).toBeLessThanOrEqual(120_000);
    expect(pat.idleLocksAt! - Date.now()).toBeGreaterThan(100_000);

    await addAccount(ACCOUNT.a);
    await applied(await propose('ada', 'custody:assign', { accountId: ACCOUNT.a, item: 'password', custodianId: ids.dora }), 'pat');
    await act('dora');
    await value('custody:half-set', {
      by: ids.dora,
      accountId: ACCOUNT.a,
      item: 'password',
      secret: { kind: 'password', password: 'Lease-Test-Passw0rd!' },
    });
    const long = await refused('custody:checkout', {
      by: ids.dora,
      accountId: ACCOUNT.a,
      item: 'password',
      reason: 'test',
      leaseSeconds: 7200,
    });
    expect(long).toMatchObject({ code: 'POLICY_REFUSED', message: expect.stringMatching(/The vault policy limits a lease to 1 h/) });
    expect(journal().query({ type: 'custody.refused', account: ACCOUNT.a }).at(-1)?.data).toMatchObject({ rule: 'lease-limit' });
    const checkout = await value('custody:checkout', {
      by: ids.dora,
      accountId: ACCOUNT.a,
      item: 'password',
      reason: 'test',
      leaseSeconds: 1800,
    });
    await value('custody:checkin', { by: ids.dora, checkoutId: checkout.checkoutId });
  });
});

describe('rule 3 compares organisation records', () => {
  it('cannot be switched on while custody breaks it; once it is, "doit" is DoiT', async () => {
    await addAccount(ACCOUNT.b);
    await applied(await propose('ada', 'custody:assign', { accountId: ACCOUNT.b, item: 'password', custodianId: ids.dora }), 'pat');
    // Rule 3 is off: Mia (typed "doit") may hold the MFA half beside Dora (DoiT).
    await applied(await propose('ada', 'custody:assign', { accountId: ACCOUNT.b, item: 'mfa', custodianId: ids.mia }), 'pat');
    await act('ada');
    expect(await refused('policy:change', { by: ids.ada, separateOrganisations: true })).toMatchObject({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(
        /Rule 3 cannot be switched on while custody breaks it .*organisation DoiT already holds or has seen the .* of account 222222222222/,
      ),
    });
    expect(journal().query({ type: 'custody.refused', account: ACCOUNT.b }).at(-1)?.data).toMatchObject({
      action: 'policy-change',
      rule: 3,
    });
    await applied(await propose('ada', 'custody:unassign', { accountId: ACCOUNT.b, item: 'mfa', custodianId: ids.mia }), 'pat');
    const on = await propose('ada', 'policy:change', { separateOrganisations: true });
    expect(await approve(on, 'ada')).toMatchObject({ ok: false, error: { code: 'NOT_PERMITTED' } });
    await applied(on, 'mia');
    expect((await value('policy:show', {})).separateOrganisations).toBe(true);

    await act('ada');
    expect(await refused('custody:assign', { by: ids.ada, accountId: ACCOUNT.b, item: 'mfa', custodianId: ids.mia })).toMatchObject({
      code: 'POLICY_REFUSED',
      message:
        'Rule 3 (separate organisations): organisation DoiT already holds or has seen the password half of account 222222222222, and this vault keeps the two with different organisations; choose a custodian from another organisation to hold the MFA half of account 222222222222.',
    });
    await applied(await propose('ada', 'custody:assign', { accountId: ACCOUNT.b, item: 'mfa', custodianId: ids.max }), 'pat');
  });

  it('refuses moving a custodian into the organisation that holds the other half', async () => {
    await act('ada');
    expect(await refused('custodian:organisation-change', { by: ids.ada, custodianId: ids.dora, organisation: 'Provider' })).toMatchObject({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(
        /^Rule 3 \(separate organisations\): organisation Provider already holds or has seen the MFA half of account 222222222222/,
      ),
    });
  });
});

describe('rule 3 keeps the root inbox and the recovery phone away from the MFA half', () => {
  it('the MFA half is refused to the organisation named as holding the root inbox, and the phone to the one holding the MFA half', async () => {
    await addAccount(ACCOUNT.c);
    const provider = await orgNamed('Provider');
    const doit = await orgNamed('DoiT');
    const inbox = await propose('ada', 'custody:channel-organisation', {
      accountId: ACCOUNT.c,
      item: 'email',
      organisationId: provider.id,
    });
    expect(await approve(inbox, 'ada')).toMatchObject({ ok: false, error: { code: 'NOT_PERMITTED' } });
    await applied(inbox, 'pat');
    const account = await value('custody:account-list', { search: ACCOUNT.c });
    expect((account.accounts as Record<string, unknown>[])[0]).toMatchObject({ emailOrganisation: provider.id, phoneOrganisation: null });

    await act('ada');
    expect(await refused('custody:assign', { by: ids.ada, accountId: ACCOUNT.c, item: 'mfa', custodianId: ids.max })).toMatchObject({
      code: 'POLICY_REFUSED',
      message:
        'Rule 3 (separate organisations): organisation Provider already holds the root e-mail inbox of account 333333333333, and this vault keeps the root inbox and the recovery phone away from the organisation holding the MFA half; choose a custodian from another organisation to hold the MFA half of account 333333333333.',
    });
    await applied(await propose('ada', 'custody:assign', { accountId: ACCOUNT.c, item: 'mfa', custodianId: ids.mia }), 'pat');
    await act('ada');
    expect(
      await refused('custody:channel-organisation', { by: ids.ada, accountId: ACCOUNT.c, item: 'phone', organisationId: doit.id }),
    ).toMatchObject({
      code: 'POLICY_REFUSED',
      message: expect.stringMatching(
        /^Rule 3 \(separate organisations\): organisation DoiT already holds or has seen the MFA half of account 333333333333/,
      ),
    });
    // The inbox and the phone apart (rule 4), and the phone with an organisation away from the MFA half.
    expect(
      await refused('custody:channel-organisation', { by: ids.ada, accountId: ACCOUNT.c, item: 'phone', organisationId: provider.id }),
    ).toMatchObject({ code: 'POLICY_REFUSED', message: expect.stringMatching(/^Rule 4/) });
    const customer = await orgNamed('Customer');
    await applied(
      await propose('ada', 'custody:channel-organisation', { accountId: ACCOUNT.c, item: 'phone', organisationId: customer.id }),
      'mia',
    );
  });
});

describe('the journal', () => {
  it('verifies in both verifiers: every applied entry carries the proposer and the approver', async () => {
    const entries = [...journal().read()];
    const types = new Set(entries.map((e) => e.type));
    for (const type of [
      'organisation.added',
      'custodian.role-changed',
      'custodian.organisation-changed',
      'policy.changed',
      'custody.channel-organisation-set',
    ])
      expect(types).toContain(type);
    expect(verifyEntries(entries).failures).toEqual([]);
    const out = join(dir, 'export.hkj');
    await value('journal:export', { out });
    const python = spawnSync('python3', [join(VECTORS_DIR, 'verify_vectors.py'), out], { encoding: 'utf8' });
    expect(python.stdout).toMatch(/^VALID/);
  });
});
