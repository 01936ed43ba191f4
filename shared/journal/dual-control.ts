import type { Sodium } from '../sodium';
import { canonicalize, type JsonObject, type JsonValue } from './canonical';

/**
 * Dual control in the journal (docs/journal-format.md, "Dual control"): every change of who holds
 * what is applied by an entry that carries two custodians' signatures — the proposer's over the
 * proposal statement (in `data.approval.sig`) and the approver's over the entry itself (in
 * `sigs`). This module is the one definition of which entry types need that, who may sign them,
 * and the exact bytes a proposer signs; the TypeScript verifier, the app that writes the entries
 * and the Python reference verifier all follow it.
 */

/** Domain-separation prefix of a proposal signature (never used for any other message). */
export const PROPOSAL_SIGNATURE_DOMAIN = 'halfkey/proposal/v1\n';

/** The custodian roles a journal knows (`custodian.enrolled` and `custodian.role-changed` data.role). */
export const CUSTODIAN_ROLES = ['admin', 'password-custodian', 'mfa-custodian', 'reviewer'] as const;
export type CustodianRole = (typeof CUSTODIAN_ROLES)[number];

/** How many custodians may be enrolled alone (`data.founding: true`) when a vault is created. */
export const FOUNDING_CUSTODIANS = 2;

/** Who may take part in one kind of two-person change. */
export interface Eligibility {
  /** Roles the proposer may have. */
  readonly proposers: readonly CustodianRole[];
  /** Roles the approver may have. */
  readonly approvers: readonly CustodianRole[];
  /**
   * The data member naming the custodian the change is about (who gains or loses by it): that
   * person may neither propose nor approve it. `signingKey` means the owner of data.signingKey.
   */
  readonly subject: 'custodian' | 'signingKey' | null;
  /** The proposer's role must fit data.item (`password` → password-custodian, `mfa` → mfa-custodian). */
  readonly proposerFitsItem: boolean;
}

const ANY_CUSTODIAN: readonly CustodianRole[] = ['admin', 'password-custodian', 'mfa-custodian'];
const ADMIN: readonly CustodianRole[] = ['admin'];
const rosterChange = (subject: Eligibility['subject']): Eligibility => ({
  proposers: ADMIN,
  approvers: ANY_CUSTODIAN,
  subject,
  proposerFitsItem: false,
});

/**
 * Entry types that apply a two-person change, and who may sign them. Reviewers never take part:
 * they read the journal, they do not run the vault.
 */
export const TWO_PERSON_TYPES: Readonly<Record<string, Eligibility>> = Object.freeze({
  'custodian.enrolled': rosterChange('custodian'),
  'custodian.revoked': rosterChange('signingKey'),
  'custodian.role-changed': rosterChange('custodian'),
  'custodian.organisation-changed': rosterChange('custodian'),
  'organisation.added': rosterChange(null),
  'custody.assigned': rosterChange('custodian'),
  'custody.unassigned': rosterChange('custodian'),
  'half.resealed': rosterChange('custodian'),
  'policy.changed': rosterChange(null),
  'custody.channel-organisation-set': rosterChange(null),
  'rotation.confirmed': {
    proposers: ['password-custodian', 'mfa-custodian'],
    approvers: ANY_CUSTODIAN,
    subject: null,
    proposerFitsItem: true,
  },
  'seed-export.approved': { proposers: ['mfa-custodian'], approvers: ['admin', 'mfa-custodian'], subject: null, proposerFitsItem: false },
  // Using the recovery key: two custodians present at the workstation, the first signing the statement, the second the entry.
  'vault.recovered': { proposers: ANY_CUSTODIAN, approvers: ANY_CUSTODIAN, subject: null, proposerFitsItem: false },
});

/** `data.approval` of a two-person entry. */
export interface Approval {
  /** Proposal id: 32 lowercase hex. */
  readonly proposal: string;
  /** Custodian id of the proposer. */
  readonly proposer: string;
  /** Custodian id of the approver, who signs the entry itself. */
  readonly approver: string;
  readonly proposedAt: number;
  readonly expiresAt: number;
  /** The change as proposed: every member must equal the same member of the entry's data. */
  readonly change: JsonObject;
  /** The proposer's Ed25519 signature (128 hex) over proposalSignatureMessage(). */
  readonly sig: string;
}

