import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportJournal } from '../../electron/journal/export';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { VECTORS_DIR } from '../support/journal-vectors';
import type { JsonObject } from '../../shared/journal/canonical';
import { TWO_PERSON_TYPES } from '../../shared/journal/dual-control';
import { verifyEntries } from '../../shared/journal/verifier';
import { sodiumReady } from '../../shared/sodium';
import { journalsClosedAfterEach, seededSigner, type TestJournal } from '../support/journal-builder';

const ACCOUNT = '123456789012';
const journal = journalsClosedAfterEach();

/** A journal with an admin (ada), a password custodian (pat), an MFA custodian (mia) and a reviewer (rita). */
function roster(): TestJournal {
  const j = journal();
  j.enrol('ada', 0x21, { role: 'admin' });
  j.enrol('pat', 0x22, { role: 'password-custodian' });
  j.enrol('mia', 0x23, { role: 'mfa-custodian' });
  j.enrol('rita', 0x24, { role: 'reviewer' });
  j.tick();
  return j;
}

/** A valid change of each two-person type: proposer, approver, the proposed change and what applying adds. */
const CASES: Record<string, { proposer: string; approver: string; change: JsonObject; details?: JsonObject; newcomer?: number }> = {
  'custodian.enrolled': {
    proposer: 'ada',
    approver: 'pat',
    change: { custodian: 'nia', name: 'Nia', organisation: 'acme', role: 'mfa-custodian' },
    details: { signingKey: seededSigner(0x30).publicKey },
    newcomer: 0x30,
  },
  'custodian.revoked': {
    proposer: 'ada',
    approver: 'pat',
    change: { custodian: 'mia', signingKey: seededSigner(0x23).publicKey, reason: 'left' },
  },
  'custodian.role-changed': { proposer: 'ada', approver: 'pat', change: { custodian: 'mia', role: 'password-custodian' } },
  'custodian.organisation-changed': { proposer: 'ada', approver: 'pat', change: { custodian: 'mia', organisation: 'org-2' } },
  'organisation.added': { proposer: 'ada', approver: 'mia', change: { organisation: 'org-2', name: 'Second Org' } },
  'custody.assigned': { proposer: 'ada', approver: 'pat', change: { account: ACCOUNT, item: 'mfa', custodian: 'mia' } },
  'custody.unassigned': { proposer: 'ada', approver: 'pat', change: { account: ACCOUNT, item: 'mfa', custodian: 'mia' } },
  'half.resealed': { proposer: 'ada', approver: 'pat', change: { account: ACCOUNT, item: 'mfa', custodian: 'mia' } },
  'policy.changed': { proposer: 'ada', approver: 'mia', change: { separateOrganisations: true } },
  'custody.channel-organisation-set': {
    proposer: 'ada',
    approver: 'pat',
    change: { account: ACCOUNT, item: 'email', organisation: 'org-2' },
  },
  'rotation.confirmed': { proposer: 'pat', approver: 'mia', change: { account: ACCOUNT, item: 'password', generation: 2 } },
  'seed-export.approved': { proposer: 'mia', approver: 'ada', change: { account: ACCOUNT, request: 'cd'.repeat(16) } },
  'vault.recovered': {
    proposer: 'pat',
    approver: 'mia',
    change: { keychainBackend: 'Secret Service', previousKeychainBackend: 'macOS Keychain' },
  },
};

function write(j: TestJournal, type: string, proposer: string, approver: string): void {
  const c = CASES[type]!;
  j.approved(type, c.change, c.details ?? {}, proposer, approver, c.newcomer === undefined ? [] : [seededSigner(c.newcomer)]);
}

function codes(j: TestJournal): string[] {
  return verifyEntries(j.entries()).failures.map((f) => f.code);
}

beforeAll(async () => {
  await sodiumReady();
});

