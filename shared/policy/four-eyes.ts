/**
 * The four-eyes custody policy; docs/four-eyes.md states the rules.
 *
 * Pure decisions over a snapshot of the vault's custody state: the custody service builds a
 * PolicyState inside the same transaction that would apply the change, asks here, and journals a
 * refusal as `custody.refused` with the rule and item. Nothing here sees a secret: only ids,
 * organisations, roles and which item each custodian holds or has seen.
 */

/** What a custodian can be given: the two halves (password, mfa) and the two recovery channels (email, phone). */
export type CustodyItem = 'password' | 'mfa' | 'email' | 'phone';

/** Every custody item, halves first. */
export const CUSTODY_ITEMS: readonly CustodyItem[] = ['password', 'mfa', 'email', 'phone'];

/** A custodian as the policy sees it. `name` only makes messages friendlier; `revoked` custodians get nothing. */
export interface PolicyCustodian {
  readonly id: string;
  readonly organisation: string;
  readonly role: string;
  readonly name?: string;
  readonly revoked?: boolean;
}

/** One (account, item, custodian) triple: an assignment, a sighting or a request. */
export interface CustodyRef {
  readonly accountId: string;
  readonly item: CustodyItem;
  readonly custodianId: string;
}

/** The custody facts a decision needs. */
export interface PolicyState {
  /** Rule 3, per vault: the halves (and the recovery channels) must sit with different organisations. */
  readonly separateOrganisations: boolean;
  readonly custodians: readonly PolicyCustodian[];
  readonly assignments: readonly CustodyRef[];
  /** Who has obtained which item since that item's last rotation (the custody service clears an item's rows when it rotates). */
  readonly seen: readonly CustodyRef[];
}

/**
 * Which rule refused. 1–4 are docs/four-eyes.md's numbering; 'role' = the custodian's role (or enrolment state)
 * does not fit the item; 'assignment' = a checkout by someone not assigned the item.
 */
export type PolicyRule = 1 | 2 | 3 | 4 | 'role' | 'assignment';

/** The outcome of a policy check; a refusal names the rule and the item, in words and as data. */
export type PolicyDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly rule: PolicyRule;
      readonly ruleName: string;
      readonly accountId: string;
      readonly item: CustodyItem;
      readonly message: string;
    };

/** The item that must never sit with the same person as `item`: password<->mfa, email<->phone. */
export function otherItem(item: CustodyItem): CustodyItem {
  switch (item) {
    case 'password':
      return 'mfa';
    case 'mfa':
      return 'password';
    case 'email':
      return 'phone';
    case 'phone':
      return 'email';
  }
}

/** True for the two halves of the root credential, false for the recovery channels. */
export function isHalf(item: CustodyItem): boolean {
  return item === 'password' || item === 'mfa';
}

/** The role that may hold `item`: each half has its custodian role; recovery channels go to admins; reviewers hold nothing. */
export function roleForItem(item: CustodyItem): string {
  switch (item) {
    case 'password':
      return 'password-custodian';
    case 'mfa':
      return 'mfa-custodian';
    case 'email':
    case 'phone':
      return 'admin';
  }
}

/** How an item is named in messages a person reads. */
export function describeItem(item: CustodyItem): string {
  switch (item) {
    case 'password':
      return 'password half';
    case 'mfa':
      return 'MFA half';
    case 'email':
      return 'root e-mail inbox';
    case 'phone':
      return 'recovery phone';
  }
}

const RULE_NAMES: Readonly<Record<PolicyRule, string>> = {
  1: 'split halves',
  2: 'seen both',
  3: 'separate organisations',
  4: 'split recovery channels',
  role: 'role fits item',
  assignment: 'checkout needs assignment',
};

const ALLOWED: PolicyDecision = { allowed: true };

/** May `request.custodianId` be assigned `request.item` of `request.accountId`? */
export function checkAssignment(state: PolicyState, request: CustodyRef): PolicyDecision {
  return decide(state, request, 'assigned');
}

