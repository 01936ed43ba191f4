import fc from 'fast-check';
import type { JsonObject } from '../../shared/journal/canonical';
import { eligibilityProblem, proposerProblem, type Roster } from '../../shared/journal/dual-control';
import { checkAssignment, checkCheckout, type CustodyRef, type PolicyDecision, type PolicyState } from '../../shared/policy/four-eyes';

/**
 * A model of dual control as docs/custody.md and docs/journal-format.md §6.5 state it, for the
 * model-based test (test/unit/dual-control.property.test.ts). It decides with the same pure rules
 * the app uses — `proposerProblem` / `eligibilityProblem` (shared/journal/dual-control.ts) and
 * `checkAssignment` / `checkCheckout` (shared/policy/four-eyes.ts) — and writes down, in plain
 * test code, the service checks around them (presence, who holds a sealed copy, pending rotations,
 * seed-export requests, expiry). Each step either applies a command or names why it is refused.
 *
 * People: each person knows the passphrase of exactly one custodian (`person i` ↔ PEOPLE[i]). The
 * last ones are not enrolled yet: they become custodians only through an approved enrolment, typing
 * their own passphrase. A person acts either as themselves (`fresh`: they type their passphrase
 * first) or, with `ride`, as whoever is unlocked on the workstation — after that custodian walked
 * away (the clock moves past the presence window first). Within the 60 s presence window the app
 * cannot tell who sits at the keyboard; that window is the documented residual risk, so the model
 * does not let a rider in during it.
 *
 * Adding an operation later (organisations, policy proposals, passphrase change, recovery): add a
 * member to `Command`, its arbitrary to `commandArbitrary`, a case to `step` (its checks in the
 * order the service makes them, the state it changes, and for a proposal a `ChangeRule` in
 * `APPLY`), and, once there is one, the channel call in the real-router driver. The invariants in
 * `violations` hold for every command without change.
 */

export type Half = 'password' | 'mfa';
export const HALVES: readonly Half[] = ['password', 'mfa'];

export interface Person {
  readonly name: string;
  readonly role: 'admin' | 'password-custodian' | 'mfa-custodian' | 'reviewer';
  readonly organisation: string;
  /** Enrolled in the starting vault, or a newcomer who can only be enrolled by an approved proposal. */
  readonly enrolled: boolean;
}

/** The people of every run, in the order the starting vault enrols them (the first two are the founding pair). */
export const PEOPLE: readonly Person[] = [
  { name: 'Ada', role: 'admin', organisation: 'Provider', enrolled: true },
  { name: 'Pat', role: 'password-custodian', organisation: 'Customer', enrolled: true },
  { name: 'Mia', role: 'mfa-custodian', organisation: 'Provider', enrolled: true },
  { name: 'Abe', role: 'admin', organisation: 'Provider', enrolled: true },
  { name: 'Pam', role: 'password-custodian', organisation: 'Customer', enrolled: true },
  { name: 'Max', role: 'mfa-custodian', organisation: 'Provider', enrolled: true },
  { name: 'Rita', role: 'reviewer', organisation: 'Audit', enrolled: true },
  { name: 'Nia', role: 'mfa-custodian', organisation: 'Provider', enrolled: false },
  { name: 'Ned', role: 'password-custodian', organisation: 'Customer', enrolled: false },
];
/** In the starting vault Pat (person 1) holds the password half and Mia (person 2) the MFA half, both set and sealed. */
export const START_HOLDERS: Readonly<Record<Half, number>> = { password: 1, mfa: 2 };

export const PRESENCE_MS = 60_000;
export const PROPOSAL_TTL_MS = 24 * 60 * 60_000;
export const SEED_EXPORT_TTL_MS = 15 * 60_000;
export const LEASE_MS = 3600_000;
/** The waits a command may make: past the presence window, past a seed-export request, past a proposal and a lease. */
export const WAITS = [61_000, 16 * 60_000, 25 * 60 * 60_000] as const;

/**
 * One thing a person does. Numbers (`p`, `target`, `pick`) are resolved against the state when the
 * command runs; with `aim` (most commands) they pick among the people and things the command makes
 * sense for (an admin proposing, a holder checking out, an eligible approver), so sequences reach
 * applied changes often, while the rest stay random and try everything else.
 */
export type Command = { readonly aim?: boolean } & (
  | { readonly k: 'unlock'; readonly p: number; readonly other: number | null }
  | { readonly k: 'lock' }
  | { readonly k: 'wait'; readonly ms: number }
  | { readonly k: 'enrol'; readonly p: number; readonly ride: boolean; readonly fresh: boolean; readonly newcomer: number }
  | { readonly k: 'revoke'; readonly p: number; readonly ride: boolean; readonly fresh: boolean; readonly target: number }
  | {
      readonly k: 'assign' | 'unassign' | 'reseal';
      readonly p: number;
      readonly ride: boolean;
      readonly fresh: boolean;
      readonly item: Half;
      readonly target: number;
    }
  | { readonly k: 'approve'; readonly p: number; readonly pick: number }
  | { readonly k: 'withdraw'; readonly p: number; readonly fresh: boolean; readonly pick: number }
  | { readonly k: 'checkout'; readonly p: number; readonly ride: boolean; readonly fresh: boolean; readonly item: Half }
  | { readonly k: 'use' | 'checkin'; readonly p: number; readonly ride: boolean; readonly fresh: boolean; readonly pick: number }
  | {
      readonly k: 'rotate' | 'confirm' | 'abandon';
      readonly p: number;
      readonly ride: boolean;
      readonly fresh: boolean;
      readonly item: Half;
    }
  | { readonly k: 'seed-request'; readonly p: number; readonly ride: boolean; readonly fresh: boolean }
  | { readonly k: 'seed-collect'; readonly p: number; readonly ride: boolean; readonly fresh: boolean; readonly pick: number }
);

