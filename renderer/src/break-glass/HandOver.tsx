import { useState, type FormEvent, type ReactElement } from 'react';
import type { Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { useSessionContext } from '../session/session';
import { usePassphraseUnlock } from '../session/usePassphraseUnlock';

/**
 * Hands the keyboard to the person the next step needs: they pick themselves and type their own
 * passphrase, which makes them the actor (and locks whoever acted). There is no switch without it.
 */
export function HandOver({ who, step }: { readonly who: readonly Custodian[]; readonly step: string }): ReactElement {
  const session = useSessionContext();
  const [picked, setPicked] = useState('');
  const custodianId = picked === '' ? (who[0]?.id ?? null) : picked;
  const entry = usePassphraseUnlock(custodianId);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if ((await entry.unlock()) !== null) await session.refresh();
  };
  if (who.length === 0) return <p className="notice">No custodian of this vault can take this step: {step}.</p>;
  return (
    <form noValidate className="inline-form" aria-label={`Hand over: ${step}`} onSubmit={(event) => void submit(event)}>
      <p>Hand the keyboard to the custodian for this step ({step}). They type their own passphrase; whoever acts now is locked.</p>
      <div className="field">
        <label htmlFor="break-glass-next-custodian">Custodian (you)</label>
        <select id="break-glass-next-custodian" value={custodianId ?? ''} onChange={(event) => setPicked(event.target.value)}>
          {who.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </div>
      <Field label="Your passphrase" type="password" value={entry.passphrase} onChange={entry.setPassphrase} required />
      <button type="submit" className="primary" disabled={entry.working}>
        {entry.working ? 'Checking…' : 'Take over'}
      </button>
      <ErrorNotice error={entry.error} />
    </form>
  );
}
