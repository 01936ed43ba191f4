import { useCallback, useEffect, useState, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import type { Session } from '../session/session';
import { ReviewItem } from './ReviewItem';

type Incidents = ResponseOf<'review:incidents'>;
type Alarms = ResponseOf<'review:alarms'>;

/**
 * The reviewer's screen: the server's open incidents (break-glass sessions) and alarms, each with
 * the signed entries behind it and a verdict from the checks made on this machine under the server
 * key pinned at enrolment, and the form that acknowledges one with a review signed by the
 * reviewer's key. Read when the screen opens and on Refresh only: a poll would keep the reviewer's
 * session from ever idling out.
 */
export function ReviewView({ session }: { readonly session: Session }): ReactElement {
  const actor = session.actor;
  const reviewer = actor !== null && actor.role === 'reviewer' ? actor : null;
  const [state, setState] = useState<'open' | 'all'>('open');
  const [incidents, setIncidents] = useState<Incidents | null>(null);
  const [alarms, setAlarms] = useState<Alarms | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const by = reviewer?.id ?? null;
  const load = useCallback(async () => {
    if (by === null) return;
    setLoading(true);
    const [i, a] = await Promise.all([
      attempt(() => halfkey().reviewIncidents({ by, state })),
      attempt(() => halfkey().reviewAlarms({ by, state })),
    ]);
    setLoading(false);
    setIncidents(i.ok ? i.value : null);
    setAlarms(a.ok ? a.value : null);
    setError(!i.ok ? i.error : !a.ok ? a.error : null);
  }, [by, state]);
  useEffect(() => {
    void load();
  }, [load]);
  if (reviewer === null) {
    return (
      <section className="panel" aria-labelledby="review-heading">
        <h2 id="review-heading">Review</h2>
        <p className="notice">
          The review queue is for a custodian with the reviewer role whose key the server&apos;s operator granted. Unlock a reviewer
          (Custodians) to work it.
        </p>
      </section>
    );
  }
  const head = incidents ?? alarms;
  return (
    <>
      <section className="panel" aria-labelledby="review-heading">
        <h2 id="review-heading">Review</h2>
        <p className="muted">
          Incidents and alarms from the central server, acting as {reviewer.name}. Everything shown is checked on this machine: the
          server&apos;s signed tree head, each entry&apos;s hash, signatures and receipt, and each acknowledgement.
        </p>
        <div className="field">
          <label htmlFor="review-state">Show</label>
          <select id="review-state" value={state} onChange={(event) => setState(event.target.value as 'open' | 'all')}>
            <option value="open">Open items (the queue)</option>
            <option value="all">All items, acknowledged too</option>
          </select>
        </div>
        <button type="button" onClick={() => void load()} disabled={loading}>
          Refresh
        </button>
        {loading && <p role="status">Reading the review queue from the server…</p>}
        {head !== null && (
          <p className="muted">
            Server key fingerprint {head.serverFingerprint}
            {head.treeHead !== null && `; log of ${head.treeHead.size} leaves`}.
          </p>
        )}
        {head?.headProblem != null && (
          <p role="alert" className="verify verify-failed">
            The server&apos;s tree head does not verify: {head.headProblem}. Nothing below can be trusted.
          </p>
        )}
        <ErrorNotice error={error} />
      </section>
      <section className="panel" aria-labelledby="review-incidents-heading">
        <h3 id="review-incidents-heading">Incidents</h3>
        {incidents !== null && incidents.incidents.length === 0 && <p role="status">No {state === 'open' ? 'open ' : ''}incidents.</p>}
        <ul className="review-list" aria-label="Incidents">
          {(incidents?.incidents ?? []).map((item) => (
            <ReviewItem key={item.id} kind="incident" item={item} by={reviewer.id} custodians={session.custodians} onChanged={load} />
          ))}
        </ul>
      </section>
      <section className="panel" aria-labelledby="review-alarms-heading">
        <h3 id="review-alarms-heading">Alarms</h3>
        {alarms !== null && alarms.alarms.length === 0 && <p role="status">No {state === 'open' ? 'open ' : ''}alarms.</p>}
        <ul className="review-list" aria-label="Alarms">
          {(alarms?.alarms ?? []).map((item) => (
            <ReviewItem key={item.id} kind="alarm" item={item} by={reviewer.id} custodians={session.custodians} onChanged={load} />
          ))}
        </ul>
      </section>
    </>
  );
}