const person = fc.nat({ max: PEOPLE.length - 1 });
const item = fc.constantFrom<Half>('password', 'mfa');
const pick = fc.nat({ max: 7 });
/** Mostly acting as oneself, having just typed one's passphrase; sometimes riding someone else's unlocked session. */
const how = fc.record({
  ride: fc.nat({ max: 9 }).map((n) => n === 0),
  fresh: fc.nat({ max: 9 }).map((n) => n < 8),
});

const withHow = <T extends object>(a: fc.Arbitrary<T>): fc.Arbitrary<T & { ride: boolean; fresh: boolean }> =>
  a.chain((c) => how.map((h) => ({ ...c, ...h })));
const anyCommand = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('unlock' as const), p: person, other: fc.option(person, { freq: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('lock' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('wait' as const), ms: fc.constantFrom(...WAITS) }) },
  { weight: 2, arbitrary: withHow(fc.record({ k: fc.constant('enrol' as const), p: person, newcomer: person })) },
  { weight: 1, arbitrary: withHow(fc.record({ k: fc.constant('revoke' as const), p: person, target: person })) },
  { weight: 3, arbitrary: withHow(fc.record({ k: fc.constant('assign' as const), p: person, item, target: person })) },
  { weight: 2, arbitrary: withHow(fc.record({ k: fc.constant('unassign' as const), p: person, item, target: person })) },
  { weight: 2, arbitrary: withHow(fc.record({ k: fc.constant('reseal' as const), p: person, item, target: person })) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('approve' as const), p: person, pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('withdraw' as const), p: person, fresh: fc.boolean(), pick }) },
  { weight: 4, arbitrary: withHow(fc.record({ k: fc.constant('checkout' as const), p: person, item })) },
  { weight: 5, arbitrary: withHow(fc.record({ k: fc.constant('use' as const), p: person, pick })) },
  { weight: 2, arbitrary: withHow(fc.record({ k: fc.constant('checkin' as const), p: person, pick })) },
  { weight: 2, arbitrary: withHow(fc.record({ k: fc.constant('rotate' as const), p: person, item })) },
  { weight: 4, arbitrary: withHow(fc.record({ k: fc.constant('confirm' as const), p: person, item })) },
  { weight: 1, arbitrary: withHow(fc.record({ k: fc.constant('abandon' as const), p: person, item })) },
  { weight: 2, arbitrary: withHow(fc.record({ k: fc.constant('seed-request' as const), p: person })) },
  { weight: 3, arbitrary: withHow(fc.record({ k: fc.constant('seed-collect' as const), p: person, pick })) },
);

export const commandArbitrary: fc.Arbitrary<Command> = anyCommand.chain((c) =>
  fc.nat({ max: 3 }).map((n) => ({ ...c, aim: n > 0 }) as Command),
);

/**
 * What two honest people do together, as a run of aimed commands (an admin proposes, an eligible
 * custodian approves; a holder checks out and uses; a rotation is made, confirmed and approved):
 * mixed into the random sequences so that they reach applied changes of every kind often.
 */
const flow: fc.Arbitrary<Command[]> = fc
  .record({ kind: fc.nat({ max: 8 }), p: person, q: person, item, n: fc.nat({ max: 7 }) })
  .map(({ kind, p, q, item: it, n }): Command[] => {
    const by = { aim: true, ride: false, fresh: true } as const;
    const approve: Command = { k: 'approve', aim: true, p: q, pick: 2 * n };
    switch (kind) {
      case 0:
        return [{ k: 'enrol', ...by, p, newcomer: n }, approve];
      case 1:
        return [{ k: 'revoke', ...by, p, target: n }, approve];
      case 2:
        return [{ k: 'assign', ...by, p, item: it, target: n }, approve];
      case 3:
        return [{ k: 'unassign', ...by, p, item: it, target: n }, approve];
      case 4:
        return [{ k: 'reseal', ...by, p, item: it, target: n }, approve];
      case 5:
        return [{ k: 'rotate', ...by, p, item: it }, { k: 'confirm', ...by, p, item: it }, approve];
      case 6:
        return [{ k: 'seed-request', ...by, p }, approve, { k: 'seed-collect', ...by, p, pick: n }];
      case 7:
        return [
          { k: 'checkout', ...by, p, item: it },
          { k: 'use', ...by, p, pick: n },
          { k: 'checkin', ...by, p, pick: n },
        ];
      default:
        return [
          { k: 'assign', ...by, p, item: it, target: n },
          { ...approve, pick: 2 * n + 1 },
          { k: 'reseal', ...by, p, item: it, target: n },
          approve,
        ];
    }
  });

/** A run: random commands and honest two-person flows, mixed. */
export const sequenceArbitrary = (maxLength: number): fc.Arbitrary<Command[]> =>
  fc
    .array(fc.oneof({ weight: 3, arbitrary: commandArbitrary.map((c) => [c]) }, { weight: 1, arbitrary: flow }), {
      minLength: 1,
      maxLength,
    })
    .map((parts) => parts.flat());

export interface Custodian {
  readonly id: string;
  readonly person: number;
  revoked: boolean;
  failures: number;
  backoffUntil: number;
}

export interface HalfState {
  generation: number;
  sealed: Set<string>;
  pending: { generation: number; rotatedBy: string; sealed: Set<string> } | null;
}

