import { useState, type ReactElement } from 'react';
import { StatusBar } from './StatusBar';
import { useAppStatus, type StatusReading } from './useAppStatus';
import { VaultPanel } from './VaultPanel';

/** The screens of the shell. Add a view here and in VIEWS; the switch below stays exhaustive. */
type View = 'vault';

const VIEWS: readonly { readonly id: View; readonly label: string }[] = [{ id: 'vault', label: 'Vault' }];

function ViewContent({ view, reading }: { readonly view: View; readonly reading: StatusReading }): ReactElement {
  switch (view) {
    case 'vault':
      return <VaultPanel status={reading.status} unavailable={reading.error !== null} />;
  }
}

/** The app shell: header, section navigation, the current view, and the status bar. */
export function App(): ReactElement {
  const reading = useAppStatus();
  const [view, setView] = useState<View>('vault');
  return (
    <div className="shell">
      <header className="app-header">
        <h1>Halfkey</h1>
        {reading.status?.mode === 'preview' && <span className="badge">Preview</span>}
        <nav aria-label="Sections">
          <ul>
            {VIEWS.map((v) => (
              <li key={v.id}>
                <button type="button" aria-current={view === v.id ? 'page' : undefined} onClick={() => setView(v.id)}>
                  {v.label}
                </button>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main className="app-main">
        <ViewContent view={view} reading={reading} />
      </main>
      <StatusBar reading={reading} />
    </div>
  );
}
