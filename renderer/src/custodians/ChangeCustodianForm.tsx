import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import { useOrganisations } from '../organisations/useOrganisations';
import { RoleSelect } from './RoleSelect';

/**
 * An acting admin proposes a custodian's new role or organisation. Nothing changes until a second
 * custodian — never the one it is about — approves it under Proposals.
 */
export function ChangeCustodianForm(props: {
  readonly admin: Custodian;
  readonly custodian: Custodian;
  readonly onProposed: (outcome: string) => Promise<void>;
}): ReactElement {
  const { custodian } = props;
  const organisations = useOrganisations(custodian.id).value?.organisations ?? [];
  const current = organisations.find((o) => o.members.includes(custodian.id))?.id ?? '';
  const [role, setRole] = useState<Custodian['role']>(custodian.role);
  const [organisation, setOrganisation] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const presence = usePresenceGate(props.admin);
  const chosen = organisation === '' ? current : organisation;
  const propose = async (what: 'role' | 'organisation'): Promise<void> => {
    const by = props.admin.id;
    const result = await presence.attempt(() =>
      what === 'role'
        ? halfkey().custodianRoleChange({ by, custodianId: custodian.id, role })
        : halfkey().custodianOrganisationChange({ by, custodianId: custodian.id, organisation: chosen }),
    );
    setError(result.ok ? null : result.error);
    if (result.ok)
      await props.onProposed(
        `Proposed: ${result.value.proposal.summary}. A second custodian, not ${custodian.name}, approves it under Proposals.`,
      );
  };
  const submit = (what: 'role' | 'organisation') => (event: FormEvent) => {
    event.preventDefault();
    void propose(what);
  };
  return (
    <>
      <form noValidate className="form inline-form" aria-label={`Change the role of ${custodian.name}`} onSubmit={submit('role')}>
        <RoleSelect id={`role-${custodian.id}`} label="New role" value={role} onChange={setRole} />
        <button type="submit" disabled={presence.waiting || role === custodian.role}>
          Propose role change
        </button>
      </form>
      <form
        noValidate
        className="form inline-form"
        aria-label={`Change the organisation of ${custodian.name}`}
        onSubmit={submit('organisation')}
      >
        <div className="field">
          <label htmlFor={`organisation-${custodian.id}`}>New organisation</label>
          <select id={`organisation-${custodian.id}`} value={chosen} onChange={(event) => setOrganisation(event.target.value)}>
            {organisations.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={presence.waiting || chosen === current}>
          Propose organisation change
        </button>
      </form>
      <ErrorNotice error={error} />
      <PresencePrompt gate={presence} />
    </>
  );
}
