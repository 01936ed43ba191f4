import { useState, type ReactElement } from 'react';
import type { AppStatus } from '../api/types';
import { SetupView } from '../setup/SetupView';
import { VaultAccess } from './VaultAccess';
import { VaultPanel } from './VaultPanel';

/**
 * The vault screen: its state, and on first run the create form. Setup stays on screen after the
 * vault exists until the recovery key is confirmed as stored.
 */
export function VaultView(props: {
  readonly status: AppStatus | null;
  readonly unavailable: boolean;
  readonly vaultClosed: boolean;
  readonly onCreated: () => void;
  readonly onOpened: () => void;
}): ReactElement {
  const [inSetup, setInSetup] = useState(false);
  const none = props.status?.vault.state === 'none';
  // A vault that exists but is not open reports no id. A status read while vault:create runs says
  // the same for a moment, so the vault must also have refused a call (VAULT_LOCKED) to count as closed.
  const closed = props.status?.vault.state === 'locked' && props.status.vault.id === null && props.vaultClosed;
  return (
    <>
      {!inSetup && <VaultPanel status={props.status} unavailable={props.unavailable} />}
      {(none || inSetup) && <SetupView onBusy={setInSetup} onCreated={props.onCreated} />}
      {closed && !inSetup && <VaultAccess onOpened={props.onOpened} />}
    </>
  );
}
