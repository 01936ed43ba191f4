import { useCallback, useEffect, useState, type FormEvent, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Facts } from '../components/Facts';
import { Field } from '../components/Field';

type SyncStatus = ResponseOf<'sync:status'>;

const STATES: Readonly<Record<SyncStatus['state'], string>> = {
  'not-enrolled': 'Not enrolled with a journal server',
  idle: 'Up to date',
  syncing: 'Syncing',
  offline: 'Server unreachable: entries wait locally',
  error: 'Sync error',
};

const when = (epochMs: number | null): string => (epochMs === null ? 'never' : new Date(epochMs).toLocaleString());

/** Sync: the queue's state, last error and pinned server fingerprint; enrolment; an immediate round. */
export function SyncView(): ReactElement {
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [url, setUrl] = useState('');
  // The enrolment token is single-use and short-lived; it is cleared as soon as it is sent.
  const [token, setToken] = useState('');
  const [enrolFingerprint, setEnrolFingerprint] = useState('');
  // Shown in the enrolment form itself: the 3-second status poll resets the panel's notice, and a
  // refused enrolment must stay on screen until the person acts on it.
  const [enrolError, setEnrolError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const [newFingerprint, setNewFingerprint] = useState('');
  const settle = (result: Awaited<ReturnType<typeof readStatus>>): void => {
    if (result.ok) setStatus(result.value);
    setError(result.ok ? null : result.error);
  };
  const refresh = useCallback(async () => settle(await readStatus()), []);
  useEffect(() => {
    void refresh();
    const timer = window.setInterval(() => void refresh(), 3000);
    return () => window.clearInterval(timer);
  }, [refresh]);

  const enrol = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setWorking(true);
    const sent = token;
    setToken('');
    // Optional: when given, the main process checks the server's key before the token leaves this device.
    const fingerprint = enrolFingerprint.trim();
    const result = await attempt(() =>
      halfkey().syncEnrol({ url: url.trim(), token: sent.trim(), ...(fingerprint === '' ? {} : { fingerprint }) }),
    );
    if (result.ok) {
      setStatus(result.value);
      setEnrolFingerprint('');
    }
    setEnrolError(result.ok ? null : result.error);
    setWorking(false);
  };
  const repin = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setWorking(true);
    const result = await attempt(() => halfkey().syncRepin({ fingerprint: newFingerprint.trim() }));
    if (result.ok) setNewFingerprint('');
    settle(result);
    setWorking(false);
  };
  const now = async (): Promise<void> => {
    setWorking(true);
    settle(await attempt(() => halfkey().syncNow({})));
    setWorking(false);
  };

  const enrolled = status !== null && status.state !== 'not-enrolled';
  return (
    <>
      <section className="panel" aria-labelledby="sync-heading">
        <div className="panel-head">
          <h2 id="sync-heading">Sync</h2>
          {enrolled && (
            <button type="button" className="primary" disabled={working} onClick={() => void now()}>
              {working ? 'Syncing…' : 'Sync now'}
            </button>
          )}
        </div>
        <ErrorNotice error={error} />
        {status === null ? (
          <p className="muted">Reading the sync state…</p>
        ) : (
          <div aria-live="polite">
            <p className={`sync-state sync-state-${status.state}`}>{STATES[status.state]}</p>
            <Facts
              items={[
                { label: 'Pending entries', value: status.pending },
                { label: 'Acknowledged up to', value: status.ackedSeq === null ? 'nothing yet' : `#${status.ackedSeq}`, mono: true },
                { label: 'Last success', value: when(status.lastSuccessAt) },
                { label: 'Next attempt', value: when(status.nextAttemptAt) },
                { label: 'Server log size', value: status.lastTreeSize ?? 'unknown' },
              ]}
            />
            <Facts
              items={[
                { label: 'Server', value: status.serverUrl ?? 'none', mono: true },
                { label: 'Last error', value: status.lastError ?? 'none' },
              ]}
            />
            {status.serverLogInconsistency !== null && (
              <p className="status-error" role="alert">
                Server log inconsistent ({status.serverLogInconsistency.reason}, journal entry #{status.serverLogInconsistency.seq},{' '}
                {when(status.serverLogInconsistency.time)}): {status.serverLogInconsistency.message}. The journal records both tree heads
                and reviewers see it; ask the server operator whether the server was restored from a backup.
              </p>
            )}
            <div className="fingerprint-box">
              <p className="facts-label">Server fingerprint (compare it with the one your server operator gives you)</p>
              <p className="mono fingerprint">{status.serverFingerprint ?? 'no server pinned'}</p>
              {status.serverFingerprint !== null && <FingerprintQr fingerprint={status.serverFingerprint} />}
            </div>
          </div>
        )}
      </section>
      {enrolled && (
        <section className="panel" aria-labelledby="sync-repin-heading">
          <h2 id="sync-repin-heading">Server key rotated?</h2>
          <p className="muted">
            When the server operator rotates the server key, uploads stop until this vault pins the new one. Enter the new fingerprint
            exactly as the operator published it: the key is pinned only if the server presents a key with that fingerprint, and the change
            is written to the journal.
          </p>
          <form noValidate className="form" onSubmit={(event) => void repin(event)}>
            <Field
              label="New server fingerprint"
              value={newFingerprint}
              onChange={setNewFingerprint}
              required
              placeholder="0123 4567 89ab cdef 0123 4567 89ab cdef"
            />
            <button type="submit" className="primary" disabled={working}>
              {working ? 'Checking…' : 'Pin the new key'}
            </button>
          </form>
        </section>
      )}
      {status !== null && !enrolled && (
        <section className="panel" aria-labelledby="sync-enrol-heading">
          <h2 id="sync-enrol-heading">Enrol with a journal server</h2>
          <p className="muted">
            The server operator gives you its address and a one-time enrolment token, and publishes the server key's fingerprint. The server
            key is pinned at enrolment.
          </p>
          <ErrorNotice error={enrolError} />
          <form noValidate className="form" onSubmit={(event) => void enrol(event)}>
            <Field label="Server URL" type="url" value={url} onChange={setUrl} required placeholder="https://journal.example.com" />
            <Field label="Enrolment token" type="password" value={token} onChange={setToken} required />
            <Field
              label="Server fingerprint (from your administrator)"
              value={enrolFingerprint}
              onChange={setEnrolFingerprint}
              placeholder="0123 4567 89ab cdef 0123 4567 89ab cdef"
              hint="Optional. Enter it exactly as the operator published it (spaces allowed): the token is sent, and the key pinned, only if the server presents a key with this fingerprint."
            />
            <button type="submit" className="primary" disabled={working}>
              {working ? 'Enrolling…' : 'Enrol'}
            </button>
          </form>
        </section>
      )}
    </>
  );
}

/** The pinned fingerprint as a QR code (drawn by the main process), for a phone-side comparison. */
function FingerprintQr(props: { readonly fingerprint: string }): ReactElement | null {
  const [qr, setQr] = useState<{ fingerprint: string; dataUrl: string } | null>(null);
  useEffect(() => {
    let live = true;
    void attempt(() => halfkey().syncFingerprintQr({})).then((result) => {
      if (live && result.ok && result.value.fingerprint !== null && result.value.qrDataUrl !== null) {
        setQr({ fingerprint: result.value.fingerprint, dataUrl: result.value.qrDataUrl });
      }
    });
    return () => {
      live = false;
    };
  }, [props.fingerprint]);
  if (qr === null || qr.fingerprint !== props.fingerprint) return null;
  return (
    <img className="fingerprint-qr" src={qr.dataUrl} alt={`QR code of the server fingerprint ${qr.fingerprint}`} width={164} height={164} />
  );
}

function readStatus(): ReturnType<typeof attempt<SyncStatus>> {
  return attempt(() => halfkey().syncStatus({}));
}
