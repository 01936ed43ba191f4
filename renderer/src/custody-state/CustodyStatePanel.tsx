import type { ReactElement } from 'react';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { useCountdown } from '../components/useCountdown';
import type { AccountOut, CustodyState, HalfOut } from './useCustodyState';

/** "2 d 3:04:05", "3:04:05", "4:05": time left on a lease (leases run from 1 s to 7 days). */
export function leaseLeft(seconds: number): string {
  const s = Math.max(0, seconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  const clock = hours > 0 || days > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
  return days > 0 ? `${days} d ${clock}` : clock;
}

function halfLabel(out: HalfOut): string {
  if (out.item === 'password') return 'Password';
  return out.hardwareToken ? 'MFA (hardware token)' : 'MFA';
}

/** One half out: who, why, since when, and the lease counting down (the state is read again when it ends). */
function HalfOutRow({ out, onLeaseEnd }: { readonly out: HalfOut; readonly onLeaseEnd: () => void }): ReactElement {
  const left = useCountdown(out.leaseUntil, onLeaseEnd) ?? 0;
  return (
    <tr>
      <th scope="row">{halfLabel(out)}</th>
      <td>{out.custodianName}</td>
      <td>
        {out.reason}
        {out.ticket === null ? '' : ` · ticket ${out.ticket}`}
      </td>
      <td>{new Date(out.openedAt).toLocaleTimeString()}</td>
      <td>
        <span role="timer" aria-live="off" className="lease-left" title={new Date(out.leaseUntil).toLocaleString()}>
          {left === 0 ? 'ended, closing' : <span className="countdown-seconds">{leaseLeft(left)}</span>}
        </span>
      </td>
    </tr>
  );
}

function holderOf(account: AccountOut, item: 'password' | 'mfa'): string {
  return [...new Set(account.out.filter((o) => o.item === item).map((o) => o.custodianName))].join(' and ');
}

function AccountState({ account, onLeaseEnd }: { readonly account: AccountOut; readonly onLeaseEnd: () => void }): ReactElement {
  const captionId = `custody-state-${account.accountId}`;
  return (
    <div className={account.bothOut ? 'custody-account both-out' : 'custody-account'}>
      <h3 id={captionId}>
        {account.alias} <span className="mono muted">{account.accountId}</span>
        {account.bothOut && <span className="badge badge-danger">Both halves out</span>}
      </h3>
      {account.bothOut && (
        // Announced once when both halves come out; the poll leaves it alone while nothing changes.
        <p role="alert" className="both-out-alert">
          Both halves of {account.alias} are out at once: {holderOf(account, 'password')} has the password and {holderOf(account, 'mfa')}{' '}
          the MFA. Together they could sign in as root until one of them checks in.
        </p>
      )}
      <table className="table" aria-labelledby={captionId}>
        <thead>
          <tr>
            <th scope="col">Half</th>
            <th scope="col">With</th>
            <th scope="col">Why</th>
            <th scope="col">Since</th>
            <th scope="col">Lease ends in</th>
          </tr>
        </thead>
        <tbody>
          {account.out.map((o) => (
            <HalfOutRow key={o.checkoutId} out={o} onLeaseEnd={onLeaseEnd} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Live custody: which halves are checked out now, with whom, why and until when, for every
 * custodian to see. An account with both halves out at once — two people who could sign in as
 * root together — is marked and announced. `accountId` narrows it to one account (its own page).
 */
export function CustodyStatePanel(props: {
  readonly state: CustodyState | null;
  readonly error: ApiError | null;
  readonly onLeaseEnd: () => void;
  readonly accountId?: string;
}): ReactElement {
  const all = props.state?.accounts ?? [];
  const accounts = props.accountId === undefined ? all : all.filter((a) => a.accountId === props.accountId);
  const both = accounts.filter((a) => a.bothOut).length;
  return (
    <section className="panel custody-state" aria-labelledby="custody-state-heading">
      <h2 id="custody-state-heading">{props.accountId === undefined ? 'Live custody' : 'Live custody of this account'}</h2>
      <ErrorNotice error={props.error} />
      {props.state !== null && (
        <p className="muted">
          {accounts.length === 0
            ? props.accountId === undefined
              ? 'Nothing is checked out right now.'
              : 'Nothing of this account is checked out right now.'
            : `${accounts.length === 1 ? '1 account has' : `${accounts.length} accounts have`} a half out${
                both === 0 ? '' : `; ${both === 1 ? '1 has' : `${both} have`} both halves out`
              }. Read again every few seconds.`}
        </p>
      )}
      {accounts.map((a) => (
        <AccountState key={a.accountId} account={a} onLeaseEnd={props.onLeaseEnd} />
      ))}
    </section>
  );
}
