import { useCallback, useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, ApiResult, Custodian } from '../api/types';
import { usePolled } from '../api/usePolled';
import { TotpCode } from '../checkout/TotpCode';
import { ErrorNotice } from '../components/ErrorNotice';
import { Facts } from '../components/Facts';
import { Field } from '../components/Field';
import { RevealedSecret } from '../components/RevealedSecret';
import { useCountdown } from '../components/useCountdown';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import { AfterSignIn } from './AfterSignIn';
import { HandOver } from './HandOver';
import type { BreakGlassSession } from './types';

const ROTATION_WORDS = {
  'not-needed': 'not used, nothing to rotate',
  due: 'rotation due: rotate it (Accounts → the account → Rotate)',
  pending: 'rotated, waiting for the confirmation (a second custodian approves it under Proposals)',
  done: 'rotated and confirmed',
} as const;

/** How long a half's break-glass checkout stays open. */
function LeaseLeft({ label, until }: { readonly label: string; readonly until: number }): ReactElement {
  const left = useCountdown(until, () => {}) ?? 0;
  return (
    <p className="countdown" role="timer" aria-live="off">
      {label} checkout open for <span className="countdown-seconds">{Math.floor(left / 60)}</span> min{' '}
      <span className="countdown-seconds">{left % 60}</span> s more
    </p>
  );
}

/** The outcome form: resolved once both halves were used, aborted at any point. */
function CloseForm({
  session,
  actor,
  onChanged,
}: {
  readonly session: BreakGlassSession;
  readonly actor: Custodian;
  readonly onChanged: () => Promise<void>;
}): ReactElement {
  const [outcome, setOutcome] = useState<'resolved' | 'aborted'>(session.state === 'mfa-used' ? 'resolved' : 'aborted');
  const [note, setNote] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const result = await halfkey().breakGlassClose({ by: actor.id, sessionId: session.sessionId, outcome, note });
    setError(result.ok ? null : result.error);
    if (result.ok) await onChanged();
  };
  return (
    <form noValidate className="form" aria-label="Close the session" onSubmit={(event) => void submit(event)}>
      <h3>Close the session</h3>
      <div className="field">
        <label htmlFor="break-glass-outcome">Outcome</label>
        <select
          id="break-glass-outcome"
          value={outcome}
          onChange={(event) => setOutcome(event.target.value === 'resolved' ? 'resolved' : 'aborted')}
        >
          <option value="resolved" disabled={session.state !== 'mfa-used'}>
            resolved (signed in, fixed, signed out)
          </option>
          <option value="aborted">aborted</option>
        </select>
      </div>
      <Field
        label="What was done"
        value={note}
        onChange={setNote}
        required
        hint="For the reviewer: what you changed at AWS, or why you stopped."
      />
      <ErrorNotice error={error} />
      <button type="submit">Close with this outcome</button>
    </form>
  );
}

/**
 * One session, step by step: who acts now and what they do. The password goes to its custodian
 * and is shown for a limited time; the codes go to the MFA custodian, live; each step needs its
 * own person's passphrase (the presence prompt asks again when the minute has passed).
 */
