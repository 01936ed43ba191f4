import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { ROLE_LABELS, type Session } from '../session/session';
import { EnrolForm } from './EnrolForm';
import { RevokeForm } from './RevokeForm';

/** Passphrase prompt for one custodian; wrong passphrases and back-off come back as the vault's message. */
function UnlockForm({ custodian, onUnlocked }: { readonly custodian: Custodian; readonly onUnlocked: () => Promise<void> }): ReactElement {
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setWorking(true);
    setError(null);
    const result = await attempt(() => halfkey().custodianUnlock({ custodianId: custodian.id, passphrase }));
    setWorking(false);
    setPassphrase('');
    if (!result.ok) {
      setError(result.error);
      return;
    }
    await onUnlocked();
  };
  return (
    <form noValidate className="form inline-form" aria-label={`Unlock ${custodian.name}`} onSubmit={(event) => void submit(event)}>
      <Field label={`Passphrase for ${custodian.name}`} type="password" value={passphrase} onChange={setPassphrase} required />
      <button type="submit" className="primary" disabled={working}>
        {working ? 'Unlocking…' : 'Unlock'}
      </button>
      <ErrorNotice error={error} />
    </form>
  );
}

function CustodianRow({ custodian, session }: { readonly custodian: Custodian; readonly session: Session }): ReactElement {
  const [unlocking, setUnlocking] = useState(false);
  const [revoking, setRevoking] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const acting = session.actor?.id === custodian.id;
  const admin = session.actor?.role === 'admin' && !acting && !custodian.revoked ? session.actor : null;
  const lock = async (): Promise<void> => {
    const result = await attempt(() => halfkey().custodianLock({ custodianId: custodian.id }));
    setError(result.ok ? null : result.error);
    if (acting) session.setActor(null);
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
          {custodian.unlocked ? 'Unlocked' : 'Locked'}
        </p>
        <div className="actions">
          {custodian.unlocked ? (
            <>
              <button type="button" aria-pressed={acting} onClick={() => session.setActor(acting ? null : custodian.id)}>
                {acting ? `Acting as ${custodian.name}` : `Act as ${custodian.name}`}
              </button>
              <button type="button" onClick={() => void lock()}>
                Lock {custodian.name}
              </button>
            </>
          ) : (
            !custodian.revoked && (
              <button type="button" aria-expanded={unlocking} onClick={() => setUnlocking(!unlocking)}>
                Unlock {custodian.name}…
              </button>
            )
          )}
          {admin !== null && (
            <button type="button" className="danger" aria-expanded={revoking} onClick={() => setRevoking(!revoking)}>
              Revoke {custodian.name}…
            </button>
          )}
        </div>
      </div>
      {revoking && admin !== null && (
        <RevokeForm
          admin={admin}
          custodian={custodian}
          onRevoked={async () => {
            setRevoking(false);
            await session.refresh();
          }}
        />
      )}
      {unlocking && !custodian.unlocked && (
        <UnlockForm
          custodian={custodian}
          onUnlocked={async () => {
            setUnlocking(false);
            session.setActor(custodian.id);
            await session.refresh();
          }}
        />
      )}
      <ErrorNotice error={error} />
    </li>
  );
}

/** Custodians: unlock with a passphrase, pick who acts, lock; an unlocked admin enrols new custodians. */
export function CustodiansView({ session }: { readonly session: Session }): ReactElement {
  const [error, setError] = useState<ApiError | null>(null);
  const lockAll = async (): Promise<void> => {
    const result = await attempt(() => halfkey().vaultLock({}));
    setError(result.ok ? null : result.error);
    session.setActor(null);
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
        <p className="muted">Unlock yourself with your passphrase, then act as yourself. Lock when you step away.</p>
        <ErrorNotice error={session.listError ?? error} />
        <ul className="custodian-list">
          {session.custodians.map((c) => (
            <CustodianRow key={c.id} custodian={c} session={session} />
          ))}
        </ul>
      </section>
      {session.actor?.role === 'admin' && <EnrolForm admin={session.actor} onEnrolled={session.refresh} />}
    </>
  );
}
