import type { ReactElement } from 'react';
import { humanDuration } from '../../../shared/reconcile/report-text';
import { checkoutHolder, type CheckoutRef, type Finding } from './reportTypes';

/** A checkout as the reviewer needs it: its seq, half, custodian and reason, and its window. */
function CheckoutText({ label, checkout }: { readonly label: string; readonly checkout: CheckoutRef }): ReactElement {
  return (
    <>
      <span className="reconcile-checkout-label">{label}</span> seq <span className="mono">{checkout.seq}</span> · {checkout.item}
      {checkout.hardwareToken ? ' (hardware token)' : ''} · {checkoutHolder(checkout)} — “{checkout.reason}”
      {checkout.ticket === null ? '' : ` [${checkout.ticket}]`}
      <span className="reconcile-window">
        {' '}
        {checkout.openedAt} to {checkout.endedAt} ({checkout.ended})
      </span>
    </>
  );
}

/** What custody says about the action: the checkouts out, the break-glass session, or the nearest checkout. */
function Custody({ finding: f }: { readonly finding: Finding }): ReactElement {
  const lines: ReactElement[] = [];
  if (f.breakGlass !== null) {
    lines.push(
      <li key="bg">
        <span className="reconcile-checkout-label">Break-glass</span> seq <span className="mono">{f.breakGlass.seq}</span> ·{' '}
        {f.breakGlass.actor ?? 'the device'} — “{f.breakGlass.reason}”
        <span className="reconcile-window">
          {' '}
          {f.breakGlass.openedAt} to {f.breakGlass.endedAt} ({f.breakGlass.ended})
        </span>
      </li>,
    );
  }
  if (f.password !== null) {
    lines.push(
      <li key="pw">
        <CheckoutText label="Password out:" checkout={f.password} />
      </li>,
    );
  }
  if (f.mfaHalf !== null) {
    lines.push(
      <li key="mfa">
        <CheckoutText label="MFA out:" checkout={f.mfaHalf} />
      </li>,
    );
  }
  if (f.nearest !== null) {
    lines.push(
      <li key="near">
        <CheckoutText label={f.verdict === 'half-explained' ? 'Nearest of the missing half:' : 'Nearest:'} checkout={f.nearest.checkout} />,{' '}
        {humanDuration(f.nearest.distanceMs)} away
      </li>,
    );
  } else if (f.verdict !== 'explained') {
    lines.push(
      <li key="none">No checkout {f.verdict === 'half-explained' ? 'of the missing half ' : ''}of this account in the journal.</li>,
    );
  }
  if (f.matches !== null) {
    lines.push(
      <li key="match">
        Matches custody <span className="mono">{f.matches.type}</span> seq <span className="mono">{f.matches.seq}</span> at {f.matches.time}
      </li>,
    );
  }
  return <ul className="reconcile-custody">{lines}</ul>;
}

/** The action itself: name, source, outcome, MFA and key, and every flag with its message. */
function Action({ finding: f }: { readonly finding: Finding }): ReactElement {
  return (
    <>
      <span className="mono">{f.eventName}</span>
      <span className="reconcile-window"> {f.eventSource}</span>
      {f.outcome === 'failure' && <span className="reconcile-failed"> failed{f.errorCode === null ? '' : ` (${f.errorCode})`}</span>}
      <span className="reconcile-window">
        {' '}
        · MFA {f.mfa}
        {f.accessKey === 'long-term' ? ' · long-term access key' : ''}
      </span>
      {f.flags.length > 0 && (
        <ul className="reconcile-flags">
          {f.flags.map((flag) => (
            <li key={flag.code}>
              <span className="mono reconcile-flag">{flag.code}</span> {flag.message}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** Root actions in one table: the CloudTrail eventID, time, event, account, source IP, user agent and custody's explanation. */
export function FindingTable({ caption, findings }: { readonly caption: string; readonly findings: readonly Finding[] }): ReactElement {
  return (
    <table className="table reconcile-table">
      <caption className="visually-hidden">{caption}</caption>
      {/* Fixed widths: seven columns share the page, and the explanation needs the most room. */}
      <colgroup>
        <col className="reconcile-col-id" />
        <col className="reconcile-col-time" />
        <col className="reconcile-col-event" />
        <col className="reconcile-col-account" />
        <col className="reconcile-col-ip" />
        <col className="reconcile-col-agent" />
        <col className="reconcile-col-checkout" />
      </colgroup>
      <thead>
        <tr>
          <th scope="col">Event ID</th>
          <th scope="col">Time</th>
          <th scope="col">Event</th>
          <th scope="col">Account</th>
          <th scope="col">Source IP</th>
          <th scope="col">User agent</th>
          <th scope="col">Checkout</th>
        </tr>
      </thead>
      <tbody>
        {findings.map((f) => (
          <tr key={`${f.eventId ?? 'none'}:${f.account}:${f.file}:${f.record}`}>
            <td className="mono">{f.eventId ?? '(none)'}</td>
            <td>
              {/* The date and the time of day may go on two lines; the text stays the ISO time. */}
              <time dateTime={f.time}>
                {f.time.slice(0, 10)}
                <wbr />
                {f.time.slice(10)}
              </time>
            </td>
            <td>
              <Action finding={f} />
            </td>
            <td>
              <span className="mono">{f.account}</span>
              {f.accountAlias === null ? null : <span className="reconcile-window"> {f.accountAlias}</span>}
            </td>
            <td className="mono">{f.sourceIp === '' ? '—' : f.sourceIp}</td>
            <td>{f.userAgent === '' ? '—' : f.userAgent}</td>
            <td>
              <Custody finding={f} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
