import { describe, expect, it } from 'vitest';
import {
  checkAssignment,
  checkCheckout,
  otherItem,
  type CustodyRef,
  type PolicyCustodian,
  type PolicyDecision,
  type PolicyState,
} from '../../shared/policy/four-eyes';

const ACCOUNT = '123456789012';

const custodians: readonly PolicyCustodian[] = [
  { id: 'pat', name: 'Pat', organisation: 'provider', role: 'password-custodian' },
  { id: 'mo', name: 'Mo', organisation: 'customer', role: 'mfa-custodian' },
  { id: 'mia', organisation: 'provider', role: 'mfa-custodian' },
  { id: 'ada', organisation: 'provider', role: 'admin' },
  { id: 'abe', organisation: 'customer', role: 'admin' },
  { id: 'rex', organisation: 'audit', role: 'reviewer' },
  { id: 'gone', organisation: 'provider', role: 'password-custodian', revoked: true },
];

function state(over: Partial<PolicyState> = {}): PolicyState {
  return { separateOrganisations: false, custodians, assignments: [], seen: [], ...over };
}

const ref = (item: CustodyRef['item'], custodianId: string, accountId = ACCOUNT): CustodyRef => ({ accountId, item, custodianId });

function refusal(decision: PolicyDecision): Exclude<PolicyDecision, { allowed: true }> {
  if (decision.allowed) throw new Error('expected a refusal, got allowed');
  return decision;
}

describe('otherItem', () => {
  it('pairs password with mfa and email with phone, both ways', () => {
    expect(otherItem('password')).toBe('mfa');
    expect(otherItem('mfa')).toBe('password');
    expect(otherItem('email')).toBe('phone');
    expect(otherItem('phone')).toBe('email');
  });
});

describe('role fits item', () => {
  it('allows each half to its own custodian role and recovery channels to admins', () => {
    expect(checkAssignment(state(), ref('password', 'pat')).allowed).toBe(true);
    expect(checkAssignment(state(), ref('mfa', 'mo')).allowed).toBe(true);
    expect(checkAssignment(state(), ref('email', 'ada')).allowed).toBe(true);
    expect(checkAssignment(state(), ref('phone', 'abe')).allowed).toBe(true);
  });

  it('refuses a password custodian the MFA half, an admin a half, and a reviewer anything', () => {
    const r = refusal(checkAssignment(state(), ref('mfa', 'pat')));
    expect(r).toMatchObject({ rule: 'role', ruleName: 'role fits item', item: 'mfa', accountId: ACCOUNT });
    expect(r.message).toBe(
      'Refused (role fits item): custodian Pat (pat) has the role password-custodian, and the MFA half may only be held by a custodian with the role mfa-custodian; they cannot be assigned the MFA half of account 123456789012.',
    );
    expect(refusal(checkAssignment(state(), ref('password', 'ada'))).rule).toBe('role');
    for (const item of ['password', 'mfa', 'email', 'phone'] as const) {
      expect(refusal(checkAssignment(state(), ref(item, 'rex'))).rule).toBe('role');
    }
  });

  it('refuses unknown and revoked custodians, naming them', () => {
    expect(refusal(checkAssignment(state(), ref('password', 'nobody'))).message).toContain('custodian nobody is not enrolled');
    expect(refusal(checkAssignment(state(), ref('password', 'gone'))).message).toContain('custodian gone has been revoked');
  });
});

describe('checkout needs an assignment', () => {
  it('refuses a checkout by a custodian of the right role who is not assigned the item', () => {
    const r = refusal(checkCheckout(state(), ref('password', 'pat')));
    expect(r).toMatchObject({ rule: 'assignment', item: 'password' });
    expect(r.message).toContain('is not assigned the password half of account 123456789012');
    const assigned = state({ assignments: [ref('password', 'pat')] });
    expect(checkCheckout(assigned, ref('password', 'pat')).allowed).toBe(true);
    expect(refusal(checkCheckout(assigned, ref('password', 'pat', '999999999999'))).rule).toBe('assignment');
  });
});

// Rules 1 and 2 are reachable for halves only when a role changed after the fact (e.g. a custodian
// re-enrolled in the other role): the role check alone would otherwise stop them first.
const switched = (id: string, role: string): readonly PolicyCustodian[] => custodians.map((c) => (c.id === id ? { ...c, role } : c));