export interface Proposal {
  readonly id: string;
  readonly type: string;
  readonly change: JsonObject;
  readonly proposer: string;
  /** The person who made the proposing call. */
  readonly madeBy: number;
  readonly proposedAt: number;
  readonly expiresAt: number;
  /** The newcomer of an enrolment. */
  readonly newcomer: number | null;
  state: 'open' | 'applied' | 'withdrawn' | 'expired';
  /** The person who approved it (applied only). */
  approvedBy: number | null;
  approver: string | null;
  appliedAt: number | null;
  /** The proposer's signature over the proposal (level a: the model's journal). */
  sig: string;
}

export interface Checkout {
  readonly id: string;
  readonly custodian: string;
  readonly item: Half;
  readonly leaseUntil: number;
  open: boolean;
}

export interface SeedRequest {
  readonly id: string;
  readonly requester: string;
  readonly generation: number;
  readonly expiresAt: number;
  readonly proposal: string;
  approvedBy: string | null;
  collected: boolean;
}

export interface ModelState {
  now: number;
  readonly custodians: Custodian[];
  actor: string | null;
  presentUntil: number;
  readonly halves: Record<Half, HalfState>;
  readonly assignments: Record<Half, Set<string>>;
  /** Who has obtained each half since it was last rotated (rule 2), as the custody service records it. */
  readonly seen: Record<Half, Set<string>>;
  readonly proposals: Proposal[];
  readonly checkouts: Checkout[];
  readonly seedRequests: SeedRequest[];
  /** What each person has really been given: `${item}:${generation}` (the safety invariant's ground truth). */
  readonly obtained: Set<string>[];
}

/** Ids the model gives new things: level (a) makes them up, level (b) takes them from the real responses. */
export interface Ids {
  custodian(): string;
  proposal(): string;
  checkout(): string;
  seedRequest(): string;
  /** A custodian's public signing key (revocations name it; the verifier's roster reads it). */
  signingKey(custodianId: string): string;
}

export function initialState(custodianIds: readonly string[], now: number): ModelState {
  const custodians = PEOPLE.flatMap((p, i) =>
    p.enrolled ? [{ id: custodianIds[i]!, person: i, revoked: false, failures: 0, backoffUntil: 0 }] : [],
  );
  const id = (i: number): string => custodianIds[i]!;
  return {
    now,
    custodians,
    actor: null,
    presentUntil: 0,
    halves: {
      password: { generation: 1, sealed: new Set([id(START_HOLDERS.password)]), pending: null },
      mfa: { generation: 1, sealed: new Set([id(START_HOLDERS.mfa)]), pending: null },
    },
    assignments: { password: new Set([id(START_HOLDERS.password)]), mfa: new Set([id(START_HOLDERS.mfa)]) },
    seen: { password: new Set([id(START_HOLDERS.password)]), mfa: new Set([id(START_HOLDERS.mfa)]) },
    proposals: [],
    checkouts: [],
    seedRequests: [],
    obtained: PEOPLE.map((_, i) =>
      i === START_HOLDERS.password ? new Set(['password:1']) : i === START_HOLDERS.mfa ? new Set(['mfa:1']) : new Set<string>(),
    ),
  };
}

/** The one account of every run (the model needs one; the rules never relate two accounts). */
export const ACCOUNT = '123456789012';

/** Why a call is refused: the error code the app answers, and (for a reader) why. */
export interface Refused {
  readonly code: string;
  readonly why: string;
}

/** What one command does: the calls a person makes, in order, each with the model's verdict. */
export interface Call {
  /** The channel, the custodian it names as `by` (or unlocks), and what it is about. */
  readonly channel: string;
  readonly by: string;
  readonly person: number;
  readonly payload: JsonObject;
  /** The model's verdict: null when it succeeds. */
  readonly refused: Refused | null;
}

const refuse = (code: string, why: string): Refused => ({ code, why });

export function custodianOf(s: ModelState, personIndex: number): Custodian | undefined {
  return s.custodians.find((c) => c.person === personIndex);
}
export function byId(s: ModelState, id: string): Custodian | undefined {
  return s.custodians.find((c) => c.id === id);
}
const roleOf = (s: ModelState, id: string): Person['role'] => PEOPLE[byId(s, id)!.person]!.role;

export function roster(s: ModelState, ids: Ids): Roster {
  return {
    roleOf: (id) => {
      const c = byId(s, id);
      return c === undefined ? undefined : PEOPLE[c.person]!.role;
    },
    liveKeysOf: (id) => {
      const c = byId(s, id);
      return c === undefined || c.revoked ? [] : [ids.signingKey(c.id)];
    },
    ownerOf: (key) => s.custodians.find((c) => ids.signingKey(c.id) === key)?.id,
    enrolledCount: s.custodians.length,
  };
}

function policyState(s: ModelState): PolicyState {
  const refs = (rows: Record<Half, Set<string>>): CustodyRef[] =>
    HALVES.flatMap((item) => [...rows[item]].map((custodianId) => ({ accountId: ACCOUNT, item, custodianId })));
  return {
    separateOrganisations: false,
    custodians: s.custodians.map((c) => ({
      id: c.id,
      organisation: PEOPLE[c.person]!.organisation,
      role: PEOPLE[c.person]!.role,
      revoked: c.revoked,
    })),
    assignments: refs(s.assignments),
    seen: refs(s.seen),
  };
}

const denied = (d: PolicyDecision): Refused | null => (d.allowed ? null : refuse('POLICY_REFUSED', d.message));

