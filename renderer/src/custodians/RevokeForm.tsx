import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';

/**
 * An admin proposes revoking a custodian, with the reason the journal records. Nothing changes
 * until a second custodian approves it under Proposals.
 */
export function RevokeForm(props: {
  readonly admin: Custodian;
  readonly custodian: Custodian;
  readonly onProposed: (outcome: string) => Promise<void>;
}): ReactElement {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const presence = usePresenceGate(props.admin);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await presence.attempt(() => halfkey().custodianRevoke({ by: props.admin.id, custodianId: props.custodian.id, reason }));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    await props.onProposed(
      `Proposed: ${result.value.proposal.summary}. ${props.custodian.name} can still unlock until a second custodian approves it under Proposals.`,
    );
  };
  return (
    <>
      <form noValidate className="form inline-form" aria-label={`Revoke ${props.custodian.name}`} onSubmit={(event) => void submit(event)}>
        <Field
          label="Reason for revoking"
          value={reason}
          onChange={setReason}
          required
          hint="This proposes the revocation; a second custodian approves it. The reason is recorded in the journal."
        />
        <ErrorNotice error={error} />
        <button type="submit" className="danger" disabled={presence.waiting}>
          Propose revoking {props.custodian.name}
        </button>
      </form>
      <PresencePrompt gate={presence} />
    </>
  );
}