describe('rule 1: split halves', () => {
  it('refuses the password half to someone who holds the MFA half of the same account', () => {
    const s = state({ custodians: switched('mo', 'password-custodian'), assignments: [ref('mfa', 'mo')] });
    const r = refusal(checkAssignment(s, ref('password', 'mo')));
    expect(r).toMatchObject({ rule: 1, ruleName: 'split halves', item: 'password', accountId: ACCOUNT });
    expect(r.message).toBe(
      'Rule 1 (split halves): custodian Mo (mo) already holds the MFA half of account 123456789012; they cannot also be assigned the password half of account 123456789012.',
    );
    expect(checkAssignment(s, ref('password', 'mo', '210987654321')).allowed).toBe(true);
  });

  it('refuses a checkout of one half to someone also assigned the other', () => {
    const s = state({ custodians: switched('mo', 'password-custodian'), assignments: [ref('mfa', 'mo'), ref('password', 'mo')] });
    expect(refusal(checkCheckout(s, ref('password', 'mo'))).rule).toBe(1);
  });
});

describe('rule 2: seen both', () => {
  const s = state({ custodians: switched('pat', 'mfa-custodian'), seen: [ref('password', 'pat')] });

  it('refuses assigning the MFA half to someone who has seen the password since its rotation, though they no longer hold it', () => {
    const r = refusal(checkAssignment(s, ref('mfa', 'pat')));
    expect(r).toMatchObject({ rule: 2, ruleName: 'seen both', item: 'mfa' });
    expect(r.message).toBe(
      'Rule 2 (seen both): custodian Pat (pat) has seen the password half of account 123456789012 since it was last rotated; they cannot also be assigned the MFA half of account 123456789012 until the password half is rotated.',
    );
  });

  it('refuses the checkout too, and allows both once the seen half is rotated (its sightings cleared)', () => {
    const assigned = { ...s, assignments: [ref('mfa', 'pat')] };
    expect(refusal(checkCheckout(assigned, ref('mfa', 'pat'))).rule).toBe(2);
    const rotated = { ...assigned, seen: [] };
    expect(checkCheckout(rotated, ref('mfa', 'pat')).allowed).toBe(true);
    expect(checkAssignment(rotated, ref('mfa', 'pat')).allowed).toBe(true);
  });
});

describe('rule 3: separate organisations', () => {
  const s = state({ separateOrganisations: true, assignments: [ref('password', 'pat')] });

  it('refuses the MFA half to the organisation that holds the password half, only when the vault asks for it', () => {
    const r = refusal(checkAssignment(s, ref('mfa', 'mia')));
    expect(r).toMatchObject({ rule: 3, ruleName: 'separate organisations', item: 'mfa' });
    expect(r.message).toBe(
      'Rule 3 (separate organisations): organisation provider already holds or has seen the password half of account 123456789012, and this vault keeps the two with different organisations; choose a custodian from another organisation to hold the MFA half of account 123456789012.',
    );
    expect(checkAssignment(s, ref('mfa', 'mo')).allowed).toBe(true);
    expect(checkAssignment({ ...s, separateOrganisations: false }, ref('mfa', 'mia')).allowed).toBe(true);
  });

  it('counts an organisation that has seen the other half, and applies at checkout', () => {
    const seenOnly = state({ separateOrganisations: true, seen: [ref('password', 'pat')], assignments: [ref('mfa', 'mia')] });
    expect(refusal(checkCheckout(seenOnly, ref('mfa', 'mia'))).rule).toBe(3);
  });
});

describe('rule 4: recovery channels', () => {
  it('refuses the phone to the admin who holds the root e-mail inbox', () => {
    const s = state({ assignments: [ref('email', 'ada')] });
    const r = refusal(checkAssignment(s, ref('phone', 'ada')));
    expect(r).toMatchObject({ rule: 4, ruleName: 'split recovery channels', item: 'phone' });
    expect(r.message).toBe(
      'Rule 4 (split recovery channels): custodian ada already holds the root e-mail inbox of account 123456789012; they cannot also be assigned the recovery phone of account 123456789012.',
    );
    expect(checkAssignment(s, ref('phone', 'abe')).allowed).toBe(true);
  });

  it('refuses the inbox to an admin who has used the phone since it changed', () => {
    const s = state({ seen: [ref('phone', 'abe')] });
    const r = refusal(checkAssignment(s, ref('email', 'abe')));
    expect(r.rule).toBe(4);
    expect(r.message).toContain('has seen the recovery phone of account 123456789012 since it was last rotated');
  });

  it('applies the organisation split to recovery channels when the vault asks for it', () => {
    const s = state({
      separateOrganisations: true,
      custodians: [...custodians, { id: 'ari', organisation: 'provider', role: 'admin' }],
      assignments: [ref('email', 'ada')],
    });
    const r = refusal(checkAssignment(s, ref('phone', 'ari')));
    expect(r.rule).toBe(4);
    expect(r.message).toContain('organisation provider already holds or has seen the root e-mail inbox');
    expect(checkAssignment(s, ref('phone', 'abe')).allowed).toBe(true);
  });
});
