import { useEffect, useRef, useState, type ReactElement } from 'react';
import { AccountsView } from '../accounts/AccountsView';
import { BreakGlassView } from '../break-glass/BreakGlassView';
import { CustodiansView } from '../custodians/CustodiansView';
import { JournalView } from '../journal/JournalView';
import { OrganisationsView } from '../organisations/OrganisationsView';
import { PolicyView } from '../policy/PolicyView';
import { ProposalsView } from '../proposals/ProposalsView';
import { useOpenProposals, type OpenProposals } from '../proposals/useOpenProposals';
import { ReconcileView } from '../reconcile/ReconcileView';
import { ReviewView } from '../review/ReviewView';
import { SessionContext, useSession, type Session } from '../session/session';
import { useAppStatus, type StatusReading } from '../session/useAppStatus';
import { SyncView } from '../sync/SyncView';
import { VaultView } from '../vault/VaultView';
import { ActorStatus } from './ActorStatus';
import { StatusBar } from './StatusBar';

/** The screens of the shell. Add a view here and in VIEWS; the switch below stays exhaustive. */
type View =
  | 'vault'
  | 'custodians'
  | 'organisations'
  | 'policy'
  | 'proposals'
  | 'accounts'
  | 'break-glass'
  | 'journal'
  | 'sync'
  | 'reconcile'
  | 'review';

const VIEWS: readonly { readonly id: View; readonly label: string }[] = [
  { id: 'vault', label: 'Vault' },
  { id: 'custodians', label: 'Custodians' },
  { id: 'organisations', label: 'Organisations' },
  { id: 'policy', label: 'Policy' },
  { id: 'proposals', label: 'Proposals' },
  { id: 'accounts', label: 'Accounts' },
  { id: 'break-glass', label: 'Break-glass' },
  { id: 'journal', label: 'Journal' },
  { id: 'sync', label: 'Sync' },
  { id: 'reconcile', label: 'Reconcile' },
  { id: 'review', label: 'Review' },
];

function ViewContent(props: {
  readonly view: View;
  readonly reading: StatusReading;
  readonly session: Session;
  readonly proposals: OpenProposals;
  readonly go: (view: View) => void;
}): ReactElement {
  const { view, reading, session } = props;
  switch (view) {
    case 'vault':
      return (
        <VaultView
          status={reading.status}
          unavailable={reading.error !== null}
          vaultClosed={session.listError?.code === 'VAULT_LOCKED'}
          onCreated={() => props.go('custodians')}
          onOpened={() => props.go('custodians')}
        />
      );
    case 'custodians':
      return <CustodiansView session={session} />;
    case 'organisations':
      return <OrganisationsView session={session} />;
    case 'policy':
      return <PolicyView session={session} />;
    case 'proposals':
      return <ProposalsView session={session} open={props.proposals} />;
    case 'accounts':
      return <AccountsView session={session} />;
    case 'break-glass':
      return <BreakGlassView session={session} />;
    case 'journal':
      return <JournalView session={session} />;
    case 'sync':
      return <SyncView />;
    case 'reconcile':
      return <ReconcileView />;
    case 'review':
      return <ReviewView session={session} />;
  }
}

/** The app shell: header, section navigation, the current view, and the status bar. */
export function App(): ReactElement {
  const reading = useAppStatus();
  const [view, setView] = useState<View>('vault');
  const vault = reading.status?.vault;
  const vaultKey = `${vault?.state ?? ''}:${vault?.id ?? ''}:${view}`;
  const session = useSession(vaultKey);
  const proposals = useOpenProposals(vaultKey);
  const open = proposals.proposals.length;
  const main = useRef<HTMLElement>(null);
  const navigated = useRef(false);
  // After navigation, focus moves to the new view's heading so screen readers start there.
  useEffect(() => {
    if (!navigated.current) return;
    const heading = main.current?.querySelector('h2');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }, [view]);
  const go = (next: View): void => {
    navigated.current = true;
    setView(next);
  };
  return (
    <div className="shell">
      <header className="app-header">
        <h1>Halfkey</h1>
        {reading.status?.mode === 'preview' && <span className="badge">Preview</span>}
        <ActorStatus actor={session.actor} onIdleLock={() => void session.refresh()} />
        <nav aria-label="Sections">
          <ul>
            {VIEWS.map((v) => (
              <li key={v.id}>
                <button type="button" aria-current={view === v.id ? 'page' : undefined} onClick={() => go(v.id)}>
                  {v.label}
                  {v.id === 'proposals' && open > 0 && (
                    <>
                      {' '}
                      <span className="nav-count">
                        {open}
                        <span className="visually-hidden"> open</span>
                      </span>
                    </>
                  )}
                </button>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main className="app-main" ref={main}>
        <SessionContext.Provider value={session}>
          <ViewContent view={view} reading={reading} session={session} proposals={proposals} go={go} />
        </SessionContext.Provider>
      </main>
      <StatusBar reading={reading} />
    </div>
  );
}