/** Time passes: open proposals, seed-export requests and leases run out as the app's sweeps find them. */
export function advance(s: ModelState, ms: number): void {
  s.now += ms;
  for (const p of s.proposals) if (p.state === 'open' && p.expiresAt < s.now) p.state = 'expired';
  for (const c of s.checkouts) if (c.open && c.leaseUntil <= s.now) c.open = false;
}

function acting(s: ModelState, by: string): Refused | null {
  if (s.actor !== by) return refuse('CUSTODIAN_LOCKED', `${by} is not the unlocked actor`);
  if (byId(s, by)!.revoked) return refuse('NOT_PERMITTED', `${by} is revoked`);
  return null;
}
function present(s: ModelState, by: string): Refused | null {
  if (s.actor !== by) return refuse('CUSTODIAN_LOCKED', `${by} is not the unlocked actor`);
  if (s.now > s.presentUntil) return refuse('PRESENCE_REQUIRED', `${by} typed their passphrase more than 60 s ago`);
  return acting(s, by);
}

function backoffAfter(failures: number): number {
  return Math.min(15 * 60_000, 1000 * 2 ** Math.min(failures - 1, 30));
}

/** `custodian:unlock` (or the unlock inside `proposal:approve`) of custodian `id` by person `who`, who types their own passphrase. */
function unlock(s: ModelState, id: string, who: number): Refused | null {
  const c = byId(s, id)!;
  if (c.revoked) return refuse('NOT_PERMITTED', 'revoked custodians cannot unlock');
  if (c.backoffUntil > s.now) return refuse('BACKOFF', 'too many wrong passphrases');
  if (c.person !== who) {
    c.failures += 1;
    c.backoffUntil = s.now + backoffAfter(c.failures);
    return refuse('BAD_PASSPHRASE', `${PEOPLE[who]!.name} does not know this custodian's passphrase`);
  }
  c.failures = 0;
  c.backoffUntil = 0;
  s.actor = id;
  s.presentUntil = s.now + PRESENCE_MS;
  return null;
}

/** The proposal service's own checks when `by` proposes, after the feature's: presence, then the proposer's eligibility. */
function proposeChecks(s: ModelState, ids: Ids, by: string, type: string, change: JsonObject): Refused | null {
  const absent = present(s, by);
  if (absent) return absent;
  const problem = proposerProblem(type, change, by, roster(s, ids));
  return problem === null ? null : refuse('NOT_PERMITTED', problem);
}

function newProposal(
  s: ModelState,
  ids: Ids,
  by: string,
  who: number,
  type: string,
  change: JsonObject,
  ttl = PROPOSAL_TTL_MS,
  newcomer: number | null = null,
): Proposal {
  const p: Proposal = {
    id: ids.proposal(),
    type,
    change,
    proposer: by,
    madeBy: who,
    proposedAt: s.now,
    expiresAt: s.now + ttl,
    newcomer,
    state: 'open',
    approvedBy: null,
    approver: null,
    appliedAt: null,
    sig: '',
  };
  s.proposals.push(p);
  return p;
}

const holdsSealed = (s: ModelState, item: Half, id: string): boolean => s.halves[item].sealed.has(id);

function assignChecks(s: ModelState, item: Half, target: string): Refused | null {
  const c = byId(s, target);
  if (c === undefined) return refuse('NOT_FOUND', 'no such custodian');
  if (c.revoked) return refuse('CONFLICT', 'revoked custodians hold nothing');
  if (s.assignments[item].has(target)) return refuse('CONFLICT', 'already assigned');
  return null;
}
function unassignChecks(s: ModelState, item: Half, target: string): Refused | null {
  if (!s.assignments[item].has(target)) return refuse('NOT_FOUND', 'not assigned');
  if (s.checkouts.some((c) => c.open && c.item === item && c.custodian === target)) return refuse('CONFLICT', 'checkout open');
  const holders = [...s.halves[item].sealed];
  if (holders.length === 1 && holders[0] === target) return refuse('CONFLICT', 'the last holder');
  return null;
}
function resealChecks(s: ModelState, item: Half, target: string, generation: number): Refused | null {
  const c = byId(s, target);
  if (c === undefined) return refuse('NOT_FOUND', 'no such custodian');
  if (c.revoked) return refuse('CONFLICT', 'revoked custodians hold nothing');
  if (s.halves[item].generation !== generation) return refuse('CONFLICT', 'rotated since');
  if (!s.assignments[item].has(target)) return refuse('CONFLICT', 'not assigned');
  if (holdsSealed(s, item, target)) return refuse('CONFLICT', 'already sealed to them');
  if (s.halves[item].sealed.size === 0) return refuse('CONFLICT', 'no one holds it');
  return null;
}
function revokeChecks(s: ModelState, target: string): Refused | null {
  const c = byId(s, target)!;
  if (c.revoked) return refuse('CONFLICT', 'already revoked');
  const admins = s.custodians.filter((x) => !x.revoked && PEOPLE[x.person]!.role === 'admin');
  if (PEOPLE[c.person]!.role === 'admin' && admins.length <= 1) return refuse('NOT_PERMITTED', 'the last admin');
  return null;
}
function seedRequestOpen(s: ModelState, r: SeedRequest): Refused | null {
  if (r.expiresAt <= s.now) return refuse('CONFLICT', 'request expired');
  if (r.collected) return refuse('CONFLICT', 'already collected');
  if (s.halves.mfa.generation !== r.generation) return refuse('CONFLICT', 'rotated since the request');
  return null;
}

/** How one two-person change is checked before anyone types a passphrase, and applied after the approver unlocked. */
interface ChangeRule {
  check(s: ModelState, p: Proposal): Refused | null;
  apply(s: ModelState, p: Proposal, approver: string, ids: Ids): Refused | null;
}