/** What a proposer signs: everything of the proposal but the approver and the signature. */
export interface ProposalStatement {
  readonly vault: string;
  readonly type: string;
  readonly proposal: string;
  readonly proposer: string;
  readonly proposedAt: number;
  readonly expiresAt: number;
  readonly change: JsonObject;
}

/** The exact bytes of a proposal signature: the domain prefix, then the canonical JSON of the statement. */
export function proposalSignatureMessage(statement: ProposalStatement, sodium: Sodium): Uint8Array {
  const { vault, type, proposal, proposer, proposedAt, expiresAt, change } = statement;
  return sodium.from_string(PROPOSAL_SIGNATURE_DOMAIN + canonicalize({ change, expiresAt, proposal, proposedAt, proposer, type, vault }));
}

/** The role an item's holder must have. */
export function roleForItem(item: unknown): CustodianRole | null {
  return item === 'password' ? 'password-custodian' : item === 'mfa' ? 'mfa-custodian' : null;
}

export function isCustodianRole(role: unknown): role is CustodianRole {
  return typeof role === 'string' && (CUSTODIAN_ROLES as readonly string[]).includes(role);
}

/** What the verifier knows of the roster at an entry: roles and live signing keys, by custodian id. */
export interface Roster {
  /** The custodian's role, or undefined when the journal never enrolled them. */
  roleOf(custodian: string): string | undefined;
  /** Their signing keys not revoked before this entry. */
  liveKeysOf(custodian: string): readonly string[];
  /** The custodian a signing key belongs to. */
  ownerOf(signingKey: string): string | undefined;
  /** Custodians enrolled so far (founding ones included). */
  readonly enrolledCount: number;
}

const APPROVAL_MEMBERS = ['approver', 'change', 'expiresAt', 'proposal', 'proposedAt', 'proposer', 'sig'];

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalize(a) === canonicalize(b);
}

/** The subject of a change: the custodian it is about, who may neither propose nor approve it. */
function subjectOf(rule: Eligibility, data: JsonObject, roster: Roster): unknown {
  if (rule.subject === 'custodian') return data.custodian;
  if (rule.subject === 'signingKey' && typeof data.signingKey === 'string') return roster.ownerOf(data.signingKey);
  return undefined;
}

/** Whether `proposer` may propose this change (role, live key, not its subject). Null when so, else the reason. */
export function proposerProblem(type: string, data: JsonObject, proposer: string, roster: Roster): string | null {
  const rule = TWO_PERSON_TYPES[type];
  if (rule === undefined) return `${type} is not a two-person change`;
  const role = roster.roleOf(proposer);
  if (role === undefined) return `proposer ${proposer} was never enrolled in this journal`;
  if (roster.liveKeysOf(proposer).length === 0) return `proposer ${proposer} has been revoked`;
  if (!(rule.proposers as readonly string[]).includes(role))
    return `${type} is proposed by ${rule.proposers.join(' or ')}, not by ${proposer} (${role})`;
  if (rule.proposerFitsItem && roleForItem(data.item) !== role)
    return `${proposer} (${role}) does not hold the ${String(data.item)} half's role`;
  if (subjectOf(rule, data, roster) === proposer) return `${proposer} may not propose a change about themselves`;
  return null;
}

/**
 * Who may take part: distinct proposer and approver, both enrolled with live keys and roles that
 * fit the type, and neither of them the custodian the change is about. Null when eligible, else
 * the reason. The app asks this before anyone types a passphrase; the verifier asks it again.
 */
