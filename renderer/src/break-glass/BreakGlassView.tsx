import { useCallback, useState, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import { usePolled } from '../api/usePolled';
import { ErrorNotice } from '../components/ErrorNotice';
import type { Session } from '../session/session';
import { IncidentForm } from './IncidentForm';
import { RunbookForm } from './RunbookForm';
import { SessionSteps } from './SessionSteps';

const POLL_MS = 3000;

/**
 * The break-glass screen: sessions still open or awaiting rotation (read every 3 s, so one that
 * survived a restart shows at once), each walked step by step, and the incident form to open one.
 */
export function BreakGlassView({ session }: { readonly session: Session }): ReactElement {
  const readSessions = useCallback(() => halfkey().breakGlassList({}), []);
  const sessions = usePolled(readSessions, 'break-glass', POLL_MS);
  const [showAll, setShowAll] = useState(false);
  const list = sessions.value?.sessions ?? [];
  const actor = session.actor;
  const open = list.some((s) => s.state !== 'closed');
  return (
    <>
      <section className="panel" aria-labelledby="break-glass-heading">
        <h2 id="break-glass-heading">Break-glass</h2>
        <p className="muted">
          The emergency root sign-in, on this workstation, with no server: two people, one half each, every step in the journal. The runbook
          is docs/break-glass.md; print it for an account below.
        </p>
        <ErrorNotice error={sessions.error} />
        {list.length === 0 && sessions.error === null && <p role="status">No break-glass session is open or awaiting rotation.</p>}
      </section>
      {list.map((s) => (
        <SessionSteps key={s.sessionId} session={s} actor={actor} custodians={session.custodians} onChanged={sessions.refresh} />
      ))}
      {actor === null ? (
        <p className="notice">Unlock a custodian (Custodians) to open a break-glass session.</p>
      ) : (
        (!open || showAll) && <IncidentForm actor={actor} onOpened={() => void sessions.refresh()} />
      )}
      {open && actor !== null && !showAll && (
        <button type="button" onClick={() => setShowAll(true)}>
          Open another session (another account)
        </button>
      )}
      <RunbookForm />
    </>
  );
}
