import type { ReactElement } from 'react';
import type { Custodian } from '../api/types';
import { ROLE_LABELS } from '../session/session';

const ROLES: readonly Custodian['role'][] = ['password-custodian', 'mfa-custodian', 'admin', 'reviewer'];

/** A labelled choice of custodian role. */
export function RoleSelect(props: {
  readonly id: string;
  readonly label: string;
  readonly value: Custodian['role'];
  readonly onChange: (role: Custodian['role']) => void;
}): ReactElement {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select
        id={props.id}
        value={props.value}
        onChange={(event) => props.onChange(ROLES.find((r) => r === event.target.value) ?? props.value)}
      >
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {ROLE_LABELS[r]}
          </option>
        ))}
      </select>
    </div>
  );
}
