import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { ROLE_LABELS } from '../session/session';

const ITEMS = ['password', 'mfa', 'email', 'phone'] as const;
type Item = (typeof ITEMS)[number];

/**
 * The admin assigns a custody item to a custodian. The four-eyes policy decides in the main
 * process; a refusal shows its rule and item. Where the half already has a secret, an unlocked
 * holder can re-seal it to the new custodian.
 */
export function AssignForm(props: {
  readonly admin: Custodian;
  readonly account: Account;
  readonly custodians: readonly Custodian[];
  readonly onAssigned: () => Promise<void>;
}): ReactElement {
  const candidates = props.custodians.filter((c) => !c.revoked);
  const [item, setItem] = useState<Item>('password');
  const [custodianId, setCustodianId] = useState(candidates[0]?.id ?? '');
  const [resealWith, setResealWith] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const holders = props.account.assignments.filter((a) => a.item === item).map((a) => a.custodianId);
  const resealers = props.custodians.filter((c) => c.unlocked && holders.includes(c.id));
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setDone(null);
    const result = await attempt(() =>
      halfkey().custodyAssign({
        by: props.admin.id,
        accountId: props.account.accountId,
        item,
        custodianId,
        ...(resealWith === '' ? {} : { resealWith }),
      }),
    );
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    const who = props.custodians.find((c) => c.id === custodianId)?.name ?? custodianId;
    setDone(`Assigned the ${item} item to ${who}${result.value.sealed ? ' (sealed to them)' : ''}.`);
    await props.onAssigned();
  };
  return (
    <section className="panel" aria-labelledby="assign-heading">
      <h2 id="assign-heading">Assign a custody item</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <div className="field">
          <label htmlFor="assign-item">Item</label>
          <select id="assign-item" value={item} onChange={(event) => setItem(ITEMS.find((i) => i === event.target.value) ?? 'password')}>
            {ITEMS.map((i) => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="assign-custodian">Custodian</label>
          <select id="assign-custodian" value={custodianId} onChange={(event) => setCustodianId(event.target.value)}>
            {candidates.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} — {ROLE_LABELS[c.role]}, {c.organisation}
              </option>
            ))}
          </select>
        </div>
        {resealers.length > 0 && (
          <div className="field">
            <label htmlFor="assign-reseal">Re-seal with (an unlocked holder)</label>
            <select id="assign-reseal" value={resealWith} onChange={(event) => setResealWith(event.target.value)}>
              <option value="">nobody: record the assignment unsealed</option>
              {resealers.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
        )}
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={custodianId === ''}>
          Assign
        </button>
      </form>
    </section>
  );
}
