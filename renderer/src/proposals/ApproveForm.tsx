import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian, Proposal } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { PassphraseStrength } from '../components/PassphraseStrength';
import { ROLE_LABELS, withCustodianNames } from '../session/session';

/**
 * A second custodian approves a proposal: they pick themselves and type their own passphrase
 * (approving unlocks them, so they become the one acting and whoever acted is locked). An
 * enrolment also takes the newcomer's passphrase, typed by the newcomer. The vault decides who
 * may approve; its refusal is shown with names for ids. Both passphrases are cleared after
 * every attempt.
 */
export function ApproveForm(props: {
  readonly proposal: Proposal;
  readonly custodians: readonly Custodian[];
  readonly actor: Custodian | null;
  readonly onApproved: (outcome: string) => Promise<void>;
}): ReactElement {
  const { proposal, custodians, actor } = props;
  // Reviewers read the journal and never sign changes; the proposer stays listed, so the vault can say why not.
  const approvers = custodians.filter((c) => !c.revoked && c.role !== 'reviewer');
  // Until someone picks, the first custodian who is not the proposer (the list may still be loading).
  const [chosen, setChosen] = useState<string | null>(null);
  const approverId = chosen ?? approvers.find((c) => c.id !== proposal.proposer)?.id ?? '';
  const [passphrase, setPassphrase] = useState('');
  const [newcomerPassphrase, setNewcomerPassphrase] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const enrolment = proposal.type === 'custodian.enrolled';
  const newcomer = typeof proposal.change.name === 'string' ? proposal.change.name : 'The new custodian';
  const approver = approvers.find((c) => c.id === approverId) ?? null;
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const missing =
      approver === null
        ? 'Choose who approves.'
        : passphrase === ''
          ? `${approver.name} types their passphrase.`
          : enrolment && newcomerPassphrase === ''
            ? `${newcomer} types their own passphrase.`
            : null;
    if (missing !== null || approver === null) {
      setError({ code: 'INVALID_PAYLOAD', message: missing ?? 'Choose who approves.' });
      return;
    }
    setWorking(true);
    setError(null);
    const result = await attempt(() =>
      halfkey().proposalApprove({ by: approver.id, proposalId: proposal.id, passphrase, ...(enrolment ? { newcomerPassphrase } : {}) }),
    );
    setWorking(false);
    setPassphrase('');
    setNewcomerPassphrase('');
    if (!result.ok) {
      setError(withCustodianNames(result.error, custodians));
      return;
    }
    const switched = actor !== null && actor.id !== approver.id ? `; ${actor.name} was locked` : '';
    await props.onApproved(`Approved: ${proposal.summary}. ${approver.name} is acting now${switched}.`);
  };
  const selectId = `approver-${proposal.id}`;
  return (
    <form noValidate className="form" aria-label={`Approve: ${proposal.summary}`} onSubmit={(event) => void submit(event)}>
      <div className="field">
        <label htmlFor={selectId}>Approving custodian (you)</label>
        <select id={selectId} value={approverId} onChange={(event) => setChosen(event.target.value)}>
          {approvers.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} — {ROLE_LABELS[c.role]}, {c.organisation}
            </option>
          ))}
        </select>
      </div>
      <Field
        label="Your passphrase"
        type="password"
        value={passphrase}
        onChange={setPassphrase}
        required
        hint={
          approver === null
            ? undefined
            : `${approver.name} types it. Approving makes ${approver.name} the acting custodian${actor !== null && actor.id !== approver.id ? ` and locks ${actor.name}` : ''}.`
        }
      />
      {enrolment && (
        <fieldset className="choice newcomer">
          <legend>{newcomer} at the keyboard</legend>
          <Field
            label="New custodian: type your own passphrase"
            type="password"
            value={newcomerPassphrase}
            onChange={setNewcomerPassphrase}
            required
            hint={`${newcomer} types it unseen; it unlocks their keys from now on.`}
          />
          <PassphraseStrength passphrase={newcomerPassphrase} />
        </fieldset>
      )}
      <ErrorNotice error={error} />
      <button type="submit" className="primary" disabled={working}>
        {working ? 'Approving…' : 'Approve'}
      </button>
    </form>
  );
}
