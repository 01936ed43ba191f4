import { useState, type ReactElement } from 'react';
import type { AppStatus } from '../halfkey';
import { VaultPanel } from '../VaultPanel';
import { SetupView } from './SetupView';

/**
 * The vault screen: its state, and on first run the create form. Setup stays on screen after the
 * vault exists until the recovery key is confirmed as stored.
 */
export function VaultView(props: { readonly status: AppStatus | null; readonly unavailable: boolean; readonly onCreated: () => void }): ReactElement {
  const [inSetup, setInSetup] = useState(false);
  const none = props.status?.vault.state === 'none';
  return (
    <>
      {!inSetup && <VaultPanel status={props.status} unavailable={props.unavailable} />}
      {(none || inSetup) && <SetupView onBusy={setInSetup} onCreated={props.onCreated} />}
    </>
  );
}
