import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import { verifyEntries } from '../../shared/journal/verifier';
import { HALF_SEED, openCustodyFixture, refusal, routed, type CustodyFixture } from '../support/custody-fixture';

// Who holds what is a two-person change (docs/custody.md, "Dual control"): an admin proposes an
// assignment, an unassignment, a re-seal; a seed export is requested by an MFA custodian. Each is
// applied only when a second, eligible custodian approves with their own passphrase, by an entry
// with both signatures. Real vault, real keychain (build/with-keyring.sh), real Argon2id, real SQLite.
// The clock only moves forward here, and the last test verifies the whole journal.

let f: CustodyFixture;

beforeAll(async () => {
  f = await openCustodyFixture();
}, 180_000);

afterAll(async () => {
  await f?.close();
});

const oathtool = (seed: string) =>
  execFileSync('oathtool', ['--totp', '-b', seed, '-N', `@${Math.floor(f.clock.t / 1000)}`], { encoding: 'utf8' }).trim();
const entries = (type: string, account: string) => f.vault.journal.query({ type, account });
const openProposals = (account: string) => f.vault.proposals.list({ state: 'open' }).filter((p) => p.account === account);

describe('assignments are proposals', () => {
  it('nothing changes when proposed; the custodian it is about may not approve; a second custodian applies it with both signatures', async () => {
    const id = await f.addAccount();
    const proposalId = f.proposeAssign('password', id, 'pat');
    expect(f.custody.accounts.get(id).assignments).toEqual([]);
    expect(entries('custody.assigned', id)).toEqual([]);
    expect(openProposals(id)).toEqual([
      expect.objectContaining({
        id: proposalId,
        type: 'custody.assigned',
        proposer: f.ids.admin,
        summary: `Assign the password half of account ${id} to pat`,
      }),
    ]);
    // The proposer may not approve their own proposal, nor the subject a change about themselves; neither is asked for a passphrase.
    await expect(f.approve(proposalId, 'admin')).rejects.toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/a second custodian must approve it/),
    });
    await expect(f.approve(proposalId, 'pat')).rejects.toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/may not approve a change about themselves/),
    });
    expect(f.custody.accounts.get(id).assignments).toEqual([]);

    const applied = await f.approve(proposalId, 'mia');
    expect(applied.proposal).toMatchObject({ state: 'applied', decidedBy: f.ids.mia });
    expect(f.custody.accounts.get(id).assignments).toEqual([{ item: 'password', custodianId: f.ids.pat }]);
    const [entry] = entries('custody.assigned', id);
    expect(entry).toMatchObject({
      seq: applied.seq,
      actor: f.ids.mia,
      data: {
        item: 'password',
        custodian: f.ids.pat,
        sealed: false,
        resealedBy: null,
        approval: { proposal: proposalId, proposer: f.ids.admin, approver: f.ids.mia },
      },
    });
    expect(entry?.sigs).toHaveLength(2);
    // An applied proposal cannot be applied twice.
    await expect(f.approve(proposalId, 'max')).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('the policy is asked again at approval: a proposal the custody state has overtaken is refused and journaled', async () => {
    const id = await f.addAccount();
    // Two proposals for the same custodian and item: both fine when proposed, only the first can apply.
    const first = f.proposeAssign('mfa', id, 'max');
    const second = f.proposeAssign('mfa', id, 'max');
    await f.approve(first, 'pat');
    await expect(f.approve(second, 'pat')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already assigned/) });
    // Rule 2 at approval: Max is seen with the password before the approval of his MFA assignment on a second account.
    const other = await f.addAccount();
    const mfa = f.proposeAssign('mfa', other, 'max');
    f.vault.db
      .prepare(
        "INSERT INTO custody_seen (account_id, item, custodian_id, generation, first_seen_at, how) VALUES (?, 'password', ?, 1, 0, 'planted-by-test')",
      )
      .run(other, f.ids.max);
    await expect(f.approve(mfa, 'pat')).rejects.toMatchObject({ code: 'POLICY_REFUSED', detail: { rule: 2, item: 'mfa' } });
    expect(entries('custody.refused', other).at(-1)).toMatchObject({
      actor: f.ids.pat,
      data: { action: 'assign', custodian: f.ids.max, rule: 2 },
    });
    expect(entries('custody.assigned', other)).toEqual([]);
    expect(openProposals(other).map((p) => p.id)).toEqual([mfa]);
  });

  it('only an admin proposes, and a refused proposal is journaled', async () => {
    const id = await f.addAccount();
    await f.as('mia');
    const error = await refusal(() =>
      f.custody.assignments.proposeAssign({ by: f.ids.mia, accountId: id, item: 'mfa', custodianId: f.ids.max }),
    );
    expect(error).toMatchObject({ code: 'NOT_PERMITTED', message: expect.stringMatching(/Only an admin can assign custody/) });
    expect(entries('custody.refused', id).at(-1)).toMatchObject({ actor: f.ids.mia, data: { action: 'assign', rule: 'admin' } });
    expect(openProposals(id)).toEqual([]);
  });
});

