import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import type { Organisation } from './useOrganisations';

type Channel = 'email' | 'phone';

/**
 * An acting admin proposes which organisation holds an account's root e-mail inbox or recovery
 * phone (or none). Under rule 3 that organisation is then kept away from the MFA half.
 */
export function ChannelOrganisationForm(props: {
  readonly admin: Custodian;
  readonly organisations: readonly Organisation[];
  readonly onProposed: () => Promise<void>;
}): ReactElement {
  const [accountId, setAccountId] = useState('');
  const [item, setItem] = useState<Channel>('email');
  const [organisationId, setOrganisationId] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const presence = usePresenceGate(props.admin);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await presence.attempt(() =>
      halfkey().custodyChannelOrganisation({
        by: props.admin.id,
        accountId: accountId.trim(),
        item,
        organisationId: organisationId === '' ? null : organisationId,
      }),
    );
    setError(result.ok ? null : result.error);
    if (!result.ok) return;
    setDone(`Proposed: ${result.value.proposal.summary}. A second custodian approves it under Proposals.`);
    await props.onProposed();
  };
  return (
    <section className="panel" aria-labelledby="channel-organisation-heading">
      <h2 id="channel-organisation-heading">Root inbox and recovery phone</h2>
      <p className="muted">
        Name the organisation that holds an account&apos;s root e-mail inbox or recovery phone. With separate organisations on, it may not
        hold the MFA half of that account.
      </p>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field label="AWS account id" value={accountId} onChange={setAccountId} required inputMode="numeric" hint="12 digits." />
        <div className="field">
          <label htmlFor="channel-item">Recovery channel</label>
          <select id="channel-item" value={item} onChange={(event) => setItem(event.target.value === 'phone' ? 'phone' : 'email')}>
            <option value="email">Root e-mail inbox</option>
            <option value="phone">Recovery phone</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="channel-organisation">Held by</label>
          <select id="channel-organisation" value={organisationId} onChange={(event) => setOrganisationId(event.target.value)}>
            <option value="">No organisation named</option>
            {props.organisations.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </div>
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={presence.waiting}>
          Propose
        </button>
      </form>
      <PresencePrompt gate={presence} />
    </section>
  );
}
