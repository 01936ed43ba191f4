import { useState, type ReactElement, type ReactNode, type RefObject } from 'react';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError } from '../api/types';
import { CheckoutPanel } from '../checkout/CheckoutPanel';
import { SeedExportPanel } from '../checkout/SeedExportPanel';
import { ErrorNotice } from '../components/ErrorNotice';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import type { Session } from '../session/session';
import { AssignForm } from './AssignForm';
import { HolderList } from './HolderList';
import { proposedOutcome, proposedSummary } from './proposed';
import { SetHalfForm } from './SetHalfForm';

const ITEMS = [
  { item: 'password', label: 'Password half' },
  { item: 'mfa', label: 'MFA half' },
  { item: 'email', label: 'Root e-mail inbox' },
  { item: 'phone', label: 'Recovery phone' },
] as const;

function itemState(account: Account, item: (typeof ITEMS)[number]['item']): string {
  if (item === 'email') return account.rootEmail;
  if (item === 'phone') return account.phone ?? 'no phone recorded';
  const half = item === 'password' ? account.password : account.mfa;
  if (half === null) return 'not set';
  const kind = half.kind === 'hardware-token' ? `hardware token ${half.tokenSerial ?? ''}` : half.kind;
  const pending = half.pendingGeneration === null ? '' : `, generation ${half.pendingGeneration} pending confirmation`;
  return `${kind}, generation ${half.generation}${half.rotationDue ? ', rotation due' : ''}${pending}`;
}

/** One account: its custody items and who holds them, and the forms the acting custodian may use. */
export function AccountDetail(props: {
  readonly account: Account;
  readonly session: Session;
  readonly headingRef: RefObject<HTMLHeadingElement | null>;
  /** The live custody state of this account, shown under its custody items. */
  readonly liveCustody: ReactNode;
  readonly onChanged: () => Promise<void>;
  readonly onBack: () => void;
}): ReactElement {
  const { account, session } = props;
  const actor = session.actor;
  // Set here by forms that disappear once they succeed (setting a half), so the outcome stays on screen.
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const presence = usePresenceGate(actor);
  const unassign = async (item: (typeof ITEMS)[number]['item'], custodianId: string): Promise<void> => {
    if (actor === null) return;
    const result = await presence.attempt(() =>
      halfkey().custodyUnassign({ by: actor.id, accountId: account.accountId, item, custodianId }),
    );
    setError(result.ok ? null : result.error);
    const proposed = result.ok ? proposedSummary(result.value) : null;
    setNotice(!result.ok ? null : proposed !== null ? proposedOutcome(proposed) : `Removed from the ${item} item.`);
    await props.onChanged();
  };
  return (
    <>
      <section className="panel" aria-labelledby="account-heading">
        <div className="panel-head">
          <h2 id="account-heading" ref={props.headingRef} tabIndex={-1}>
            {account.alias} <span className="mono muted">{account.accountId}</span>
          </h2>
          <button type="button" onClick={props.onBack}>
            Back to accounts
          </button>
        </div>
        <p className="muted">
          {account.organisation} · root e-mail {account.rootEmail}
          {account.rotateAfterCheckout ? ' · rotates after checkout' : ''}
          {account.exclusiveCheckout ? ' · exclusive checkout' : ''}
        </p>
        <p role="status" className="done">
          {notice}
        </p>
        <ErrorNotice error={error} />
        <PresencePrompt gate={presence} />
        <table className="table">
          <caption>Custody items</caption>
          <thead>
            <tr>
              <th scope="col">Item</th>
              <th scope="col">State</th>
              <th scope="col">Held by</th>
            </tr>
          </thead>
          <tbody>
            {ITEMS.map(({ item, label }) => {
              const holders = account.assignments.filter((a) => a.item === item).map((a) => a.custodianId);
              return (
                <tr key={item}>
                  <th scope="row">{label}</th>
                  <td>{itemState(account, item)}</td>
                  <td>
                    <HolderList
                      holders={holders}
                      custodians={session.custodians}
                      itemLabel={label.toLowerCase()}
                      onRemove={actor?.role === 'admin' ? (id) => void unassign(item, id) : null}
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {props.liveCustody}
      {actor === null && <p className="panel muted">Unlock yourself under Custodians to manage this account.</p>}
      {actor?.role === 'admin' && (
        <AssignForm admin={actor} account={account} custodians={session.custodians} onAssigned={props.onChanged} />
      )}
      {actor !== null &&
        (actor.role === 'password-custodian' || actor.role === 'mfa-custodian') &&
        // A half that has a secret changes by rotation (which retires the old generation), not by setting it again.
        ((actor.role === 'mfa-custodian' ? account.mfa : account.password) === null ? (
          <SetHalfForm
            actor={actor}
            account={account}
            onSet={async (message) => {
              setNotice(message);
              await props.onChanged();
            }}
          />
        ) : (
          <CheckoutPanel actor={actor} account={account} onChanged={props.onChanged} />
        ))}
      {actor !== null && (actor.role === 'admin' || actor.role === 'mfa-custodian') && account.mfa?.kind === 'totp' && (
        <SeedExportPanel actor={actor} account={account} custodians={session.custodians} />
      )}
    </>
  );
}
