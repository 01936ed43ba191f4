import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { PassphraseStrength } from '../components/PassphraseStrength';

/**
 * The acting custodian changes their own passphrase (custodian:change-passphrase): the current
 * one, then the new one twice. Only for the actor — there is no way here, or in the API, to set
 * anyone else's. Every field is cleared once the request is sent; the vault's refusal (wrong
 * current passphrase with its back-off, a weak new one) is shown as it says it.
 */
export function ChangePassphrase({ actor }: { readonly actor: Custodian }): ReactElement {
  const [open, setOpen] = useState(false);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const [done, setDone] = useState(false);
  const mismatch = repeat !== '' && repeat !== next ? 'The two new passphrases differ.' : null;
  const clear = (): void => {
    setCurrent('');
    setNext('');
    setRepeat('');
  };
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (next !== repeat) return;
    const request = { custodianId: actor.id, oldPassphrase: current, newPassphrase: next };
    clear();
    setWorking(true);
    const result = await attempt(() => halfkey().custodianChangePassphrase(request));
    setWorking(false);
    setError(result.ok ? null : result.error);
    if (result.ok) {
      setDone(true);
      setOpen(false);
    }
  };
  if (!open) {
    return (
      <div className="change-passphrase">
        <button
          type="button"
          onClick={() => {
            setOpen(true);
            setDone(false);
          }}
        >
          Change my passphrase
        </button>
        {done && <p role="status">{actor.name}&apos;s passphrase is changed; the old one no longer unlocks.</p>}
      </div>
    );
  }
  return (
    <form
      noValidate
      className="change-passphrase inline-form"
      aria-label={`Change ${actor.name}'s passphrase`}
      onSubmit={(e) => void submit(e)}
    >
      <p className="muted">Only {actor.name} changes this passphrase: the current one is required. The change is journaled.</p>
      <Field label="Current passphrase" type="password" value={current} onChange={setCurrent} required />
      <Field label="New passphrase" type="password" value={next} onChange={setNext} required />
      <PassphraseStrength passphrase={next} />
      <Field label="Repeat the new passphrase" type="password" value={repeat} onChange={setRepeat} required problem={mismatch} />
      <div className="actions">
        <button type="submit" className="primary" disabled={working || current === '' || next === '' || next !== repeat}>
          {working ? 'Changing…' : 'Change passphrase'}
        </button>
        <button
          type="button"
          onClick={() => {
            clear();
            setError(null);
            setOpen(false);
          }}
        >
          Cancel
        </button>
      </div>
      <ErrorNotice error={error} />
    </form>
  );
}