const itemOf = (p: Proposal): Half => p.change.item as Half;
const custodianIn = (p: Proposal): string => p.change.custodian as string;

export const APPLY: Readonly<Record<string, ChangeRule>> = {
  'custodian.enrolled': {
    check: (s, p) => (byId(s, custodianIn(p)) ? refuse('CONFLICT', 'already enrolled') : null),
    apply: (s, p) => {
      s.custodians.push({ id: custodianIn(p), person: p.newcomer!, revoked: false, failures: 0, backoffUntil: 0 });
      return null;
    },
  },
  'custodian.revoked': {
    check: (s, p) => revokeChecks(s, custodianIn(p)),
    apply: (s, p) => {
      byId(s, custodianIn(p))!.revoked = true;
      if (s.actor === custodianIn(p)) s.actor = null;
      return null;
    },
  },
  'custody.assigned': {
    check: (s, p) => assignChecks(s, itemOf(p), custodianIn(p)),
    apply: (s, p, approver) => {
      const item = itemOf(p);
      const target = custodianIn(p);
      const again =
        assignChecks(s, item, target) ?? denied(checkAssignment(policyState(s), { accountId: ACCOUNT, item, custodianId: target }));
      if (again) return again;
      s.assignments[item].add(target);
      // A present approver who holds the half seals it to the newcomer in the same step.
      if (holdsSealed(s, item, approver)) s.halves[item].sealed.add(target);
      return null;
    },
  },
  'custody.unassigned': {
    check: (s, p) => unassignChecks(s, itemOf(p), custodianIn(p)),
    apply: (s, p) => {
      const item = itemOf(p);
      const target = custodianIn(p);
      const again = unassignChecks(s, item, target);
      if (again) return again;
      s.halves[item].sealed.delete(target);
      s.halves[item].pending?.sealed.delete(target);
      s.assignments[item].delete(target);
      return null;
    },
  },
  'half.resealed': {
    check: (s, p) => resealChecks(s, itemOf(p), custodianIn(p), p.change.generation as number),
    apply: (s, p, approver) => {
      const item = itemOf(p);
      const again = resealChecks(s, item, custodianIn(p), p.change.generation as number);
      if (again) return again;
      if (!holdsSealed(s, item, approver)) return refuse('NOT_PERMITTED', 'the approver of a re-seal must hold the half');
      s.halves[item].sealed.add(custodianIn(p));
      return null;
    },
  },
  'rotation.confirmed': {
    check: (s, p) => (s.halves[itemOf(p)].pending?.generation === p.change.generation ? null : refuse('CONFLICT', 'no longer pending')),
    apply: (s, p) => {
      const half = s.halves[itemOf(p)];
      const pending = half.pending;
      if (pending?.generation !== p.change.generation) return refuse('CONFLICT', 'no longer pending');
      half.generation = pending.generation;
      half.sealed = pending.sealed;
      half.pending = null;
      s.seen[itemOf(p)].clear();
      s.seen[itemOf(p)].add(pending.rotatedBy);
      return null;
    },
  },
  'seed-export.approved': {
    check: (s, p) =>
      seedRequestOpen(
        s,
        s.seedRequests.find((x) => x.id === p.change.request)!,
      ),
    apply: (s, p, approver) => {
      const r = s.seedRequests.find((x) => x.id === p.change.request)!;
      const closed = seedRequestOpen(s, r);
      if (closed) return closed;
      if (r.approvedBy !== null) return refuse('CONFLICT', 'already approved');
      if (roleOf(s, approver) !== 'admin' && !s.assignments.mfa.has(approver))
        return refuse('NOT_PERMITTED', 'only an admin or a custodian of the MFA half approves a seed export');
      r.approvedBy = approver;
      return null;
    },
  },
};

/**
 * Plays one command on the model, returning the calls it makes and the verdict of each (the
 * state changes as the app's would). `newcomerReady` tells whether an enrolment's newcomer can type
 * a passphrase (they are not enrolled yet).
 */
