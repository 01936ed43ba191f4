import type { ReactElement } from 'react';
import type { ApiError, AppStatus } from '../api/types';
import { shortHash } from '../components/shortHash';
import type { StatusReading } from '../session/useAppStatus';

function Item(props: {
  readonly label: string;
  readonly value: string;
  readonly title?: string;
  readonly tone?: 'ok' | 'warn' | 'muted';
}): ReactElement {
  return (
    <div className="status-item">
      <dt>{props.label}</dt>
      <dd className={`tone-${props.tone ?? 'ok'}`} title={props.title}>
        {props.value}
      </dd>
    </div>
  );
}

function VaultItem({ vault }: { readonly vault: AppStatus['vault'] }): ReactElement {
  const id = vault.id === null ? '' : ` · ${shortHash(vault.id, 8)}`;
  const tone = vault.state === 'unlocked' ? 'ok' : vault.state === 'locked' ? 'warn' : 'muted';
  return <Item label="Vault" value={`${vault.state}${id}`} title={vault.id ?? undefined} tone={tone} />;
}

function JournalItem({ journal }: { readonly journal: AppStatus['journal'] }): ReactElement {
  if (journal.seq === null || journal.hash === null) return <Item label="Journal" value="empty" tone="muted" />;
  return <Item label="Journal" value={`#${journal.seq} · ${shortHash(journal.hash)}`} title={journal.hash} />;
}

function SyncItem({ sync }: { readonly sync: AppStatus['sync'] }): ReactElement {
  const fingerprint = sync.serverFingerprint === null ? 'no server' : `server ${shortHash(sync.serverFingerprint)}`;
  const tone = sync.state === 'error' || sync.state === 'offline' ? 'warn' : sync.state === 'not-enrolled' ? 'muted' : 'ok';
  return (
    <Item
      label="Sync"
      value={`${sync.state} · ${sync.pending} pending · ${fingerprint}`}
      title={sync.lastError ?? sync.serverFingerprint ?? undefined}
      tone={tone}
    />
  );
}

function StatusError({ error }: { readonly error: ApiError }): ReactElement {
  return (
    <p className="status-error" role="alert">
      <span className="status-error-code">{error.code}</span> Status unavailable: {error.message}
    </p>
  );
}

/** The bottom bar: vault, journal head and sync state from app:status, announced politely when they change. */
export function StatusBar({ reading }: { readonly reading: StatusReading }): ReactElement {
  const { status, error } = reading;
  return (
    <footer className="status-bar" aria-label="Status">
      <div role="status" aria-live="polite" aria-busy={status === null && error === null}>
        {status === null ? (
          error === null && <p className="status-loading">Reading status…</p>
        ) : (
          <dl className="status-items">
            <VaultItem vault={status.vault} />
            <JournalItem journal={status.journal} />
            <SyncItem sync={status.sync} />
            <Item label="Mode" value={`${status.mode} · v${status.version}`} tone="muted" />
          </dl>
        )}
      </div>
      {error !== null && <StatusError error={error} />}
    </footer>
  );
}
