import { useCallback, useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Checkout, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import { CheckoutCard } from './CheckoutCard';
import { RotateForm } from './RotateForm';

const LEASES = [
  { seconds: 15 * 60, label: '15 minutes' },
  { seconds: 60 * 60, label: '1 hour' },
  { seconds: 4 * 3600, label: '4 hours' },
  { seconds: 24 * 3600, label: '1 day' },
] as const;

/**
 * Checkout of the acting custodian's half of this account: reason (required), ticket, lease;
 * then the open checkouts of this session, and rotation.
 */
export function CheckoutPanel(props: {
  readonly actor: Custodian;
  readonly account: Account;
  readonly onChanged: () => Promise<void>;
}): ReactElement {
  const item = props.actor.role === 'mfa-custodian' ? 'mfa' : 'password';
  const mfa = props.account.mfa;
  const token =
    item === 'mfa' && mfa !== null && mfa.kind === 'hardware-token'
      ? { serial: mfa.tokenSerial ?? '', location: mfa.tokenLocation ?? '' }
      : null;
  const [reason, setReason] = useState('');
  const [ticket, setTicket] = useState('');
  const [lease, setLease] = useState<number>(LEASES[1].seconds);
  const [error, setError] = useState<ApiError | null>(null);
  const [open, setOpen] = useState<readonly Checkout[]>([]);
  const [rotationPrompt, setRotationPrompt] = useState(false);
  const presence = usePresenceGate(props.actor);
  const actorId = props.actor.id;
  const accountId = props.account.accountId;
  // Open checkouts come from the vault, so they survive navigation and reloads; tokens are tracked elsewhere.
  const loadOpen = useCallback(async () => {
    const result = await attempt(() => halfkey().custodyCheckoutList({ accountId, custodianId: actorId, open: true }));
    if (result.ok) setOpen(result.value.checkouts);
    else setError(result.error);
  }, [accountId, actorId]);
  useEffect(() => {
    void loadOpen();
  }, [loadOpen]);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (reason.trim() === '') {
      setError({ code: 'INVALID_PAYLOAD', message: 'A reason is required: say why you need the half (and the ticket, if there is one).' });
      return;
    }
    const trimmedTicket = ticket.trim();
    const request = {
      by: props.actor.id,
      accountId: props.account.accountId,
      reason,
      leaseSeconds: lease,
      ...(trimmedTicket === '' ? {} : { ticket: trimmedTicket }),
    };
    const result = await presence.attempt<unknown>(() =>
      token === null ? halfkey().custodyCheckout({ ...request, item }) : halfkey().custodyTokenCheckout(request),
    );
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    setReason('');
    setTicket('');
    await loadOpen();
    await props.onChanged();
  };

  const closed = async (checkoutId: string, rotationDue: boolean): Promise<void> => {
    setOpen(open.filter((c) => c.checkoutId !== checkoutId));
    setRotationPrompt(rotationDue);
    await loadOpen();
    await props.onChanged();
  };

  return (
    <>
      <section className="panel" aria-labelledby="checkout-heading">
        <h2 id="checkout-heading">Check out the {item === 'password' ? 'password' : token === null ? 'MFA' : 'MFA hardware token'} half</h2>
        {token !== null && (
          <p className="muted">
            Token {token.serial}, kept at {token.location}. Only one person holds it at a time.
          </p>
        )}
        <form noValidate className="form" onSubmit={(event) => void submit(event)}>
          <Field label="Reason" value={reason} onChange={setReason} required hint="Recorded in the journal, signed by you." />
          <Field label="Ticket (optional)" value={ticket} onChange={setTicket} />
          <div className="field">
            <label htmlFor="checkout-lease">Lease</label>
            <select id="checkout-lease" value={lease} onChange={(event) => setLease(Number(event.target.value))}>
              {LEASES.map((l) => (
                <option key={l.seconds} value={l.seconds}>
                  {l.label}
                </option>
              ))}
            </select>
          </div>
          <ErrorNotice error={error} />
          <button type="submit" className="primary">
            Check out
          </button>
        </form>
        <PresencePrompt gate={presence} />
        {rotationPrompt && (
          <p className="notice" role="status">
            Rotation is due for this password: rotate it below and set the new password at AWS. Nobody can check it out again until the
            rotation is confirmed and a second custodian has approved it.
          </p>
        )}
      </section>
      {open.map((c) => (
        <CheckoutCard key={c.checkoutId} checkout={c} actor={props.actor} token={c.hardwareToken ? token : null} onClosed={closed} />
      ))}
      {/* A hardware token is replaced, not rotated in software. Rotation is two-phase: see RotateForm. */}
      {token === null && (
        <RotateForm
          actor={props.actor}
          account={props.account}
          item={item}
          onChanged={async () => {
            setRotationPrompt(false);
            await props.onChanged();
          }}
        />
      )}
    </>
  );
}
