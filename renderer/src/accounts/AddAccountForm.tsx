import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

/** The inline check of an AWS account id while it is typed; the service checks again. */
export function accountIdProblem(value: string): string | null {
  if (value === '') return null;
  if (!/^\d*$/.test(value)) return 'Only digits: an AWS account id is exactly 12 digits.';
  if (value.length !== 12) return `An AWS account id is exactly 12 digits (${value.length} so far).`;
  return null;
}

/** The admin's form to add an AWS account: id, alias, root e-mail and owning organisation. */
export function AddAccountForm({ admin, onAdded }: { readonly admin: Custodian; readonly onAdded: () => Promise<void> }): ReactElement {
  const [accountId, setAccountId] = useState('');
  const [alias, setAlias] = useState('');
  const [rootEmail, setRootEmail] = useState('');
  const [organisation, setOrganisation] = useState(admin.organisation);
  const [rotate, setRotate] = useState(false);
  const [exclusive, setExclusive] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const idProblem = accountIdProblem(accountId);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setDone(null);
    if (idProblem !== null || accountId === '') {
      setError({ code: 'INVALID_PAYLOAD', message: idProblem ?? 'The account id is required.' });
      return;
    }
    const result = await attempt(() =>
      halfkey().custodyAccountAdd({
        by: admin.id,
        accountId,
        alias,
        rootEmail,
        organisation,
        rotateAfterCheckout: rotate,
        exclusiveCheckout: exclusive,
      }),
    );
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    setDone(`Added account ${result.value.accountId} (${result.value.alias}).`);
    setAccountId('');
    setAlias('');
    setRootEmail('');
    await onAdded();
  };
  return (
    <section className="panel" aria-labelledby="add-account-heading">
      <h2 id="add-account-heading">Add an account</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field
          label="AWS account id"
          value={accountId}
          onChange={setAccountId}
          required
          inputMode="numeric"
          hint="12 digits, e.g. 123456789012."
          problem={idProblem}
        />
        <Field label="Alias" value={alias} onChange={setAlias} required />
        <Field label="Root e-mail" type="email" value={rootEmail} onChange={setRootEmail} required />
        <Field label="Owning organisation" value={organisation} onChange={setOrganisation} required />
        <div className="check">
          <input id="add-rotate" type="checkbox" checked={rotate} onChange={(event) => setRotate(event.target.checked)} />
          <label htmlFor="add-rotate">Rotate the password after every checkout</label>
        </div>
        <div className="check">
          <input id="add-exclusive" type="checkbox" checked={exclusive} onChange={(event) => setExclusive(event.target.checked)} />
          <label htmlFor="add-exclusive">One checkout per half at a time</label>
        </div>
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary">
          Add account
        </button>
      </form>
    </section>
  );
}
