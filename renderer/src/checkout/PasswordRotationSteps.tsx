import type { ReactElement } from 'react';
import type { Account } from '../api/types';
import { useSessionContext } from '../session/session';

/** Where a password rotation stands: before Rotate, pending (not yet confirmed), or confirmed and waiting for approval. */
export type RotationStage = 'start' | 'pending' | 'proposed';

/**
 * The dual-presence walk-through of a password rotation, in words, with the stage it is at marked
 * (aria-current="step"). Setting a new root password at AWS needs the current password and an
 * MFA code, so the password custodian and the MFA custodian both take part, each for themselves.
 */
export function PasswordRotationSteps(props: {
  readonly account: Account;
  readonly stage: RotationStage;
  readonly current: number;
}): ReactElement {
  const { custodians } = useSessionContext();
  const holders = (item: 'password' | 'mfa', role: string): string => {
    const names = props.account.assignments
      .filter((a) => a.item === item)
      .map((a) => custodians.find((c) => c.id === a.custodianId)?.name)
      .filter((name): name is string => name !== undefined);
    return names.length === 0 ? `the ${role}` : `${names.join(' or ')} (${role})`;
  };
  const at = (stage: RotationStage | 'confirm'): 'step' | undefined =>
    (stage === 'confirm' ? props.stage === 'pending' : props.stage === stage) ? 'step' : undefined;
  return (
    <div className="steps-box">
      <h3>Rotating the root password takes two people</h3>
      <ol className="steps">
        <li aria-current={at('start')}>
          <strong>Sign in to AWS as root together.</strong> AWS asks for the current password and an MFA code:{' '}
          {holders('password', 'password custodian')} checks out the password half and types the current password;{' '}
          {holders('mfa', 'MFA custodian')} checks out the MFA half and reads out the current code. Each acts for themselves: unlock under
          Custodians with your own passphrase (that locks whoever acted before) and never type someone else&apos;s.
        </li>
        <li>
          <strong>Open “Change password” at AWS, then press Rotate here.</strong> Halfkey shows the new password once, for 60 s; the
          password custodian enters it at AWS, where the current password is asked for again. A half that is rotation due can be checked out
          again once its rotation is pending, to type the current password at AWS.
        </li>
        <li aria-current={at('confirm')}>
          <strong>When AWS has taken it, the password custodian confirms here</strong> with “Confirm the new secret is set at AWS”.
        </li>
        <li aria-current={at('proposed')}>
          <strong>A second custodian approves the confirmation under Proposals</strong> with their own passphrase. Only then is generation{' '}
          {props.current} retired; until then Halfkey keeps giving out the current password.
        </li>
      </ol>
      <p className="muted">If AWS did not take the new password, abandon the rotation: the current password stays in use.</p>
    </div>
  );
}