/** May `request.custodianId` obtain (check out, reveal, see codes of) `request.item` of `request.accountId` now? */
export function checkCheckout(state: PolicyState, request: CustodyRef): PolicyDecision {
  return decide(state, request, 'checkout');
}

type Action = 'assigned' | 'checkout';

function decide(state: PolicyState, request: CustodyRef, action: Action): PolicyDecision {
  const { accountId, item, custodianId } = request;
  const custodian = state.custodians.find((c) => c.id === custodianId);
  const who = custodian ? label(custodian) : `custodian ${custodianId}`;
  const wanted = `the ${describeItem(item)} of account ${accountId}`;
  const refuse = (rule: PolicyRule, why: string, next: string): PolicyDecision => ({
    allowed: false,
    rule,
    ruleName: RULE_NAMES[rule],
    accountId,
    item,
    message: `${ruleTitle(rule)}: ${why}; ${next}`,
  });
  const verb = action === 'assigned' ? 'be assigned' : 'check out';

  if (!custodian) return refuse('role', `${who} is not enrolled in this vault`, `they cannot ${verb} ${wanted}.`);
  if (custodian.revoked === true) return refuse('role', `${who} has been revoked`, `they cannot ${verb} ${wanted}.`);
  const role = roleForItem(item);
  if (custodian.role !== role) {
    return refuse(
      'role',
      `${who} has the role ${custodian.role}, and the ${describeItem(item)} may only be held by a custodian with the role ${role}`,
      `they cannot ${verb} ${wanted}.`,
    );
  }
  if (action === 'checkout' && !holds(state.assignments, accountId, item, custodianId)) {
    return refuse('assignment', `${who} is not assigned ${wanted}`, 'an admin must assign it to them before they can check it out.');
  }

  const other = otherItem(item);
  const splitRule: PolicyRule = isHalf(item) ? 1 : 4;
  const seenRule: PolicyRule = isHalf(item) ? 2 : 4;
  const orgRule: PolicyRule = isHalf(item) ? 3 : 4;
  const otherName = `the ${describeItem(other)}`;

  if (holds(state.assignments, accountId, other, custodianId)) {
    return refuse(splitRule, `${who} already holds ${otherName} of account ${accountId}`, `they cannot also ${verb} ${wanted}.`);
  }
  if (holds(state.seen, accountId, other, custodianId)) {
    return refuse(
      seenRule,
      `${who} has seen ${otherName} of account ${accountId} since it was last rotated`,
      `they cannot also ${verb} ${wanted} until ${otherName} is rotated.`,
    );
  }
  if (state.separateOrganisations) {
    const clash = organisationsWith(state, accountId, other).has(custodian.organisation);
    if (clash) {
      return refuse(
        orgRule,
        `organisation ${custodian.organisation} already holds or has seen ${otherName} of account ${accountId}, and this vault keeps the two with different organisations`,
        `choose a custodian from another organisation to ${verb === 'be assigned' ? 'hold' : 'check out'} ${wanted}.`,
      );
    }
  }
  return ALLOWED;
}

function ruleTitle(rule: PolicyRule): string {
  const name = RULE_NAMES[rule];
  return typeof rule === 'number' ? `Rule ${rule} (${name})` : `Refused (${name})`;
}

function label(custodian: PolicyCustodian): string {
  return custodian.name === undefined ? `custodian ${custodian.id}` : `custodian ${custodian.name} (${custodian.id})`;
}

function holds(rows: readonly CustodyRef[], accountId: string, item: CustodyItem, custodianId: string): boolean {
  return rows.some((r) => r.accountId === accountId && r.item === item && r.custodianId === custodianId);
}

/** Organisations that hold or have seen `item` of the account: under rule 3 a sighting counts as holding. */
function organisationsWith(state: PolicyState, accountId: string, item: CustodyItem): ReadonlySet<string> {
  const ids = new Set<string>();
  for (const r of [...state.assignments, ...state.seen]) {
    if (r.accountId === accountId && r.item === item) ids.add(r.custodianId);
  }
  const orgs = new Set<string>();
  for (const c of state.custodians) if (ids.has(c.id)) orgs.add(c.organisation);
  return orgs;
}
