import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Checkout, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { RevealedSecret } from '../components/RevealedSecret';
import { TotpCode, groupCode } from './TotpCode';

const SHOW_FOR = [10, 30, 60] as const;

function PasswordUse({ checkout, actor }: { readonly checkout: Checkout; readonly actor: Custodian }): ReactElement {
  const [seconds, setSeconds] = useState<number>(30);
  // The password lives here only while it is on screen; onHide sets it back to null.
  const [shown, setShown] = useState<{ readonly password: string; readonly expiresAt: number } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const reveal = async (): Promise<void> => {
    const result = await attempt(() => halfkey().custodyReveal({ by: actor.id, checkoutId: checkout.checkoutId, seconds }));
    setError(result.ok ? null : result.error);
    setShown(result.ok ? result.value : null);
  };
  const copy = async (): Promise<void> => {
    const result = await attempt(() => halfkey().custodyCopy({ by: actor.id, checkoutId: checkout.checkoutId, seconds }));
    setError(result.ok ? null : result.error);
    setCopied(
      result.ok
        ? `Copied. The clipboard is cleared at ${new Date(result.value.clearsAt).toLocaleTimeString()} if it still holds the password.`
        : null,
    );
  };
  return (
    <>
      <div className="actions">
        <label htmlFor={`show-${checkout.checkoutId}`}>Show for</label>
        <select id={`show-${checkout.checkoutId}`} value={seconds} onChange={(event) => setSeconds(Number(event.target.value))}>
          {SHOW_FOR.map((s) => (
            <option key={s} value={s}>
              {s} seconds
            </option>
          ))}
        </select>
        <button type="button" className="primary" onClick={() => void reveal()} disabled={shown !== null}>
          Reveal password
        </button>
        <button type="button" onClick={() => void copy()}>
          Copy password
        </button>
      </div>
      {shown !== null && (
        <RevealedSecret label="Root password" secret={shown.password} expiresAt={shown.expiresAt} onHide={() => setShown(null)} />
      )}
      <p role="status" className="done">
        {copied}
      </p>
      <ErrorNotice error={error} />
    </>
  );
}

function MfaUse({ checkout, actor }: { readonly checkout: Checkout; readonly actor: Custodian }): ReactElement {
  const [showing, setShowing] = useState(false);
  const [pair, setPair] = useState<{ readonly first: string; readonly second: string } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const assist = async (): Promise<void> => {
    const result = await attempt(() => halfkey().custodyTotpEnrolmentCodes({ by: actor.id, checkoutId: checkout.checkoutId }));
    setError(result.ok ? null : result.error);
    setPair(result.ok ? result.value : null);
  };
  return (
    <>
      <div className="actions">
        <button type="button" className="primary" aria-pressed={showing} onClick={() => setShowing(!showing)}>
          {showing ? 'Stop showing codes' : 'Show current code'}
        </button>
        <button type="button" onClick={() => void assist()}>
          Enrolment assist: two consecutive codes
        </button>
      </div>
      {showing && <TotpCode by={actor.id} checkoutId={checkout.checkoutId} />}
      {pair !== null && (
        <div className="enrolment" role="group" aria-label="Enrolment codes">
          <p>Type both into the AWS console&apos;s virtual MFA registration, in this order:</p>
          <ol className="enrolment-codes">
            <li>
              <code>{groupCode(pair.first)}</code>
            </li>
            <li>
              <code>{groupCode(pair.second)}</code>
            </li>
          </ol>
          <button type="button" onClick={() => setPair(null)}>
            Hide enrolment codes
          </button>
        </div>
      )}
      <ErrorNotice error={error} />
    </>
  );
}

/** A hardware token checkout: the token's serial, and its check-in with where it was put back. */
function TokenCheckout(props: {
  readonly checkout: Checkout;
  readonly actor: Custodian;
  readonly token: { readonly serial: string; readonly location: string };
  readonly onClosed: (checkoutId: string, rotationDue: boolean) => Promise<void>;
}): ReactElement {
  const [location, setLocation] = useState(props.token.location);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await attempt(() =>
      halfkey().custodyTokenCheckin({ by: props.actor.id, checkoutId: props.checkout.checkoutId, location }),
    );
    if (!result.ok) {
      setError(result.error);
      return;
    }
    await props.onClosed(props.checkout.checkoutId, false);
  };
  return (
    <>
      <p>
        Take token <span className="mono">{props.token.serial}</span> from {props.token.location}.
      </p>
      <form noValidate className="form" aria-label="Return the token" onSubmit={(event) => void submit(event)}>
        <Field label="Put back at" value={location} onChange={setLocation} required />
        <ErrorNotice error={error} />
        <button type="submit">Check in the token</button>
      </form>
    </>
  );
}

/** One open checkout of the acting custodian: use the half (reveal/copy, codes, or the token) and check it in. */
export function CheckoutCard(props: {
  readonly checkout: Checkout;
  readonly actor: Custodian;
  readonly token: { readonly serial: string; readonly location: string } | null;
  readonly onClosed: (checkoutId: string, rotationDue: boolean) => Promise<void>;
}): ReactElement {
  const { checkout, actor } = props;
  const [error, setError] = useState<ApiError | null>(null);
  const checkin = async (): Promise<void> => {
    const result = await attempt(() => halfkey().custodyCheckin({ by: actor.id, checkoutId: checkout.checkoutId }));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    await props.onClosed(checkout.checkoutId, result.value.rotationDue);
  };
  const headingId = `checkout-${checkout.checkoutId}`;
  return (
    <section className="panel checkout" aria-labelledby={headingId}>
      <h2 id={headingId}>
        Checked out: {checkout.item === 'password' ? 'password' : props.token === null ? 'MFA' : 'MFA hardware token'} half of{' '}
        {checkout.accountId}
      </h2>
      <p className="muted">
        Reason: {checkout.reason}
        {checkout.ticket === null ? '' : ` · ticket ${checkout.ticket}`} · lease until {new Date(checkout.leaseUntil).toLocaleString()}
      </p>
      {props.token !== null ? (
        <TokenCheckout checkout={checkout} actor={actor} token={props.token} onClosed={props.onClosed} />
      ) : (
        <>
          {checkout.item === 'password' ? <PasswordUse checkout={checkout} actor={actor} /> : <MfaUse checkout={checkout} actor={actor} />}
          <div className="actions">
            <button type="button" onClick={() => void checkin()}>
              Check in
            </button>
          </div>
          <ErrorNotice error={error} />
        </>
      )}
    </section>
  );
}
