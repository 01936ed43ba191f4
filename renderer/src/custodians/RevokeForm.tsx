import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

/** An admin revokes a custodian, with the reason the journal records. */
export function RevokeForm(props: {
  readonly admin: Custodian;
  readonly custodian: Custodian;
  readonly onRevoked: () => Promise<void>;
}): ReactElement {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await attempt(() => halfkey().custodianRevoke({ by: props.admin.id, custodianId: props.custodian.id, reason }));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    await props.onRevoked();
  };
  return (
    <form noValidate className="form inline-form" aria-label={`Revoke ${props.custodian.name}`} onSubmit={(event) => void submit(event)}>
      <Field
        label="Reason for revoking"
        value={reason}
        onChange={setReason}
        required
        hint="Recorded in the journal. The custodian can no longer unlock."
      />
      <ErrorNotice error={error} />
      <button type="submit" className="danger">
        Revoke {props.custodian.name}
      </button>
    </form>
  );
}
