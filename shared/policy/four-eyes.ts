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

/** The recovery channels: the root e-mail inbox and the recovery phone. */
export type RecoveryChannel = 'email' | 'phone';

/**
 * An organisation that holds a recovery channel of an account without a custodian in the vault
 * (the account's "root inbox organisation" or "recovery phone organisation").
 */
export interface ChannelOrganisation {
  readonly accountId: string;
  readonly item: RecoveryChannel;
  readonly organisation: string;
}

/** The custody facts a decision needs. */
export interface PolicyState {
  /** Rule 3, per vault: the halves (and the recovery channels) must sit with different organisations. */
  readonly separateOrganisations: boolean;
  /** `organisation` is compared exactly: the custody service passes organisation record ids. */
  readonly custodians: readonly PolicyCustodian[];
  readonly assignments: readonly CustodyRef[];
  /** Who has obtained which item since that item's last rotation (the custody service clears an item's rows when it rotates). */
  readonly seen: readonly CustodyRef[];
  /** Organisations named on the account as holding its root inbox or recovery phone; they count as holding that item under rule 3. */
  readonly channelOrganisations?: readonly ChannelOrganisation[];
  /** Display names of organisations by id, for messages only (an id without a name is shown as it is). */
  readonly organisationNames?: Readonly<Record<string, string>>;
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
  const refuse = (rule: PolicyRule, why: string, next: string): PolicyDecision => refusalOf(rule, accountId, item, `${why}; ${next}`);
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
  const clash = organisationClash(state, accountId, item, custodian.organisation, verb === 'be assigned' ? 'hold' : 'check out');
  return clash ?? ALLOWED;
}

/**
 * May the account's root inbox (`email`) or recovery phone (`phone`) be held by `organisation`,
 * an organisation without a custodian in the vault? Only rule 3 (and rule 4 between the two
 * channels) can refuse it, and only when the vault keeps organisations separate.
 */
export function checkChannelOrganisation(
  state: PolicyState,
  request: { readonly accountId: string; readonly item: RecoveryChannel; readonly organisation: string },
): PolicyDecision {
  return organisationClash(state, request.accountId, request.item, request.organisation, 'hold') ?? ALLOWED;
}

/**
 * May a custodian move to `organisation`? Under rule 3, not while that would put, on some account,
 * an item they hold or have seen in the same organisation as its counterpart (the other half, the
 * other recovery channel, or the MFA half against the recovery channels).
 */
export function checkOrganisationChange(
  state: PolicyState,
  request: { readonly custodianId: string; readonly organisation: string },
): PolicyDecision {
  const { custodianId, organisation } = request;
  const moved: PolicyState = {
    ...state,
    custodians: state.custodians.map((c) => (c.id === custodianId ? { ...c, organisation } : c)),
  };
  for (const r of [...state.assignments, ...state.seen]) {
    if (r.custodianId !== custodianId) continue;
    const clash = organisationClash(moved, r.accountId, r.item, organisation, 'hold');
    if (clash !== null) return clash;
  }
  return ALLOWED;
}

/**
 * Where custody today breaks rule 3 as if it were switched on: every (account, item,
 * organisation) whose organisation also holds or has seen the item's counterpart. Empty when
 * switching rule 3 on keeps every current holder able to work.
 */
export function organisationConflicts(state: PolicyState): Exclude<PolicyDecision, { allowed: true }>[] {
  const on: PolicyState = { ...state, separateOrganisations: true };
  const found: Exclude<PolicyDecision, { allowed: true }>[] = [];
  const seenKeys = new Set<string>();
  const orgOf = new Map(state.custodians.map((c) => [c.id, c.organisation]));
  const holdings: { accountId: string; item: CustodyItem; organisation: string }[] = [
    ...[...state.assignments, ...state.seen].flatMap((r) => {
      const organisation = orgOf.get(r.custodianId);
      return organisation === undefined ? [] : [{ accountId: r.accountId, item: r.item, organisation }];
    }),
    ...(state.channelOrganisations ?? []),
  ];
  for (const h of holdings) {
    const key = `${h.accountId}:${h.item}:${h.organisation}`;
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    const clash = organisationClash(on, h.accountId, h.item, h.organisation, 'hold');
    if (clash !== null && !clash.allowed) found.push(clash);
  }
  return found;
}

/** A refusal by `rule` of `item` of the account; `text` is the why and the what next. */
function refusalOf(rule: PolicyRule, accountId: string, item: CustodyItem, text: string): PolicyDecision {
  return { allowed: false, rule, ruleName: RULE_NAMES[rule], accountId, item, message: `${ruleTitle(rule)}: ${text}` };
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

/**
 * Organisations that hold or have seen `item` of the account: under rule 3 a sighting counts as
 * holding, and so does being named the account's root inbox or recovery phone organisation.
 */
function organisationsWith(state: PolicyState, accountId: string, item: CustodyItem): ReadonlySet<string> {
  const ids = new Set<string>();
  for (const r of [...state.assignments, ...state.seen]) {
    if (r.accountId === accountId && r.item === item) ids.add(r.custodianId);
  }
  const orgs = new Set<string>();
  for (const c of state.custodians) if (ids.has(c.id)) orgs.add(c.organisation);
  for (const c of state.channelOrganisations ?? []) if (c.accountId === accountId && c.item === item) orgs.add(c.organisation);
  return orgs;
}

/**
 * Rule 3 (and rule 4's organisation part) for `organisation` holding `item`: the counterpart item
 * (the other half, or the other recovery channel) must sit with another organisation, and so must
 * the MFA half and the recovery channels (whoever has the inbox or the phone and the MFA half can
 * take over the root user). Null when the vault does not keep organisations separate or nothing clashes.
 */
function organisationClash(
  state: PolicyState,
  accountId: string,
  item: CustodyItem,
  organisation: string,
  verb: 'hold' | 'check out',
): PolicyDecision | null {
  if (!state.separateOrganisations) return null;
  const orgName = organisationLabel(state, organisation);
  const wanted = `the ${describeItem(item)} of account ${accountId}`;
  const next = `choose a custodian from another organisation to ${verb} ${wanted}.`;
  const refuse = (rule: PolicyRule, why: string): PolicyDecision => refusalOf(rule, accountId, item, `${why}; ${next}`);
  const other = otherItem(item);
  if (organisationsWith(state, accountId, other).has(organisation)) {
    return refuse(
      isHalf(item) ? 3 : 4,
      `organisation ${orgName} already holds or has seen the ${describeItem(other)} of account ${accountId}, and this vault keeps the two with different organisations`,
    );
  }
  const rivals: readonly CustodyItem[] = item === 'mfa' ? ['email', 'phone'] : isHalf(item) ? [] : ['mfa'];
  for (const rival of rivals) {
    if (organisationsWith(state, accountId, rival).has(organisation)) {
      return refuse(
        3,
        `organisation ${orgName} already ${isHalf(rival) ? 'holds or has seen' : 'holds'} the ${describeItem(rival)} of account ${accountId}, and this vault keeps the root inbox and the recovery phone away from the organisation holding the MFA half`,
      );
    }
  }
  return null;
}

function organisationLabel(state: PolicyState, organisation: string): string {
  return state.organisationNames?.[organisation] ?? organisation;
}