describe('assignment to a half that already has a secret', () => {
  it('is applied unsealed when the approver does not hold it; a re-seal proposal approved by a holder seals it', async () => {
    const id = await f.fullAccount();
    await f.assign('mfa', id, 'max', 'pat');
    expect(entries('custody.assigned', id).at(-1)?.data).toMatchObject({
      item: 'mfa',
      custodian: f.ids.max,
      sealed: false,
      resealedBy: null,
      generation: 1,
    });
    await f.as('max');
    await expect(async () =>
      f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 }),
    ).rejects.toThrow(/has not been sealed to custodian .*propose a re-seal/);

    await f.as('admin');
    const { proposal } = f.custody.assignments.proposeReseal(
      routed('custody:reseal', { by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max }),
    );
    expect(proposal.summary).toBe(`Seal the MFA half of account ${id} (generation 1) to max`);
    await expect(f.approve(proposal.id, 'max')).rejects.toMatchObject({ message: expect.stringMatching(/about themselves/) });
    // Pat may approve re-seals in general, but he does not hold this half, so he cannot open it to seal it.
    await expect(f.approve(proposal.id, 'pat')).rejects.toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/pat does not hold the MFA half .*a custodian who holds it must approve/),
    });
    await f.approve(proposal.id, 'mia');
    expect(entries('half.resealed', id).at(-1)).toMatchObject({
      actor: f.ids.mia,
      data: { item: 'mfa', custodian: f.ids.max, generation: 1, resealedBy: f.ids.mia, approval: { proposer: f.ids.admin } },
    });
    await f.as('max');
    const out = f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    expect((await f.custody.checkouts.totpCode({ by: f.ids.max, checkoutId: out.checkoutId })).code).toBe(oathtool(HALF_SEED));
    f.custody.checkouts.checkin({ by: f.ids.max, checkoutId: out.checkoutId });
    await f.as('admin');
    await expect(async () =>
      f.custody.assignments.proposeReseal({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId: f.ids.max }),
    ).rejects.toThrow(/already sealed to max/);
  });

  it('is sealed while applying when the approver holds the half and is present', async () => {
    const id = await f.fullAccount();
    await f.assign('mfa', id, 'max', 'mia');
    expect(entries('custody.assigned', id).at(-1)).toMatchObject({
      actor: f.ids.mia,
      data: { custodian: f.ids.max, sealed: true, resealedBy: f.ids.mia, generation: 1 },
    });
    expect(entries('half.resealed', id)).toEqual([]);
  });
});

describe('unassign', () => {
  it('is proposed by an admin, refused early while a checkout is open or for the last holder, and deletes the sealed copy when applied', async () => {
    const id = await f.fullAccount();
    await f.assign('mfa', id, 'max', 'mia');
    await f.as('max');
    const out = f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 });
    await f.custody.checkouts.totpCode({ by: f.ids.max, checkoutId: out.checkoutId });
    await f.as('admin');
    const unassign = (custodianId: string) =>
      f.custody.assignments.proposeUnassign({ by: f.ids.admin, accountId: id, item: 'mfa', custodianId });
    await expect(async () => unassign(f.ids.max)).rejects.toThrow(/must be checked in first/);
    expect(
      f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id })).map((c) => [c.checkoutId, c.custodianId, c.reason]),
    ).toEqual([[out.checkoutId, f.ids.max, 'r']]);
    await f.as('max');
    f.custody.checkouts.checkin({ by: f.ids.max, checkoutId: out.checkoutId });
    expect(f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id }))).toEqual([]);
    expect(f.custody.checkouts.list(routed('custody:checkout-list', { accountId: id, open: false }))[0]).toMatchObject({
      closeKind: 'checked-in',
    });
    await f.as('mia');
    await expect(async () =>
      f.custody.assignments.proposeUnassign({ by: f.ids.mia, accountId: id, item: 'mfa', custodianId: f.ids.max }),
    ).rejects.toMatchObject({ code: 'NOT_PERMITTED' });

    await f.as('admin');
    const { proposal } = unassign(f.ids.max);
    expect(proposal.summary).toBe(`Take the MFA half of account ${id} from max`);
    expect(f.vault.db.prepare("SELECT count(*) AS n FROM custody_sealed WHERE account_id = ? AND item = 'mfa'").get(id)).toEqual({ n: 2 });
    await expect(f.approve(proposal.id, 'max')).rejects.toMatchObject({ message: expect.stringMatching(/about themselves/) });
    await f.approve(proposal.id, 'pat');
    expect(f.vault.db.prepare("SELECT custodian_id FROM custody_sealed WHERE account_id = ? AND item = 'mfa'").all(id)).toEqual([
      { custodian_id: f.ids.mia },
    ]);
    expect(f.vault.db.prepare('SELECT how FROM custody_seen WHERE account_id = ? AND custodian_id = ?').all(id, f.ids.max)).toEqual([
      { how: 'totp-code' },
    ]);
    await f.as('admin');
    await expect(async () => unassign(f.ids.mia)).rejects.toThrow(/only one holding .* would be lost/);
    expect(entries('custody.unassigned', id)).toEqual([
      expect.objectContaining({
        actor: f.ids.pat,
        data: expect.objectContaining({
          account: id,
          item: 'mfa',
          custodian: f.ids.max,
          sealedCopyDeleted: true,
          approval: expect.objectContaining({ proposer: f.ids.admin, approver: f.ids.pat }),
        }),
      }),
    ]);
    await f.as('max');
    await expect(async () =>
      f.custody.checkouts.open({ by: f.ids.max, accountId: id, item: 'mfa', reason: 'r', leaseSeconds: 60 }),
    ).rejects.toMatchObject({ code: 'POLICY_REFUSED' });
  });
});

