import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { PassphraseStrength } from '../components/PassphraseStrength';
import { RecoveryKeyCard, type RecoveryKey } from './RecoveryKeyCard';

/**
 * First run: the vault admin creates the vault, then sees the recovery key once. `onBusy(true)`
 * keeps this view mounted while the key is on screen, even though the vault now exists.
 */
export function SetupView({
  onBusy,
  onCreated,
}: {
  readonly onBusy: (busy: boolean) => void;
  readonly onCreated: (adminId: string) => void;
}): ReactElement {
  const [adminName, setAdminName] = useState('');
  const [organisation, setOrganisation] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [separate, setSeparate] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const [recovery, setRecovery] = useState<RecoveryKey | null>(null);
  const [adminId, setAdminId] = useState<string | null>(null);

  const mismatch = confirmation !== '' && confirmation !== passphrase ? 'The two passphrases differ.' : null;

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (passphrase !== confirmation) {
      setError({ code: 'INVALID_PAYLOAD', message: 'The passphrase and its confirmation differ; type the same passphrase twice.' });
      return;
    }
    setWorking(true);
    setError(null);
    onBusy(true);
    const result = await attempt(() => halfkey().vaultCreate({ adminName, organisation, passphrase, separateOrganisations: separate }));
    setWorking(false);
    if (!result.ok) {
      setError(result.error);
      onBusy(false);
      return;
    }
    setPassphrase('');
    setConfirmation('');
    setRecovery({ text: result.value.recoveryKey, qr: result.value.recoveryQr });
    setAdminId(result.value.adminId);
  };

  if (recovery !== null) {
    return (
      <RecoveryKeyCard
        recovery={recovery}
        onStored={() => {
          // The key leaves React state here; nothing else ever held it.
          setRecovery(null);
          onBusy(false);
          if (adminId !== null) onCreated(adminId);
        }}
      />
    );
  }

  return (
    <section className="panel" aria-labelledby="setup-heading">
      <h2 id="setup-heading">Create the vault</h2>
      <p className="muted">You become its first admin. Your passphrase unlocks your admin key; it is never stored.</p>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field label="Admin name" value={adminName} onChange={setAdminName} required />
        <Field label="Organisation" value={organisation} onChange={setOrganisation} required />
        <Field label="Passphrase" type="password" value={passphrase} onChange={setPassphrase} required />
        <PassphraseStrength passphrase={passphrase} />
        <Field label="Confirm passphrase" type="password" value={confirmation} onChange={setConfirmation} required problem={mismatch} />
        <div className="check">
          <input id="setup-separate" type="checkbox" checked={separate} onChange={(event) => setSeparate(event.target.checked)} />
          <label htmlFor="setup-separate">The two halves of an account must be held by different organisations</label>
        </div>
        <ErrorNotice error={error} />
        <button type="submit" className="primary" disabled={working}>
          {working ? 'Creating… (deriving the key takes a second)' : 'Create vault'}
        </button>
      </form>
    </section>
  );
}
