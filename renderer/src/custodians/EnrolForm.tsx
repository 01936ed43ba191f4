import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { PassphraseStrength } from '../components/PassphraseStrength';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import { ROLE_LABELS } from '../session/session';
import { RoleSelect } from './RoleSelect';

/**
 * The admin's form to enrol a custodian. The founding second custodian types their own passphrase
 * here; every later enrolment is a proposal, and the newcomer types theirs when a second custodian
 * approves it (Proposals).
 */
export function EnrolForm({
  admin,
  founding,
  onEnrolled,
}: {
  readonly admin: Custodian;
  readonly founding: boolean;
  readonly onEnrolled: () => Promise<void>;
}): ReactElement {
  const [name, setName] = useState('');
  const [organisation, setOrganisation] = useState('');
  const [role, setRole] = useState<Custodian['role']>('password-custodian');
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [working, setWorking] = useState(false);
  // Proposing signs the change: it needs the admin's passphrase within the presence window.
  const presence = usePresenceGate(admin);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setWorking(true);
    setError(null);
    setDone(null);
    const result = await presence.attempt(() =>
      halfkey().custodianEnrol({ by: admin.id, name, organisation, role, ...(founding ? { passphrase } : {}) }),
    );
    setWorking(false);
    setPassphrase('');
    if (!result.ok) {
      setError(result.error);
      return;
    }
    const { custodian, proposal } = result.value;
    setDone(
      custodian !== null
        ? `Enrolled ${custodian.name} as ${ROLE_LABELS[custodian.role].toLowerCase()} (founding custodian).`
        : `Proposed: ${proposal?.summary ?? 'the enrolment'}. A second custodian approves it under Proposals, where ${name} types their own passphrase.`,
    );
    setName('');
    setOrganisation('');
    await onEnrolled();
  };
  return (
    <section className="panel" aria-labelledby="enrol-heading">
      <h2 id="enrol-heading">Enrol a custodian</h2>
      <p className="muted">
        {founding
          ? `The founding custodian: hand them the keyboard for their passphrase. Enrolled by ${admin.name}.`
          : `Proposed by ${admin.name}; a second custodian approves it with the newcomer present.`}
      </p>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field label="Name" value={name} onChange={setName} required />
        <Field
          label="Organisation"
          value={organisation}
          onChange={setOrganisation}
          required
          hint={
            founding
              ? 'Becomes a founding organisation of the vault (names are compared ignoring case and spacing).'
              : 'An organisation of the vault, by name (see Organisations); a new one is proposed there first.'
          }
        />
        <RoleSelect id="enrol-role" label="Role" value={role} onChange={setRole} />
        {founding ? (
          <>
            <Field label="Their passphrase" type="password" value={passphrase} onChange={setPassphrase} required />
            <PassphraseStrength passphrase={passphrase} />
          </>
        ) : null}
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={working}>
          {working ? (founding ? 'Enrolling…' : 'Proposing…') : founding ? 'Enrol custodian' : 'Propose enrolment'}
        </button>
      </form>
      <PresencePrompt gate={presence} />
    </section>
  );
}
