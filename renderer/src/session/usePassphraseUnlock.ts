import { useState } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';

/** A passphrase field's state and the unlock it feeds. */
export interface PassphraseUnlock {
  readonly passphrase: string;
  readonly setPassphrase: (value: string) => void;
  /** The last refusal (wrong passphrase, back-off) in the vault's words, or null. */
  readonly error: ApiError | null;
  readonly working: boolean;
  /** custodian:unlock with the typed passphrase, which is cleared after every attempt; the custodian as unlocked, or null with `error` set. */
  readonly unlock: () => Promise<Custodian | null>;
  /** Clears the field and the error (the person gave up). */
  readonly reset: () => void;
}

/** Unlocking one custodian by their passphrase: unlock forms and the presence prompt share it. */
export function usePassphraseUnlock(custodianId: string | null): PassphraseUnlock {
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const unlock = async (): Promise<Custodian | null> => {
    if (custodianId === null) return null;
    if (passphrase === '') {
      setError({ code: 'INVALID_PAYLOAD', message: 'Type the passphrase first.' });
      return null;
    }
    setWorking(true);
    setError(null);
    const result = await attempt(() => halfkey().custodianUnlock({ custodianId, passphrase }));
    setWorking(false);
    setPassphrase('');
    setError(result.ok ? null : result.error);
    return result.ok ? result.value : null;
  };
  const reset = (): void => {
    setPassphrase('');
    setError(null);
  };
  return { passphrase, setPassphrase, error, working, unlock, reset };
}
