import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

/**
 * For a vault that exists but is not open: open it with the device key from the OS keychain, or,
 * where this machine's keychain lost that key, restore access with the recovery key.
 */
export function VaultAccess({ onOpened }: { readonly onOpened: () => void }): ReactElement {
  const [recoveryKey, setRecoveryKey] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const open = async (): Promise<void> => {
    setWorking(true);
    const result = await attempt(() => halfkey().vaultOpen({}));
    setWorking(false);
    setError(result.ok ? null : result.error);
    if (result.ok) onOpened();
  };
  const recover = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const key = recoveryKey;
    // The recovery key is as strong as the device key: it leaves the field as soon as it is sent.
    setRecoveryKey('');
    setWorking(true);
    const result = await attempt(() => halfkey().vaultRecover({ recoveryKey: key.trim() }));
    setWorking(false);
    setError(result.ok ? null : result.error);
    if (result.ok) onOpened();
  };
  return (
    <section className="panel" aria-labelledby="access-heading">
      <h2 id="access-heading">Open the vault</h2>
      <p>The vault file is here but not open. Open it with the device key in this machine&apos;s keychain.</p>
      <div className="actions">
        <button type="button" className="primary" disabled={working} onClick={() => void open()}>
          Open vault
        </button>
      </div>
      <ErrorNotice error={error} />
      <h3>Restore access with the recovery key</h3>
      <p className="muted">
        If this machine&apos;s keychain no longer has the device key (new machine, reset keyring), type the recovery key from the recovery
        kit.
      </p>
      <form noValidate className="form" onSubmit={(event) => void recover(event)}>
        <Field label="Recovery key" type="password" value={recoveryKey} onChange={setRecoveryKey} required placeholder="HK1-…" />
        <button type="submit" disabled={working}>
          Recover
        </button>
      </form>
    </section>
  );
}
