import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';

/** An acting admin proposes a new organisation; it exists once a second custodian approves it under Proposals. */
export function AddOrganisationForm(props: { readonly admin: Custodian; readonly onProposed: () => Promise<void> }): ReactElement {
  const [name, setName] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const presence = usePresenceGate(props.admin);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await presence.attempt(() => halfkey().organisationAdd({ by: props.admin.id, name }));
    setError(result.ok ? null : result.error);
    if (!result.ok) return;
    setDone(`Proposed: ${result.value.proposal.summary}. A second custodian approves it under Proposals.`);
    setName('');
    await props.onProposed();
  };
  return (
    <section className="panel" aria-labelledby="add-organisation-heading">
      <h2 id="add-organisation-heading">Propose an organisation</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field
          label="Organisation name"
          value={name}
          onChange={setName}
          required
          hint="Names are compared ignoring case and spacing: a name like an existing one is refused."
        />
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={presence.waiting}>
          Propose organisation
        </button>
      </form>
      <PresencePrompt gate={presence} />
    </section>
  );
}
