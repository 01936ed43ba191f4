import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { RevealedSecret } from '../components/RevealedSecret';

/**
 * Rotation by a custodian assigned the half. A password rotation generates the new password and
 * shows it once, for a limited time, to set at AWS; an MFA rotation takes the new seed.
 */
export function RotateForm(props: {
  readonly actor: Custodian;
  readonly account: Account;
  readonly item: 'password' | 'mfa';
  readonly onRotated: () => Promise<void>;
}): ReactElement {
  const [length, setLength] = useState('32');
  const [seed, setSeed] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [shown, setShown] = useState<{ readonly password: string; readonly expiresAt: number } | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setDone(null);
    const base = { by: props.actor.id, accountId: props.account.accountId, item: props.item, seconds: 60 };
    let request: Parameters<ReturnType<typeof halfkey>['custodyRotate']>[0];
    if (props.item === 'password') {
      const n = Number(length);
      if (!Number.isInteger(n) || n < 8 || n > 128) {
        setError({ code: 'INVALID_PAYLOAD', message: 'The password length must be a whole number from 8 to 128.' });
        return;
      }
      request = { ...base, password: { length: n } };
    } else {
      request = { ...base, seed };
      setSeed('');
    }
    const result = await attempt(() => halfkey().custodyRotate(request));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    const { password, expiresAt, generation, retiredGeneration } = result.value;
    setShown(password !== null && expiresAt !== null ? { password, expiresAt } : null);
    setDone(`Rotated: generation ${retiredGeneration} retired, generation ${generation} sealed to its custodians.`);
    await props.onRotated();
  };
  return (
    <section className="panel" aria-labelledby="rotate-heading">
      <h2 id="rotate-heading">Rotate the {props.item === 'password' ? 'password' : 'MFA'} half</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        {props.item === 'password' ? (
          <Field
            label="New password length"
            value={length}
            onChange={setLength}
            inputMode="numeric"
            hint="Halfkey generates it; set it at AWS while it is shown."
          />
        ) : (
          <Field label="New MFA seed (otpauth:// URI or base32)" type="password" value={seed} onChange={setSeed} required />
        )}
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary">
          Rotate
        </button>
      </form>
      {shown !== null && (
        <RevealedSecret label="New root password" secret={shown.password} expiresAt={shown.expiresAt} onHide={() => setShown(null)} />
      )}
    </section>
  );
}
