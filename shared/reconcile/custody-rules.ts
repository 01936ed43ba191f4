import type { RootEvent } from './cloudtrail-record';
import type { CustodyChange } from './custody-timeline';

/**
 * The rules that set a root action against custody's own record of changes, each one small so
 * the two-phase rotation (and whatever follows it) changes one function. docs/reconciliation.md
 * states them in the same words.
 */

/** How far from an MFA change at AWS a custody MFA change may be and still count as the same change. */
export const MFA_MATCH_MS = 60 * 60_000;

/** Flags: findings a reviewer must act on even when the action itself is explained. */
export const FLAG_CODES = [
  'PASSWORD_CHANGE_WITHOUT_ROTATION',
  'PASSWORD_RECOVERED',
  'MFA_CHANGE_UNKNOWN_TO_CUSTODY',
  'SIGN_IN_WITHOUT_MFA',
  'ROOT_ACCESS_KEY_USED',
  'ROOT_ACCESS_KEY_CREATED',
] as const;
export type FlagCode = (typeof FLAG_CODES)[number];

/**
 * Password changes at AWS against pending rotations, for one account. A rotation journaled in
 * custody (`half.rotated` of the password; `rotation.pending` once rotation is two-phase) is
 * pending from its time (less the slack) until the next one of the same account; the first
 * successful password change at AWS inside that span confirms it. A change outside every span,
 * or in a span already confirmed, has no pending rotation. Both lists sorted by time.
 * Returns the rotation each change confirms (null: none pending) and the rotations no change confirmed.
 */
export function matchPasswordChanges(
  changes: readonly RootEvent[],
  rotations: readonly CustodyChange[],
  slackMs: number,
): { readonly confirms: ReadonlyMap<RootEvent, CustodyChange | null>; readonly unconfirmed: readonly CustodyChange[] } {
  const confirms = new Map<RootEvent, CustodyChange | null>();
  const confirmed = new Set<CustodyChange>();
  for (const change of changes) {
    let pending: CustodyChange | null = null;
    for (let i = 0; i < rotations.length; i++) {
      const from = rotations[i]!.time - slackMs;
      const until = i + 1 < rotations.length ? rotations[i + 1]!.time - slackMs : Infinity;
      if (change.time >= from && change.time < until) pending = rotations[i]!;
    }
    if (pending !== null && !confirmed.has(pending)) {
      confirmed.add(pending);
      confirms.set(change, pending);
    } else {
      confirms.set(change, null);
    }
  }
  return { confirms, unconfirmed: rotations.filter((r) => !confirmed.has(r)) };
}

/** Whether custody knows of an MFA device change at AWS: an MFA change of the same account journaled within MFA_MATCH_MS (plus the slack). */
export function knownMfaChange(event: RootEvent, mfaChanges: readonly CustodyChange[], slackMs: number): CustodyChange | null {
  const reach = MFA_MATCH_MS + slackMs;
  let best: CustodyChange | null = null;
  for (const c of mfaChanges) {
    if (c.account !== event.account || Math.abs(c.time - event.time) > reach) continue;
    if (best === null || Math.abs(c.time - event.time) < Math.abs(best.time - event.time)) best = c;
  }
  return best;
}

/** The flags an action raises by itself, before the rotation and MFA rules (which need the journal). */
export function ownFlags(event: RootEvent): FlagCode[] {
  const flags: FlagCode[] = [];
  if (event.outcome !== 'success') return flags;
  if (event.signIn && event.mfa === 'no') flags.push('SIGN_IN_WITHOUT_MFA');
  if (event.name === 'PasswordRecoveryCompleted') flags.push('PASSWORD_RECOVERED');
  if (event.accessKey === 'long-term') flags.push('ROOT_ACCESS_KEY_USED');
  if (event.name === 'CreateAccessKey') flags.push('ROOT_ACCESS_KEY_CREATED');
  return flags;
}

/** What each flag means for the reviewer, in one sentence (the report and docs/reconciliation.md use these). */
export const FLAG_MESSAGES: Readonly<Record<FlagCode, string>> = {
  PASSWORD_CHANGE_WITHOUT_ROTATION:
    'The root password was changed at AWS with no rotation pending in custody: the password half no longer opens the account, and someone chose a password custody never held.',
  PASSWORD_RECOVERED:
    'The root password was reset through the root e-mail (account recovery): whoever read that inbox chose the new password.',
  MFA_CHANGE_UNKNOWN_TO_CUSTODY:
    "An MFA device was enabled or removed at AWS with no MFA change in custody within an hour: the MFA half may no longer be the account's only second factor.",
  SIGN_IN_WITHOUT_MFA:
    'A root console sign-in succeeded without MFA: the password alone opened the account, so the split into two halves did not protect it.',
  ROOT_ACCESS_KEY_USED: 'The call was signed with a long-term root access key (AKIA…): a root credential custody does not hold exists.',
  ROOT_ACCESS_KEY_CREATED: 'A root access key was created: a standing root credential outside custody.',
};