export function step(s: ModelState, cmd: Command, ids: Ids): Call[] {
  const calls: Call[] = [];
  const call = (channel: string, by: string, who: number, payload: JsonObject, refused: Refused | null): Refused | null => {
    calls.push({ channel, by, person: who, payload, refused });
    return refused;
  };
  if (cmd.k === 'lock') {
    call('vault:lock', '', -1, {}, null);
    s.actor = null;
    return calls;
  }
  if (cmd.k === 'wait') {
    advance(s, cmd.ms);
    call('wait', '', -1, { ms: cmd.ms }, null);
    return calls;
  }
  // With `aim`, numbers pick among what the command makes sense for; without, among everyone.
  const aimed = <T>(options: readonly T[], n: number, otherwise: T): T =>
    cmd.aim === true && options.length > 0 ? options[n % options.length]! : otherwise;
  const aimedAt = (options: readonly number[], n: number): number => aimed(options, n, n);
  const live = s.custodians.filter((c) => !c.revoked);
  const peopleWhere = (f: (c: Custodian) => boolean): number[] => live.filter(f).map((c) => c.person);
  const admins = peopleWhere((c) => PEOPLE[c.person]!.role === 'admin');
  const holdersOf = (item: Half): number[] => peopleWhere((c) => s.assignments[item].has(c.id));
  const nth = <T>(all: readonly T[], n: number): T | undefined => all[n % Math.max(1, all.length)];

  if (cmd.k === 'unlock') {
    const own = custodianOf(s, cmd.p);
    const target = cmd.other === null ? own : custodianOf(s, cmd.other);
    if (target === undefined) return calls;
    call('custodian:unlock', target.id, cmd.p, { custodianId: target.id }, unlock(s, target.id, cmd.p));
    return calls;
  }
  if (cmd.k === 'approve') {
    const open = s.proposals.filter((p) => p.state === 'open');
    const p = aimed(
      open,
      cmd.pick,
      nth(
        s.proposals.filter((x) => x.state === 'open' || x.state === 'expired'),
        cmd.pick,
      ),
    );
    if (p === undefined) return calls;
    const eligible = peopleWhere((c) => eligibilityProblem(p.type, p.change, p.proposer, c.id, roster(s, ids)) === null);
    // Half the aimed approvals come from someone holding the half the change is about (who can seal it on).
    const about = p.change.item === 'password' || p.change.item === 'mfa' ? (p.change.item as Half) : null;
    const holding = about === null ? [] : eligible.filter((i) => holdsSealed(s, about, custodianOf(s, i)!.id));
    const who = aimed(cmd.pick % 2 === 0 && holding.length > 0 ? holding : eligible, cmd.p, cmd.p);
    const own = custodianOf(s, who);
    if (own === undefined) return calls;
    // An enrolment's newcomer types their own passphrase; one already enrolled would not enrol twice.
    if (p.type === 'custodian.enrolled' && custodianOf(s, p.newcomer!) !== undefined) return calls;
    const verdict = ((): Refused | null => {
      if (p.state !== 'open') return refuse('CONFLICT', `proposal ${p.state}`);
      const problem = eligibilityProblem(p.type, p.change, p.proposer, own.id, roster(s, ids));
      if (problem !== null) return refuse('NOT_PERMITTED', problem);
      const domain = APPLY[p.type]!.check(s, p);
      if (domain) return domain;
      const locked = unlock(s, own.id, who);
      if (locked) return locked;
      const failed = APPLY[p.type]!.apply(s, p, own.id, ids);
      if (failed) return failed;
      p.state = 'applied';
      p.approvedBy = who;
      p.approver = own.id;
      p.appliedAt = s.now;
      return null;
    })();
    call('proposal:approve', own.id, who, { proposalId: p.id, type: p.type, newcomer: p.newcomer }, verdict);
    return calls;
  }

  // What the command is about, and who does it (aimed: the person it makes sense for).
  let who = cmd.p;
  let proposal: Proposal | undefined;
  let checkout: Checkout | undefined;
  let request: SeedRequest | undefined;
  let target: number | undefined;
  let item: Half = 'item' in cmd ? cmd.item : 'password';
  switch (cmd.k) {
    case 'enrol':
      who = aimedAt(admins, cmd.p);
      target = aimedAt(
        PEOPLE.map((_, i) => i).filter((i) => custodianOf(s, i) === undefined),
        cmd.newcomer,
      );
      break;
    case 'revoke':
      who = aimedAt(admins, cmd.p);
      target = aimedAt(
        peopleWhere(() => true),
        cmd.target,
      );
      break;
    case 'assign':
      who = aimedAt(admins, cmd.p);
      target = aimedAt(
        peopleWhere((c) => PEOPLE[c.person]!.role === roleForHalf(cmd.item) && !s.assignments[cmd.item].has(c.id)),
        cmd.target,
      );
      break;
    case 'unassign': {
      who = aimedAt(admins, cmd.p);
      const item = cmd.item;
      target = aimedAt(
        peopleWhere((c) => s.assignments[item].has(c.id) && unassignChecks(s, item, c.id) === null),
        cmd.target,
      );
      break;
    }
    case 'reseal':
      who = aimedAt(admins, cmd.p);
      target = aimedAt(
        peopleWhere((c) => s.assignments[cmd.item].has(c.id) && !s.halves[cmd.item].sealed.has(c.id)),
        cmd.target,
      );
      break;
    case 'withdraw':
      proposal = aimed(
        s.proposals.filter((p) => p.state === 'open'),
        cmd.pick,
        nth(
          s.proposals.filter((p) => p.state !== 'applied'),
          cmd.pick,
        ),
      );
      who = aimed(proposal ? [byId(s, proposal.proposer)!.person] : [], 0, cmd.p);
      break;
    case 'checkout':
    case 'rotate':
      who = aimed(holdersOf(cmd.item), cmd.p, cmd.p);
      break;
    case 'confirm':
    case 'abandon':
      item = aimed(
        HALVES.filter((h) => s.halves[h].pending !== null),
        0,
        cmd.item,
      );
      who = aimed(cmd.k === 'confirm' ? holdersOf(item) : [...holdersOf(item), ...admins], cmd.p, cmd.p);
      break;
    case 'seed-request':
      who = aimed(holdersOf('mfa'), cmd.p, cmd.p);
      break;
    case 'use':
    case 'checkin':
      checkout = aimed(
        s.checkouts.filter((c) => c.open),
        cmd.pick,
        nth(s.checkouts, cmd.pick),
      );
      who = aimed(checkout ? [byId(s, checkout.custodian)!.person] : [], 0, cmd.p);
      break;
    case 'seed-collect':
      request = aimed(
        s.seedRequests.filter((r) => r.approvedBy !== null && !r.collected),
        cmd.pick,
        nth(s.seedRequests, cmd.pick),
      );
      who = aimed(request ? [byId(s, request.requester)!.person] : [], 0, cmd.p);
      break;
  }

  // Every other command names `by`: the person's own custodian, or (riding) whoever is unlocked.
  const own = custodianOf(s, who);
  const ride = 'ride' in cmd && cmd.ride && s.actor !== null && s.actor !== own?.id;
  let by: string;
  if (ride) {
    // The owner of the session walked away: the presence window passes before the rider sits down.
    advance(s, WAITS[0]);
    call('wait', '', -1, { ms: WAITS[0] }, null);
    by = s.actor!;
  } else {
    if (own === undefined) return calls;
    by = own.id;
    if (cmd.fresh && call('custodian:unlock', by, who, { custodianId: by }, unlock(s, by, who))) return calls;
  }
  switch (cmd.k) {
    case 'enrol': {
      const newcomer = PEOPLE[target!]!;
      if (newcomer.enrolled || custodianOf(s, target!) !== undefined) return calls;
      const change = { custodian: ids.custodian(), name: newcomer.name, organisation: newcomer.organisation, role: newcomer.role };
      const refused = proposeChecks(s, ids, by, 'custodian.enrolled', change);
      if (call('custodian:enrol', by, who, change, refused) === null)
        newProposal(s, ids, by, who, 'custodian.enrolled', change, PROPOSAL_TTL_MS, target!);
      return calls;
    }
    case 'revoke': {
      const subject = custodianOf(s, target!);
      if (subject === undefined) return calls;
      const change = { custodian: subject.id, signingKey: ids.signingKey(subject.id), reason: 'model' };
      const refused = proposeChecks(s, ids, by, 'custodian.revoked', change) ?? revokeChecks(s, subject.id);
      if (call('custodian:revoke', by, who, { custodianId: subject.id }, refused) === null)
        newProposal(s, ids, by, who, 'custodian.revoked', change);
      return calls;
    }
    case 'assign':
    case 'unassign':
    case 'reseal': {
      const subject = custodianOf(s, target!);
      if (subject === undefined) return calls;
      const type = { assign: 'custody.assigned', unassign: 'custody.unassigned', reseal: 'half.resealed' }[cmd.k];
      const change: JsonObject = {
        item: cmd.item,
        custodian: subject.id,
        ...(cmd.k === 'reseal' ? { generation: s.halves[cmd.item].generation } : {}),
        account: ACCOUNT,
      };
      const refused =
        present(s, by) ??
        (roleOf(s, by) === 'admin' ? null : refuse('NOT_PERMITTED', 'only admins propose who holds what')) ??
        (cmd.k === 'assign'
          ? (assignChecks(s, cmd.item, subject.id) ??
            denied(checkAssignment(policyState(s), { accountId: ACCOUNT, item: cmd.item, custodianId: subject.id })))
          : cmd.k === 'unassign'
            ? unassignChecks(s, cmd.item, subject.id)
            : resealChecks(s, cmd.item, subject.id, change.generation as number)) ??
        proposeChecks(s, ids, by, type, change);
      if (call(`custody:${cmd.k}`, by, who, { item: cmd.item, custodianId: subject.id }, refused) === null)
        newProposal(s, ids, by, who, type, change);
      return calls;
    }
    case 'withdraw': {
      const p = proposal;
      if (p === undefined) return calls;
      const refused =
        acting(s, by) ??
        (p.state !== 'open' ? refuse('CONFLICT', `proposal ${p.state}`) : null) ??
        (p.proposer !== by ? refuse('NOT_PERMITTED', 'only the proposer withdraws') : null);
      if (call('proposal:withdraw', by, who, { proposalId: p.id }, refused) === null) p.state = 'withdrawn';
      return calls;
    }
    case 'checkout': {
      const refused =
        acting(s, by) ??
        denied(checkCheckout(policyState(s), { accountId: ACCOUNT, item: cmd.item, custodianId: by })) ??
        (holdsSealed(s, cmd.item, by) ? null : refuse('CONFLICT', 'not sealed to them yet'));
      if (call('custody:checkout', by, who, { item: cmd.item }, refused) === null)
        s.checkouts.push({ id: ids.checkout(), custodian: by, item: cmd.item, leaseUntil: s.now + LEASE_MS, open: true });
      return calls;
    }
    case 'use':
    case 'checkin': {
      const c = checkout;
      if (c === undefined) return calls;
      const channel = cmd.k === 'checkin' ? 'custody:checkin' : c.item === 'password' ? 'custody:reveal' : 'custody:totp-code';
      const holder = c.custodian === by ? null : refuse('NOT_PERMITTED', 'someone else’s checkout');
      const refused =
        cmd.k === 'checkin'
          ? (acting(s, by) ?? holder ?? (c.open ? null : refuse('CONFLICT', 'closed')))
          : (present(s, by) ??
            holder ??
            (c.open ? null : refuse('CONFLICT', 'closed')) ??
            denied(checkCheckout(policyState(s), { accountId: ACCOUNT, item: c.item, custodianId: by })) ??
            (holdsSealed(s, c.item, by) ? null : refuse('CONFLICT', 'no sealed copy of the current generation')));
      if (call(channel, by, who, { checkoutId: c.id, item: c.item }, refused) === null) {
        if (cmd.k === 'checkin') c.open = false;
        else {
          s.seen[c.item].add(by);
          s.obtained[who]!.add(`${c.item}:${s.halves[c.item].generation}`);
        }
      }
      return calls;
    }
    case 'rotate': {
      const half = s.halves[cmd.item];
      const assignees = [...s.assignments[cmd.item]].filter((id) => !byId(s, id)!.revoked);
      const refused =
        present(s, by) ??
        denied(checkCheckout(policyState(s), { accountId: ACCOUNT, item: cmd.item, custodianId: by })) ??
        (half.pending !== null ? refuse('CONFLICT', 'a rotation is pending') : null) ??
        (assignees.length === 0 ? refuse('CONFLICT', 'no one to seal it to') : null);
      if (call('custody:rotate', by, who, { item: cmd.item }, refused) === null) {
        half.pending = { generation: half.generation + 1, rotatedBy: by, sealed: new Set(assignees) };
        s.seen[cmd.item].add(by);
        s.obtained[who]!.add(`${cmd.item}:${half.generation + 1}`);
      }
      return calls;
    }
    case 'confirm': {
      const pending = s.halves[item].pending;
      const change = { item: item, generation: pending?.generation ?? 0, account: ACCOUNT };
      const refused =
        present(s, by) ??
        (pending === null ? refuse('NOT_FOUND', 'no rotation pending') : null) ??
        (s.assignments[item].has(by) ? null : refuse('NOT_PERMITTED', 'only a custodian of the half confirms')) ??
        proposeChecks(s, ids, by, 'rotation.confirmed', change);
      if (call('custody:rotation-confirm', by, who, { item: item }, refused) === null)
        newProposal(s, ids, by, who, 'rotation.confirmed', change);
      return calls;
    }
    case 'abandon': {
      const refused =
        acting(s, by) ??
        (s.halves[item].pending === null ? refuse('NOT_FOUND', 'no rotation pending') : null) ??
        (roleOf(s, by) === 'admin' || s.assignments[item].has(by)
          ? null
          : refuse('NOT_PERMITTED', 'only a custodian of the half or an admin abandons'));
      if (call('custody:rotation-abandon', by, who, { item: item }, refused) === null) s.halves[item].pending = null;
      return calls;
    }
    case 'seed-request': {
      const requestId = ids.seedRequest();
      const change = { request: requestId, generation: s.halves.mfa.generation, reason: 'model', account: ACCOUNT };
      const refused =
        present(s, by) ??
        denied(checkCheckout(policyState(s), { accountId: ACCOUNT, item: 'mfa', custodianId: by })) ??
        proposeChecks(s, ids, by, 'seed-export.approved', change);
      if (call('custody:seed-export-request', by, who, {}, refused) === null) {
        const p = newProposal(s, ids, by, who, 'seed-export.approved', change, SEED_EXPORT_TTL_MS);
        s.seedRequests.push({
          id: requestId,
          requester: by,
          generation: s.halves.mfa.generation,
          expiresAt: s.now + SEED_EXPORT_TTL_MS,
          proposal: p.id,
          approvedBy: null,
          collected: false,
        });
      }
      return calls;
    }
    case 'seed-collect': {
      const r = request;
      if (r === undefined) return calls;
      const refused =
        present(s, by) ??
        seedRequestOpen(s, r) ??
        (r.requester !== by ? refuse('NOT_PERMITTED', 'only the requester collects') : null) ??
        (r.approvedBy === null ? refuse('CONFLICT', 'not approved yet') : null) ??
        denied(checkCheckout(policyState(s), { accountId: ACCOUNT, item: 'mfa', custodianId: by })) ??
        (holdsSealed(s, 'mfa', by) ? null : refuse('CONFLICT', 'no sealed copy'));
      if (call('custody:seed-export-collect', by, who, { requestId: r.id }, refused) === null) {
        r.collected = true;
        s.seen.mfa.add(by);
        s.obtained[who]!.add(`mfa:${r.generation}`);
      }
      return calls;
    }
  }
}

