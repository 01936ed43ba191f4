import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { ROLE_LABELS, type Session } from '../session/session';
import { usePassphraseUnlock } from '../session/usePassphraseUnlock';
import { ChangeCustodianForm } from './ChangeCustodianForm';
import { EnrolForm } from './EnrolForm';
import { RevokeForm } from './RevokeForm';

/**
 * Passphrase prompt for one custodian: unlocking makes them the one acting and locks whoever acted
 * before (one actor at a time, decided by the main process). Wrong passphrases and back-off come
 * back as the vault's message; the field is cleared after every attempt.
 */
function UnlockForm(props: {
  readonly custodian: Custodian;
  readonly actor: Custodian | null;
  readonly onUnlocked: (previous: Custodian | null) => Promise<void>;
}): ReactElement {
  const { custodian, actor } = props;
  const entry = usePassphraseUnlock(custodian.id);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    // Who acted before this unlock: the vault locks them, and the page says so.
    const previous = actor;
    if ((await entry.unlock()) !== null) await props.onUnlocked(previous);
  };
  return (
    <form noValidate className="form inline-form" aria-label={`Unlock ${custodian.name}`} onSubmit={(event) => void submit(event)}>
      <Field
        label={`Passphrase for ${custodian.name}`}
        type="password"
        value={entry.passphrase}
        onChange={entry.setPassphrase}
        required
        hint={
          actor === null
            ? `${custodian.name} types it and becomes the acting custodian.`
            : `One custodian acts at a time: unlocking ${custodian.name} locks ${actor.name}.`
        }
      />
      <button type="submit" className="primary" disabled={entry.working}>
        {entry.working ? 'Unlocking…' : 'Unlock'}
      </button>
      <ErrorNotice error={entry.error} />
    </form>
  );
}

function CustodianRow(props: {
  readonly custodian: Custodian;
  readonly session: Session;
  readonly onOutcome: (outcome: string) => void;
}): ReactElement {
  const { custodian, session } = props;
  const [unlocking, setUnlocking] = useState(false);
  const [revoking, setRevoking] = useState(false);
  const [changing, setChanging] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const acting = session.actor?.id === custodian.id;
  const admin = session.actor?.role === 'admin' && !acting && !custodian.revoked ? session.actor : null;
  const lock = async (): Promise<void> => {
    const result = await attempt(() => halfkey().custodianLock({ custodianId: custodian.id }));
    setError(result.ok ? null : result.error);
    if (result.ok) props.onOutcome(`${custodian.name} is locked. Nobody is acting.`);
    await session.refresh();
  };
  return (
    <li className={`custodian ${acting ? 'custodian-acting' : ''}`}>
      <div className="custodian-head">
        <div>
          <p className="custodian-name">{custodian.name}</p>
          <p className="muted">
            {ROLE_LABELS[custodian.role]} · {custodian.organisation}
            {custodian.revoked ? ' · revoked' : ''}
          </p>
        </div>
        <p className={`lock-state ${custodian.unlocked ? 'lock-state-unlocked' : 'lock-state-locked'}`}>
          {acting ? 'Acting' : custodian.unlocked ? 'Unlocked' : 'Locked'}
        </p>
        <div className="actions">
          {custodian.unlocked ? (
            <button type="button" onClick={() => void lock()}>
              Lock {custodian.name}
            </button>
          ) : (
            !custodian.revoked && (
              <button type="button" aria-expanded={unlocking} onClick={() => setUnlocking(!unlocking)}>
                Unlock {custodian.name}…
              </button>
            )
          )}
          {admin !== null && (
            <button type="button" aria-expanded={changing} onClick={() => setChanging(!changing)}>
              Change role or organisation of {custodian.name}…
            </button>
          )}
          {admin !== null && (
            <button type="button" className="danger" aria-expanded={revoking} onClick={() => setRevoking(!revoking)}>
              Revoke {custodian.name}…
            </button>
          )}
        </div>
      </div>
      {changing && admin !== null && (
        <ChangeCustodianForm
          admin={admin}
          custodian={custodian}
          onProposed={async (outcome) => {
            setChanging(false);
            props.onOutcome(outcome);
            await session.refresh();
          }}
        />
      )}
      {revoking && admin !== null && (
        <RevokeForm
          admin={admin}
          custodian={custodian}
          onProposed={async (outcome) => {
            setRevoking(false);
            props.onOutcome(outcome);
            await session.refresh();
          }}
        />
      )}
      {unlocking && !custodian.unlocked && (
        <UnlockForm
          custodian={custodian}
          actor={session.actor}
          onUnlocked={async (previous) => {
            setUnlocking(false);
            props.onOutcome(
              `${custodian.name} is acting now.${previous === null || previous.id === custodian.id ? '' : ` ${previous.name} was locked.`}`,
            );
            await session.refresh();
          }}
        />
      )}
      <ErrorNotice error={error} />
    </li>
  );
}

/**
 * Custodians: one acts at a time, and becoming the actor takes that custodian's passphrase (the
 * previous actor is locked); lock one or everyone; an acting admin enrols and proposes revocations and
 * role or organisation changes.
 */
export function CustodiansView({ session }: { readonly session: Session }): ReactElement {
  const [error, setError] = useState<ApiError | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const lockAll = async (): Promise<void> => {
    const result = await attempt(() => halfkey().vaultLock({}));
    setError(result.ok ? null : result.error);
    setOutcome(result.ok ? 'Everyone is locked.' : null);
    await session.refresh();
  };
  return (
    <>
      <section className="panel" aria-labelledby="custodians-heading">
        <div className="panel-head">
          <h2 id="custodians-heading">Custodians</h2>
          <button type="button" className="danger" onClick={() => void lockAll()}>
            Lock everyone
          </button>
        </div>
        <p className="muted">
          One custodian acts at a time: unlock yourself with your passphrase to act, which locks whoever acted before. Lock when you step
          away.
        </p>
        <ErrorNotice error={session.listError ?? error} />
        <p role="status" className="done">
          {outcome}
        </p>
        <ul className="custodian-list">
          {session.custodians.map((c) => (
            <CustodianRow key={c.id} custodian={c} session={session} onOutcome={setOutcome} />
          ))}
        </ul>
      </section>
      {session.actor?.role === 'admin' && (
        <EnrolForm admin={session.actor} founding={session.custodians.length < 2} onEnrolled={session.refresh} />
      )}
    </>
  );
}
