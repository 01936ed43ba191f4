import type { ReactElement } from 'react';
import type { AppStatus } from '../api/types';

const MESSAGES: Readonly<Record<AppStatus['vault']['state'], { title: string; text: string }>> = {
  none: { title: 'No vault yet', text: 'The vault is not created yet. A vault admin creates it and enrols the custodians.' },
  locked: { title: 'Vault locked', text: 'The vault is locked. Unlock it to check out a password or MFA half.' },
  unlocked: { title: 'Vault unlocked', text: 'The vault is unlocked. Lock it when you step away.' },
};

/** The vault screen's placeholder: says whether a vault exists and whether it is locked. */
export function VaultPanel({ status, unavailable }: { readonly status: AppStatus | null; readonly unavailable: boolean }): ReactElement {
  const message = status === null ? null : MESSAGES[status.vault.state];
  const waiting = unavailable ? 'The vault state could not be read: see the message in the status bar.' : 'Waiting for the vault state…';
  return (
    <section className="panel" aria-labelledby="vault-heading">
      <h2 id="vault-heading">Vault</h2>
      {message === null ? (
        <p className="muted">{waiting}</p>
      ) : (
        <>
          <p className={`vault-state vault-state-${status?.vault.state ?? 'none'}`}>{message.title}</p>
          <p>{message.text}</p>
        </>
      )}
    </section>
  );
}