const roleForHalf = (item: Half): Person['role'] => (item === 'password' ? 'password-custodian' : 'mfa-custodian');

/**
 * The properties no sequence may break, on the model's state (level a) or on the state read back
 * from the real vault (level b): nobody holds or has been given both halves of the live credential,
 * and every applied change was proposed by one person and approved by another, each typing only
 * their own passphrase.
 */
export function violations(s: ModelState): string[] {
  const out: string[] = [];
  const live = (item: Half): Set<number> => {
    const h = s.halves[item];
    return new Set([h.generation, ...(h.pending ? [h.pending.generation] : [])]);
  };
  for (const c of s.custodians) {
    const name = PEOPLE[c.person]!.name;
    if (s.assignments.password.has(c.id) && s.assignments.mfa.has(c.id)) out.push(`${name} is assigned both halves`);
    const sealed = (item: Half): boolean => s.halves[item].sealed.has(c.id) || (s.halves[item].pending?.sealed.has(c.id) ?? false);
    if (sealed('password') && sealed('mfa')) out.push(`both halves are sealed to ${name}`);
    const out2 = (item: Half): boolean => s.checkouts.some((x) => x.open && x.item === item && x.custodian === c.id);
    if (out2('password') && out2('mfa')) out.push(`${name} has both halves checked out`);
  }
  s.obtained.forEach((got, i) => {
    const has = (item: Half): boolean => [...live(item)].some((g) => got.has(`${item}:${g}`));
    if (has('password') && has('mfa')) out.push(`${PEOPLE[i]!.name} was given both halves of the live credential`);
  });
  for (const p of s.proposals) {
    if (p.state !== 'applied') continue;
    const proposer = byId(s, p.proposer)!.person;
    const approver = byId(s, p.approver!)!.person;
    if (p.madeBy !== proposer) out.push(`${p.type} ${p.id} was proposed by ${PEOPLE[p.madeBy]!.name} as someone else`);
    if (p.approvedBy !== approver) out.push(`${p.type} ${p.id} was approved by ${PEOPLE[p.approvedBy!]!.name} as someone else`);
    if (p.madeBy === p.approvedBy) out.push(`${PEOPLE[p.madeBy]!.name} alone applied ${p.type} ${p.id}`);
  }
  return out;
}