describe('seed export', () => {
  it('is a proposal of the requester: not themselves, not a password custodian, an MFA custodian of the account approves; collected once', async () => {
    const id = await f.fullAccount();
    await f.assign('mfa', id, 'max', 'mia');
    await f.as('mia');
    const { requestId, proposal } = f.custody.seedExports.request({
      by: f.ids.mia,
      accountId: id,
      reason: 'moving to a new hardware device',
    });
    expect(proposal).toMatchObject({
      type: 'seed-export.approved',
      proposer: f.ids.mia,
      state: 'open',
      change: { account: id, request: requestId, generation: 1 },
    });
    expect(f.custody.seedExports.list({ accountId: id })).toEqual([
      expect.objectContaining({ requestId, proposalId: proposal.id, requestedBy: f.ids.mia, approvedBy: null }),
    ]);
    await expect(async () => f.custody.seedExports.collect({ by: f.ids.mia, requestId })).rejects.toThrow(/waiting for a second custodian/);
    await expect(f.approve(proposal.id, 'mia')).rejects.toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/a second custodian must approve it/),
    });
    await expect(f.approve(proposal.id, 'pat')).rejects.toMatchObject({
      code: 'NOT_PERMITTED',
      message: expect.stringMatching(/approved by admin or mfa-custodian/),
    });
    await f.approve(proposal.id, 'max');
    expect(entries('seed-export.approved', id)).toEqual([
      expect.objectContaining({ actor: f.ids.max, data: expect.objectContaining({ request: requestId, requestedBy: f.ids.mia }) }),
    ]);
    await f.as('mia');
    const exported = f.custody.seedExports.collect({ by: f.ids.mia, requestId });
    expect(exported.base32).toBe(HALF_SEED);
    expect(exported.otpauthUri).toContain(`secret=${HALF_SEED}`);
    await expect(async () => f.custody.seedExports.collect({ by: f.ids.mia, requestId })).rejects.toThrow(/already been collected/);
    expect(entries('seed.exported', id)).toHaveLength(1);
    expect(canonicalize(f.vault.journal.query({ account: id }))).not.toContain(HALF_SEED);
  });

  it('an MFA custodian who does not hold the account is refused at approval (journaled); an admin may approve; a confirmed rotation voids the request', async () => {
    const id = await f.fullAccount();
    await f.as('mia');
    const first = f.custody.seedExports.request({ by: f.ids.mia, accountId: id, reason: 'audit' });
    await expect(f.approve(first.proposal.id, 'max')).rejects.toMatchObject({ code: 'NOT_PERMITTED', detail: { rule: 'approver-role' } });
    expect(entries('custody.refused', id).at(-1)).toMatchObject({ actor: f.ids.max, data: { action: 'seed-export-approve' } });
    await f.approve(first.proposal.id, 'admin');
    await f.as('mia');
    const second = f.custody.seedExports.request({ by: f.ids.mia, accountId: id, reason: 'second device' });
    const NEW_SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    f.custody.rotations.rotate({ by: f.ids.mia, accountId: id, item: 'mfa', seed: NEW_SEED, seconds: 5 });
    // A pending rotation changes nothing yet; its confirmation does.
    await f.confirmRotation('mfa', id, 'mia', 'pat');
    await f.as('mia');
    await expect(async () => f.custody.seedExports.collect({ by: f.ids.mia, requestId: first.requestId })).rejects.toThrow(
      /was rotated after request/,
    );
    await expect(f.approve(second.proposal.id, 'admin')).rejects.toThrow(/was rotated after request/);
  });
});

describe('the journal', () => {
  it('verifies: every two-person entry written above carries a valid approval', () => {
    const types = [...f.vault.journal.read()].map((e) => e.type);
    for (const type of ['custody.assigned', 'custody.unassigned', 'half.resealed', 'seed-export.approved', 'rotation.confirmed'])
      expect(types).toContain(type);
    expect(verifyEntries(f.vault.journal.read()).failures).toEqual([]);
  });
});
