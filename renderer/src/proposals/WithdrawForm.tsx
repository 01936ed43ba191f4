import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian, Proposal } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

/** The proposer, acting, withdraws their open proposal with a reason the journal records. */
export function WithdrawForm(props: {
  readonly proposal: Proposal;
  readonly proposer: Custodian;
  readonly onWithdrawn: (outcome: string) => Promise<void>;
}): ReactElement {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await attempt(() => halfkey().proposalWithdraw({ by: props.proposer.id, proposalId: props.proposal.id, reason }));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    await props.onWithdrawn(`Withdrawn: ${props.proposal.summary}.`);
  };
  return (
    <form
      noValidate
      className="form inline-form"
      aria-label={`Withdraw: ${props.proposal.summary}`}
      onSubmit={(event) => void submit(event)}
    >
      <Field label="Reason for withdrawing" value={reason} onChange={setReason} required hint="Recorded in the journal." />
      <ErrorNotice error={error} />
      <button type="submit" className="danger">
        Withdraw proposal
      </button>
    </form>
  );
}