export function eligibilityProblem(type: string, data: JsonObject, proposer: string, approver: string, roster: Roster): string | null {
  const rule = TWO_PERSON_TYPES[type];
  if (rule === undefined) return `${type} is not a two-person change`;
  if (proposer === approver) return `${proposer} proposed and approved this change alone: a second custodian must approve it`;
  const proposing = proposerProblem(type, data, proposer, roster);
  if (proposing !== null) return proposing;
  const role = roster.roleOf(approver);
  if (role === undefined) return `approver ${approver} was never enrolled in this journal`;
  if (roster.liveKeysOf(approver).length === 0) return `approver ${approver} has been revoked`;
  if (!(rule.approvers as readonly string[]).includes(role))
    return `${type} is approved by ${rule.approvers.join(' or ')}, not by ${approver} (${role})`;
  if (subjectOf(rule, data, roster) === approver) return `${approver} may not approve a change about themselves`;
  return null;
}

/** The parts of an entry the approval check reads. */
export interface ApprovalSubject {
  readonly vault: string;
  readonly type: string;
  readonly time: number;
  readonly actor: string | null;
  readonly data: JsonObject;
}

/**
 * Checks the dual control of one entry. `signedBy` are the custodians whose signature over the
 * entry verified with a live key. Returns null when the entry needs no approval or has a valid
 * one, else the reason (reported as MISSING_APPROVAL).
 */
export function approvalProblem(entry: ApprovalSubject, roster: Roster, signedBy: ReadonlySet<string>, sodium: Sodium): string | null {
  const rule = TWO_PERSON_TYPES[entry.type];
  if (rule === undefined) return null;
  const d = entry.data;
  const approval = d.approval;
  if (approval === undefined && entry.type === 'custodian.enrolled' && d.founding === true) {
    return roster.enrolledCount < FOUNDING_CUSTODIANS
      ? null
      : `a founding enrolment after the first ${FOUNDING_CUSTODIANS} custodians: ${entry.type} needs a second custodian's approval`;
  }
  if (approval === undefined) return `${entry.type} changes custody and needs a second custodian's approval; this entry has none`;
  if (!isPlainObject(approval) || Object.keys(approval).sort().join() !== APPROVAL_MEMBERS.join()) {
    return `data.approval must have exactly the members ${APPROVAL_MEMBERS.join(', ')}`;
  }
  const { proposal, proposer, approver, proposedAt, expiresAt, change, sig } = approval;
  if (typeof proposal !== 'string' || !/^[0-9a-f]{32}$/.test(proposal)) return 'data.approval.proposal must be 32 lowercase hex';
  if (typeof proposer !== 'string' || typeof approver !== 'string') return 'data.approval.proposer and approver must be custodian ids';
  if (
    typeof proposedAt !== 'number' ||
    typeof expiresAt !== 'number' ||
    !Number.isSafeInteger(proposedAt) ||
    !Number.isSafeInteger(expiresAt)
  )
    return 'data.approval.proposedAt and expiresAt must be integers (ms)';
  if (!isPlainObject(change) || change.approval !== undefined) return 'data.approval.change must be an object without an approval member';
  if (typeof sig !== 'string' || !/^[0-9a-f]{128}$/.test(sig)) return 'data.approval.sig must be 128 lowercase hex';
  for (const member of Object.keys(change)) {
    if (!sameJson(change[member], d[member])) return `the approved change and the applied one differ in data.${member}`;
  }
  const eligibility = eligibilityProblem(entry.type, d, proposer, approver, roster);
  if (eligibility !== null) return eligibility;
  if (proposedAt > entry.time) return `the proposal is dated after the entry that applies it`;
  if (entry.time > expiresAt) return `the proposal expired at ${expiresAt}, before it was applied at ${entry.time}`;
  if (!signedBy.has(approver)) return `approver ${approver} did not sign this entry with a live key`;
  if (entry.type === 'custodian.enrolled' && typeof d.custodian === 'string' && !signedBy.has(d.custodian))
    return `the new custodian ${d.custodian} did not sign their own enrolment`;
  const message = proposalSignatureMessage(
    { vault: entry.vault, type: entry.type, proposal, proposer, proposedAt, expiresAt, change },
    sodium,
  );
  const sigBytes = sodium.from_hex(sig);
  const signed = roster.liveKeysOf(proposer).some((key) => {
    try {
      return sodium.crypto_sign_verify_detached(sigBytes, message, sodium.from_hex(key));
    } catch {
      return false;
    }
  });
  return signed ? null : `proposer ${proposer}'s signature over the proposal does not verify with a live key`;
}
