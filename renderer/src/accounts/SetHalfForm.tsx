import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

/**
 * The custodian holding a half types its secret: the password, or the MFA seed as an otpauth://
 * URI or base32. The field is cleared as soon as the call returns; the secret is never shown back.
 */
export function SetHalfForm(props: {
  readonly actor: Custodian;
  readonly account: Account;
  readonly onSet: (message: string) => Promise<void>;
}): ReactElement {
  const item = props.actor.role === 'mfa-custodian' ? 'mfa' : 'password';
  const [secret, setSecret] = useState('');
  // An MFA half is a virtual MFA seed or a physical token (serial and where it is kept; no secret).
  const [hardware, setHardware] = useState(false);
  const [serial, setSerial] = useState('');
  const [location, setLocation] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const value = secret;
    setSecret('');
    const payload =
      item === 'password'
        ? ({ kind: 'password', password: value } as const)
        : hardware
          ? ({ kind: 'hardware-token', serial, location } as const)
          : ({ kind: 'totp', seed: value } as const);
    const result = await attempt(() =>
      halfkey().custodyHalfSet({ by: props.actor.id, accountId: props.account.accountId, item, secret: payload }),
    );
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    await props.onSet(`The ${item} half is set (generation ${result.value.generation}).`);
  };
  const label = item === 'password' ? 'Root password' : 'MFA seed (otpauth:// URI or base32)';
  return (
    <section className="panel" aria-labelledby="set-half-heading">
      <h2 id="set-half-heading">Set the {item === 'password' ? 'password' : 'MFA'} half</h2>
      <p className="muted">It is sealed to every custodian assigned this half. Halfkey never shows it back here.</p>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        {item === 'mfa' && (
          <fieldset className="choice">
            <legend>Kind of MFA</legend>
            <div className="check">
              <input id="half-kind-totp" type="radio" name="half-kind" checked={!hardware} onChange={() => setHardware(false)} />
              <label htmlFor="half-kind-totp">Virtual MFA (TOTP seed)</label>
            </div>
            <div className="check">
              <input id="half-kind-token" type="radio" name="half-kind" checked={hardware} onChange={() => setHardware(true)} />
              <label htmlFor="half-kind-token">Hardware token</label>
            </div>
          </fieldset>
        )}
        {hardware && item === 'mfa' ? (
          <>
            <Field label="Token serial number" value={serial} onChange={setSerial} required />
            <Field label="Where the token is kept" value={location} onChange={setLocation} required hint="For example: safe 2, shelf B." />
          </>
        ) : (
          <Field label={label} type="password" value={secret} onChange={setSecret} required />
        )}
        <ErrorNotice error={error} />
        <button type="submit" className="primary">
          Set {item} half
        </button>
      </form>
    </section>
  );
}