describe('dual control in the verifier (MISSING_APPROVAL)', () => {
  it('covers every two-person entry type', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(TWO_PERSON_TYPES).sort());
  });

  for (const type of Object.keys(CASES)) {
    describe(type, () => {
      it('verifies when proposed by one eligible custodian and approved by another', () => {
        const j = roster();
        write(j, type, CASES[type]!.proposer, CASES[type]!.approver);
        expect(verifyEntries(j.entries()).failures).toEqual([]);
      });

      it('fails with one signature only: no approval at all', () => {
        const j = roster();
        const c = CASES[type]!;
        j.store.append({ type, actor: { id: c.proposer, signer: j.custodians.get(c.proposer)! }, data: { ...c.change, ...c.details } });
        expect(codes(j)).toContain('MISSING_APPROVAL');
      });

      it('fails when the same custodian proposed and approved', () => {
        const j = roster();
        write(j, type, CASES[type]!.proposer, CASES[type]!.proposer);
        expect(codes(j)).toEqual(['MISSING_APPROVAL']);
      });

      it('fails when the second signer is not eligible (a reviewer)', () => {
        const j = roster();
        write(j, type, CASES[type]!.proposer, 'rita');
        expect(codes(j)).toEqual(['MISSING_APPROVAL']);
      });
    });
  }

  it('fails when the applied change is not the approved one', () => {
    const j = roster();
    const c = CASES['custody.assigned']!;
    j.approved('custody.assigned', c.change, { custodian: 'pat' }, 'ada', 'mia');
    expect(verifyEntries(j.entries()).failures.map((f) => f.reason)).toEqual([expect.stringMatching(/differ in data.custodian/)]);
  });

  it('fails when the custodian the change is about approves it', () => {
    const j = roster();
    write(j, 'custody.assigned', 'ada', 'mia');
    expect(verifyEntries(j.entries()).failures.map((f) => f.reason)).toEqual([expect.stringMatching(/about themselves/)]);
  });

  it('fails when the proposal expired before it was applied', () => {
    const j = roster();
    const c = CASES['policy.changed']!;
    j.approved('policy.changed', c.change, {}, 'ada', 'mia', [], { expiresAt: j.clock - 1 });
    expect(verifyEntries(j.entries()).failures.map((f) => f.reason)).toEqual([expect.stringMatching(/expired/)]);
  });

  it("fails when the proposer's signature was forged (made by another key)", () => {
    const j = roster();
    const c = CASES['policy.changed']!;
    const real = j.custodians.get('ada')!;
    j.custodians.set('ada', j.custodians.get('pat')!);
    j.approved('policy.changed', c.change, {}, 'ada', 'mia');
    j.custodians.set('ada', real);
    expect(verifyEntries(j.entries()).failures.map((f) => f.reason)).toEqual([
      expect.stringMatching(/signature over the proposal does not verify/),
    ]);
  });

  it('refuses a third founding enrolment, and an approved enrolment the newcomer did not sign', () => {
    const j = roster();
    const nia = seededSigner(0x31);
    j.store.append({
      type: 'custodian.enrolled',
      actor: { id: 'nia', signer: nia },
      data: { custodian: 'nia', signingKey: nia.publicKey, name: 'nia', organisation: 'acme', role: 'admin', founding: true },
    });
    const c = CASES['custodian.enrolled']!;
    j.approved('custodian.enrolled', c.change, c.details ?? {}, 'ada', 'pat');
    expect(verifyEntries(j.entries()).failures.map((f) => f.reason)).toEqual([
      expect.stringMatching(/founding enrolment after the first 2/),
      expect.stringMatching(/did not sign their own enrolment/),
    ]);
  });

  it('a revoked custodian can no longer approve', () => {
    const j = roster();
    write(j, 'custodian.revoked', 'ada', 'pat');
    j.tick();
    j.approved('policy.changed', { separateOrganisations: true }, {}, 'ada', 'mia');
    expect(verifyEntries(j.entries()).failures.map((f) => f.code)).toEqual(['REVOKED_KEY', 'MISSING_APPROVAL']);
  });
});

describe('the Python reference verifier agrees on dual control', () => {
  /** Exports the journal as a bundle and verifies it with both verifiers: the TypeScript codes and Python's output. */
  async function bothVerifiers(j: TestJournal): Promise<{ ts: string[]; python: string; status: number | null }> {
    j.store.append({ type: 'session.ended', data: { reason: 'test' } });
    const out = join(j.dir, 'bundle.hkj');
    exportJournal(j.store, { out, signer: j.device, now: () => j.clock });
    const report = await verifyBundleFile(out);
    const py = spawnSync('python3', [join(VECTORS_DIR, 'verify_vectors.py'), out], { encoding: 'utf8' });
    return { ts: report.failures.map((f) => f.code), python: py.stdout, status: py.status };
  }

  for (const type of Object.keys(CASES)) {
    it(`${type}: valid, no approval, same custodian twice, ineligible approver`, async () => {
      const c = CASES[type]!;
      const valid = roster();
      write(valid, type, c.proposer, c.approver);
      const ok = await bothVerifiers(valid);
      expect(ok.ts).toEqual([]);
      expect(ok.python).toMatch(/^VALID/);

      const bare = roster();
      bare.store.append({ type, actor: { id: c.proposer, signer: bare.custodians.get(c.proposer)! }, data: { ...c.change, ...c.details } });
      const twice = roster();
      write(twice, type, c.proposer, c.proposer);
      const reviewer = roster();
      write(reviewer, type, c.proposer, 'rita');
      for (const j of [bare, twice, reviewer]) {
        const r = await bothVerifiers(j);
        expect(r.ts).toContain('MISSING_APPROVAL');
        expect(r.python).toContain('MISSING_APPROVAL');
        expect(r.status).toBe(1);
      }
    });
  }
});
