import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { PassphraseStrength } from '../components/PassphraseStrength';
import { ROLE_LABELS } from '../session/session';

const ROLES: readonly Custodian['role'][] = ['password-custodian', 'mfa-custodian', 'admin', 'reviewer'];

/** The admin's form to enrol a custodian; the new custodian types their own passphrase. */
export function EnrolForm({ admin, onEnrolled }: { readonly admin: Custodian; readonly onEnrolled: () => Promise<void> }): ReactElement {
  const [name, setName] = useState('');
  const [organisation, setOrganisation] = useState('');
  const [role, setRole] = useState<Custodian['role']>('password-custodian');
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [working, setWorking] = useState(false);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setWorking(true);
    setError(null);
    setDone(null);
    const result = await attempt(() => halfkey().custodianEnrol({ by: admin.id, name, organisation, role, passphrase }));
    setWorking(false);
    setPassphrase('');
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setDone(`Enrolled ${result.value.name} as ${ROLE_LABELS[result.value.role].toLowerCase()}.`);
    setName('');
    setOrganisation('');
    await onEnrolled();
  };
  return (
    <section className="panel" aria-labelledby="enrol-heading">
      <h2 id="enrol-heading">Enrol a custodian</h2>
      <p className="muted">Hand the keyboard to the new custodian for the passphrase. Enrolled by {admin.name}.</p>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field label="Name" value={name} onChange={setName} required />
        <Field label="Organisation" value={organisation} onChange={setOrganisation} required />
        <div className="field">
          <label htmlFor="enrol-role">Role</label>
          <select
            id="enrol-role"
            value={role}
            onChange={(event) => setRole(ROLES.find((r) => r === event.target.value) ?? 'password-custodian')}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABELS[r]}
              </option>
            ))}
          </select>
        </div>
        <Field label="Their passphrase" type="password" value={passphrase} onChange={setPassphrase} required />
        <PassphraseStrength passphrase={passphrase} />
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={working}>
          {working ? 'Enrolling…' : 'Enrol custodian'}
        </button>
      </form>
    </section>
  );
}
