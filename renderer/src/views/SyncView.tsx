import type { ReactElement } from 'react';
import type { AppStatus } from '../halfkey';

const STATES: Readonly<Record<AppStatus['sync']['state'], string>> = {
  'not-enrolled': 'Not enrolled with a journal server',
  idle: 'Up to date',
  syncing: 'Syncing',
  offline: 'Server unreachable: entries wait locally',
  error: 'Sync error',
};

/** Sync: state, pending entries, last error and the pinned server fingerprint, from app:status. */
export function SyncView({ status }: { readonly status: AppStatus | null }): ReactElement {
  const sync = status?.sync ?? null;
  return (
    <section className="panel" aria-labelledby="sync-heading">
      <h2 id="sync-heading">Sync</h2>
      {sync === null ? (
        <p className="muted">Waiting for the sync state…</p>
      ) : (
        <dl className="facts">
          <div>
            <dt>State</dt>
            <dd>{STATES[sync.state]}</dd>
          </div>
          <div>
            <dt>Pending entries</dt>
            <dd>{sync.pending}</dd>
          </div>
          <div>
            <dt>Last error</dt>
            <dd>{sync.lastError ?? 'none'}</dd>
          </div>
          <div>
            <dt>Server fingerprint</dt>
            <dd className="mono fingerprint">{sync.serverFingerprint ?? 'no server pinned'}</dd>
          </div>
        </dl>
      )}
    </section>
  );
}
