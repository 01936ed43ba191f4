import { useCallback, useEffect, useRef, useState, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { CustodyStatePanel } from '../custody-state/CustodyStatePanel';
import { useCustodyState } from '../custody-state/useCustodyState';
import type { Session } from '../session/session';
import { AccountDetail } from './AccountDetail';
import { AddAccountForm } from './AddAccountForm';

function halfState(account: Account): string {
  const parts = [account.password === null ? 'no password' : 'password set', account.mfa === null ? 'no MFA' : 'MFA set'];
  if (account.rotationDue) parts.push('rotation due');
  if (account.openCheckouts > 0) parts.push(`${account.openCheckouts} checked out`);
  if ([account.password, account.mfa].some((half) => (half?.pendingGeneration ?? null) !== null)) parts.push('rotation pending');
  return parts.join(' · ');
}

/**
 * Accounts: search by id, alias or organisation; add one; open one to manage its custody. The live
 * custody state sits under the list (all accounts) and under an open account (that account), and
 * is read again after every change made here, such as a checkout or a check-in.
 */
export function AccountsView({ session }: { readonly session: Session }): ReactElement {
  const [search, setSearch] = useState('');
  const [accounts, setAccounts] = useState<readonly Account[]>([]);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<ApiError | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const detailHeading = useRef<HTMLHeadingElement>(null);
  const listHeading = useRef<HTMLHeadingElement>(null);
  const wasOpen = useRef(false);

  const load = useCallback(async (text: string) => {
    const result = await attempt(() => halfkey().custodyAccountList({ search: text }));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    setAccounts(result.value.accounts);
    setTotal(result.value.total);
  }, []);

  useEffect(() => {
    void load(search);
  }, [load, search]);

  const custody = useCustodyState();
  const refreshCustody = custody.refresh;
  const changed = useCallback(async () => {
    await Promise.all([load(search), refreshCustody()]);
  }, [load, search, refreshCustody]);
  const live = (accountId?: string): ReactElement => (
    <CustodyStatePanel
      state={custody.value}
      // The list's own error (a closed vault) says it already; one alert is enough.
      error={error === null ? custody.error : null}
      onLeaseEnd={() => void changed()}
      accountId={accountId}
    />
  );

  const current = accounts.find((a) => a.accountId === selected) ?? null;
  // Focus follows the switch between list and detail, so keyboard users never land on nothing.
  useEffect(() => {
    if (selected !== null) detailHeading.current?.focus();
    else if (wasOpen.current) listHeading.current?.focus();
    wasOpen.current = selected !== null;
  }, [selected]);

  if (current !== null) {
    return (
      <AccountDetail
        account={current}
        session={session}
        headingRef={detailHeading}
        liveCustody={live(current.accountId)}
        onChanged={changed}
        onBack={() => setSelected(null)}
      />
    );
  }

  return (
    <>
      <section className="panel" aria-labelledby="accounts-heading">
        <h2 id="accounts-heading" ref={listHeading} tabIndex={-1}>
          Accounts
        </h2>
        <div className="search">
          <Field label="Search accounts" type="search" value={search} onChange={setSearch} hint="Account id, alias or organisation." />
        </div>
        <ErrorNotice error={error} />
        <p className="muted" aria-live="polite">
          {total === 1 ? '1 account' : `${total} accounts`}
          {search === '' ? '' : ` ${total === 1 ? 'matches' : 'match'} “${search}”`}
        </p>
        {accounts.length > 0 && (
          <table className="table">
            <caption className="visually-hidden">Accounts</caption>
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Alias</th>
                <th scope="col">Organisation</th>
                <th scope="col">Halves</th>
                <th scope="col">
                  <span className="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {accounts.map((a) => (
                <tr key={a.accountId}>
                  <td className="mono">{a.accountId}</td>
                  <td>{a.alias}</td>
                  <td>{a.organisation}</td>
                  <td>{halfState(a)}</td>
                  <td>
                    <button type="button" onClick={() => setSelected(a.accountId)}>
                      Open {a.alias}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {live()}
      {session.actor?.role === 'admin' && <AddAccountForm admin={session.actor} onAdded={changed} />}
      {session.actor === null && <p className="panel muted">Unlock yourself under Custodians to add accounts or manage custody.</p>}
    </>
  );
}
