import { describe, expect, it } from 'vitest';
import {
  checkAssignment,
  checkChannelOrganisation,
  checkOrganisationChange,
  organisationConflicts,
  type CustodyRef,
  type PolicyCustodian,
  type PolicyState,
} from '../../shared/policy/four-eyes';

// Rule 3 over organisation records: the policy compares the ids the custody service passes, keeps
// the root inbox and the recovery phone away from the organisation holding the MFA half, checks a
// custodian's move to another organisation, and lists what would break if rule 3 were switched on.
const A = '123456789012';
const ORG = { doit: 'a'.repeat(32), acme: 'b'.repeat(32), bank: 'c'.repeat(32) } as const;
const custodians: readonly PolicyCustodian[] = [
  { id: 'pat', name: 'Pat', organisation: ORG.doit, role: 'password-custodian' },
  { id: 'mia', name: 'Mia', organisation: ORG.doit, role: 'mfa-custodian' },
  { id: 'mo', name: 'Mo', organisation: ORG.acme, role: 'mfa-custodian' },
  { id: 'ada', name: 'Ada', organisation: ORG.acme, role: 'admin' },
  { id: 'abe', name: 'Abe', organisation: ORG.bank, role: 'admin' },
];
const names = { [ORG.doit]: 'DoiT', [ORG.acme]: 'Acme', [ORG.bank]: 'Bank' };
const ref = (item: CustodyRef['item'], custodianId: string): CustodyRef => ({ accountId: A, item, custodianId });
const state = (over: Partial<PolicyState> = {}): PolicyState => ({
  separateOrganisations: true,
  custodians,
  assignments: [],
  seen: [],
  organisationNames: names,
  ...over,
});
const message = (d: ReturnType<typeof checkAssignment>) => (d.allowed ? 'allowed' : d.message);

describe('organisations compared by record id', () => {
  it('two custodians of one record are one organisation, named by the record in the message', () => {
    expect(message(checkAssignment(state({ assignments: [ref('password', 'pat')] }), ref('mfa', 'mia')))).toBe(
      `Rule 3 (separate organisations): organisation DoiT already holds or has seen the password half of account ${A}, and this vault keeps the two with different organisations; choose a custodian from another organisation to hold the MFA half of account ${A}.`,
    );
    expect(checkAssignment(state({ assignments: [ref('password', 'pat')] }), ref('mfa', 'mo')).allowed).toBe(true);
  });
});

describe('rule 3: the recovery channels and the MFA half', () => {
  const inboxAcme = { channelOrganisations: [{ accountId: A, item: 'email' as const, organisation: ORG.acme }] };

  it('refuses the MFA half to the organisation named as holding the root inbox, and allows it elsewhere', () => {
    const d = checkAssignment(state(inboxAcme), ref('mfa', 'mo'));
    expect(d).toMatchObject({ allowed: false, rule: 3, item: 'mfa' });
    expect(message(d)).toMatch(
      /organisation Acme already holds the root e-mail inbox of account 123456789012, and this vault keeps the root inbox/,
    );
    expect(checkAssignment(state(inboxAcme), ref('mfa', 'mia')).allowed).toBe(true);
    expect(checkAssignment({ ...state(inboxAcme), separateOrganisations: false }, ref('mfa', 'mo')).allowed).toBe(true);
  });

  it('counts a custodian assigned a recovery channel, and refuses a channel to the organisation that has seen the MFA half', () => {
    expect(checkAssignment(state({ assignments: [ref('phone', 'ada')] }), ref('mfa', 'mo'))).toMatchObject({ allowed: false, rule: 3 });
    expect(checkAssignment(state({ seen: [ref('mfa', 'mo')] }), ref('email', 'ada'))).toMatchObject({ allowed: false, rule: 3 });
    expect(
      checkChannelOrganisation(state({ seen: [ref('mfa', 'mo')] }), { accountId: A, item: 'phone', organisation: ORG.acme }),
    ).toMatchObject({
      allowed: false,
      rule: 3,
      item: 'phone',
    });
    expect(
      checkChannelOrganisation(state({ seen: [ref('mfa', 'mo')] }), { accountId: A, item: 'phone', organisation: ORG.bank }).allowed,
    ).toBe(true);
  });

  it('keeps the root inbox and the recovery phone with different organisations (rule 4)', () => {
    expect(checkChannelOrganisation(state(inboxAcme), { accountId: A, item: 'phone', organisation: ORG.acme })).toMatchObject({
      allowed: false,
      rule: 4,
    });
  });
});

describe('a custodian moving to another organisation', () => {
  it('is refused when, on some account, their item would meet its counterpart in the new organisation', () => {
    const s = state({ assignments: [ref('password', 'pat'), ref('mfa', 'mo')] });
    expect(checkOrganisationChange(s, { custodianId: 'pat', organisation: ORG.acme })).toMatchObject({
      allowed: false,
      rule: 3,
      item: 'password',
    });
    expect(checkOrganisationChange(s, { custodianId: 'pat', organisation: ORG.bank }).allowed).toBe(true);
    // Sightings count too, and nothing is checked with rule 3 off.
    const seen = state({ seen: [ref('password', 'pat')], assignments: [ref('mfa', 'mo')] });
    expect(checkOrganisationChange(seen, { custodianId: 'pat', organisation: ORG.acme }).allowed).toBe(false);
    expect(checkOrganisationChange({ ...seen, separateOrganisations: false }, { custodianId: 'pat', organisation: ORG.acme }).allowed).toBe(
      true,
    );
  });
});

describe('switching rule 3 on', () => {
  it('lists where custody would break it, whether rule 3 is on now or not', () => {
    const off = state({ separateOrganisations: false, assignments: [ref('password', 'pat'), ref('mfa', 'mia')] });
    const conflicts = organisationConflicts(off);
    expect(conflicts.map((c) => [c.rule, c.item])).toEqual([
      [3, 'password'],
      [3, 'mfa'],
    ]);
    expect(organisationConflicts(state({ assignments: [ref('password', 'pat'), ref('mfa', 'mo')] }))).toEqual([]);
    expect(
      organisationConflicts(
        state({ assignments: [ref('mfa', 'mo')], channelOrganisations: [{ accountId: A, item: 'phone', organisation: ORG.acme }] }),
      ),
    ).toHaveLength(2);
  });
});