export function SessionSteps(props: {
  readonly session: BreakGlassSession;
  readonly actor: Custodian | null;
  readonly custodians: readonly Custodian[];
  readonly onChanged: () => Promise<void>;
}): ReactElement {
  const { session, actor, custodians } = props;
  const accountId = session.accountId;
  const readAccount = useCallback(() => halfkey().custodyAccountList({ search: accountId, limit: 1 }), [accountId]);
  const account = usePolled(readAccount, accountId, 10_000).value?.accounts[0] ?? null;
  const holders = (item: 'password' | 'mfa') =>
    custodians.filter((c) => !c.revoked && (account?.assignments ?? []).some((a) => a.item === item && a.custodianId === c.id));
  const [shown, setShown] = useState<{ readonly password: string; readonly expiresAt: number } | null>(null);
  const [codesFor, setCodesFor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const presence = usePresenceGate(actor);
  const run = async <T,>(call: () => Promise<ApiResult<T>>): Promise<T | null> => {
    const result = await presence.attempt(call);
    setError(result.ok ? null : result.error);
    await props.onChanged();
    return result.ok ? result.value : null;
  };
  const by = actor?.id ?? '';
  const sessionId = session.sessionId;
  const usePassword = async (): Promise<void> => {
    const used = await run(() => halfkey().breakGlassUsePassword({ by, sessionId, seconds: 60 }));
    if (used !== null) setShown({ password: used.password, expiresAt: used.expiresAt });
  };
  const revealAgain = async (checkoutId: string): Promise<void> => {
    const again = await run(() => halfkey().custodyReveal({ by, checkoutId, seconds: 60 }));
    if (again !== null) setShown(again);
  };
  const useMfa = async (): Promise<void> => {
    const used = await run(() => halfkey().breakGlassUseMfa({ by, sessionId }));
    if (used !== null) setCodesFor(used.checkoutId);
  };
  const resume = () => void run(() => halfkey().breakGlassResume({ by, sessionId }));
  const isPasswordUser = actor !== null && session.password?.custodianId === actor.id;
  const isMfaUser = actor !== null && session.mfa?.custodianId === actor.id;
  const holdsPassword = actor !== null && holders('password').some((c) => c.id === actor.id);
  const holdsMfa = actor !== null && holders('mfa').some((c) => c.id === actor.id);
  const participants = [...holders('password'), ...holders('mfa')];
  const mfaCheckout = session.mfa?.checkoutOpen === true ? session.mfa.checkoutId : null;

  return (
    <section className="panel" aria-labelledby={`break-glass-${sessionId}`}>
      <h3 id={`break-glass-${sessionId}`}>
        Break-glass {session.reference}: account {accountId} ({session.alias})
      </h3>
      <Facts
        items={[
          { label: 'Severity', value: session.severity },
          { label: 'Why', value: session.reason },
          { label: 'Opened', value: `${new Date(session.openedAt).toLocaleString()} by ${session.openedByName}` },
          { label: 'Step', value: session.state },
          { label: 'Acting now', value: actor === null ? 'nobody (locked)' : actor.name },
          { label: 'Session', value: sessionId, mono: true },
        ]}
      />
      {session.password?.checkoutOpen === true && <LeaseLeft label="Password half" until={session.password.leaseUntil} />}
      {session.mfa?.checkoutOpen === true && <LeaseLeft label="MFA half" until={session.mfa.leaseUntil} />}

      {session.next === 'resume' && (
        <div className="notice" role="status">
          <p>
            Halfkey stopped during this session (at {new Date(session.interruptedAt ?? 0).toLocaleString()}). Nothing was lost: the steps
            taken so far stand. A custodian of this account resumes it, or closes it below.
          </p>
          {actor !== null && participants.some((c) => c.id === actor.id) ? (
            <button type="button" className="primary" onClick={resume}>
              Resume as {actor.name}
            </button>
          ) : (
            <HandOver who={participants} step="resume the session" />
          )}
        </div>
      )}

      {session.next === 'use-password' && (
        <>
          <h3>Step 1: the password custodian</h3>
          {holdsPassword ? (
            <>
              <p>{actor?.name}: the root password is shown to you alone. Type it at the AWS root sign-in page with the root e-mail.</p>
              <button type="button" className="primary" onClick={() => void usePassword()}>
                Use the password half
              </button>
            </>
          ) : (
            <HandOver who={holders('password')} step="the password half" />
          )}
        </>
      )}

      {shown !== null && (
        <RevealedSecret label="Root password" secret={shown.password} expiresAt={shown.expiresAt} onHide={() => setShown(null)} />
      )}
      {shown === null && isPasswordUser && session.password?.checkoutOpen === true && session.state !== 'closed' && (
        <button type="button" onClick={() => void revealAgain(session.password?.checkoutId ?? '')}>
          Show the password again
        </button>
      )}

      {session.next === 'use-mfa' && (
        <>
          <h3>Step 2: the MFA custodian (another person)</h3>
          {holdsMfa && !isPasswordUser ? (
            <>
              <p>{actor?.name}: the live codes are shown to you. Read the current one out for the MFA prompt at AWS.</p>
              <button type="button" className="primary" onClick={() => void useMfa()}>
                Use the MFA half
              </button>
            </>
          ) : (
            <HandOver who={holders('mfa').filter((c) => c.id !== session.password?.custodianId)} step="the MFA half" />
          )}
        </>
      )}

      {actor !== null &&
        isMfaUser &&
        mfaCheckout !== null &&
        session.state !== 'closed' &&
        (codesFor === mfaCheckout || session.state === 'mfa-used') && <TotpCode actor={actor} checkoutId={mfaCheckout} />}

      {session.state === 'mfa-used' && <AfterSignIn />}

      <PresencePrompt gate={presence} />
      <ErrorNotice error={error} />

      {session.state !== 'closed' && actor !== null && (
        <CloseForm key={session.state} session={session} actor={actor} onChanged={props.onChanged} />
      )}

      {session.rotation !== null && (
        <>
          <h3>Closed: {session.outcome}</h3>
          <p>{session.note}</p>
          <ul aria-label="Rotation">
            <li>Password half: {ROTATION_WORDS[session.rotation.password]}</li>
            <li>MFA half: {ROTATION_WORDS[session.rotation.mfa]}</li>
          </ul>
          <p role="status">
            {session.rotation.done
              ? `Rotation done${session.rotation.doneAt === null ? '' : ` at ${new Date(session.rotation.doneAt).toLocaleString()}`}: the session is complete.`
              : 'Rotation is due: until both halves are rotated and confirmed, the root credential used here is still the current one.'}
          </p>
        </>
      )}
    </section>
  );
}
