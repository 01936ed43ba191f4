import type { ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import type { Custodian } from '../api/types';
import { Facts } from '../components/Facts';
import { AcknowledgeForm } from './AcknowledgeForm';

type Incident = ResponseOf<'review:incidents'>['incidents'][number];
type Alarm = ResponseOf<'review:alarms'>['alarms'][number];
type Entry = Incident['entries'][number];
type Acknowledgement = NonNullable<Incident['acknowledgement']>;

const when = (ms: number | null): string => (ms === null ? 'unknown' : new Date(ms).toLocaleString());

/** The verdict in words and in a badge, never in colour alone. */
export function VerifiedBadge({ verified }: { readonly verified: boolean }): ReactElement {
  return verified ? <span className="badge">Verified</span> : <span className="badge badge-danger">Failed</span>;
}

function who(entry: Entry, custodians: readonly Custodian[]): string {
  if (entry.actor === null) return 'the device';
  const local = custodians.find((c) => c.id === entry.actor)?.name ?? entry.actorName;
  return local === null ? `custodian ${entry.actor}` : local;
}

function EntryRow({ entry, custodians }: { readonly entry: Entry; readonly custodians: readonly Custodian[] }): ReactElement {
  return (
    <tr>
      <td>{entry.seq ?? '?'}</td>
      <td>{entry.type}</td>
      <td>{who(entry, custodians)}</td>
      <td>{entry.half === null ? '—' : entry.half === 'password' ? 'password' : 'MFA'}</td>
      <td>{when(entry.time)}</td>
      <td>{entry.reason ?? '—'}</td>
      <td>
        <VerifiedBadge verified={entry.verified} />
        {entry.problems.length > 0 && <span className="visually-hidden">: {entry.problems.join('; ')}</span>}
      </td>
    </tr>
  );
}

function AcknowledgementFacts({ ack }: { readonly ack: Acknowledgement }): ReactElement {
  return (
    <div className={`verify ${ack.verified ? 'verify-ok' : 'verify-failed'}`}>
      <p className="verify-verdict">
        Acknowledged by {ack.reviewerName ?? `key ${ack.review.reviewer.slice(0, 16)}…`} on {when(ack.review.time)}:{' '}
        {/* The tinted box and these words carry the verdict (a badge on the tint lacks contrast). */}
        {ack.verified ? 'verified' : 'FAILED its checks'}
      </p>
      <Facts
        items={[
          { label: 'Finding', value: ack.review.finding },
          { label: 'Rotation done', value: ack.review.rotationDone ? 'yes' : 'no' },
          { label: 'Text', value: ack.review.text === '' ? '—' : ack.review.text },
          { label: 'Logged at', value: String(ack.logIndex), mono: true },
        ]}
      />
      {ack.problems.length > 0 && (
        <ul aria-label="Why the acknowledgement failed">
          {ack.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One incident or alarm: what it is, its verdict and why, the entries behind it, and its acknowledgement or the form. */
export function ReviewItem(props: {
  readonly kind: 'incident' | 'alarm';
  readonly item: Incident | Alarm;
  readonly by: string;
  readonly custodians: readonly Custodian[];
  readonly onChanged: () => Promise<void>;
}): ReactElement {
  const { item, kind } = props;
  const headingId = `review-${kind}-${item.id}`;
  const title =
    'session' in item
      ? `Incident ${item.reference ?? item.id.slice(0, 12)} (${item.severity ?? 'no severity'})`
      : `Alarm ${item.id}: ${item.kind}`;
  const facts =
    'session' in item
      ? [
          { label: 'Account', value: item.account ?? '—', mono: true },
          { label: 'Reason', value: item.reason ?? '—' },
          { label: 'Outcome', value: item.outcome ?? 'session still open on the device' },
          { label: 'Opened', value: when(item.openedAt) },
          { label: 'State', value: item.state },
          { label: 'Incident id', value: item.id, mono: true },
        ]
      : [
          { label: 'Message', value: item.message },
          { label: 'Raised', value: when(item.raisedAt) },
          { label: 'Device', value: `${item.device.slice(0, 16)}…`, mono: true, title: item.device },
          { label: 'State', value: item.state },
        ];
  return (
    <li className="panel" aria-labelledby={headingId}>
      <h4 id={headingId}>
        {title} <VerifiedBadge verified={item.verified} />
      </h4>
      <Facts items={facts} />
      {!item.verified && (
        <div className="verify verify-failed" role="alert">
          <p className="verify-verdict">This {kind} failed the checks made on this machine:</p>
          <ul>
            {item.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      {item.entries.length > 0 && (
        <table>
          <caption>Signed entries behind this {kind}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Step</th>
              <th scope="col">Who</th>
              <th scope="col">Half</th>
              <th scope="col">When</th>
              <th scope="col">Reason or note</th>
              <th scope="col">Checks</th>
            </tr>
          </thead>
          <tbody>
            {item.entries.map((e, index) => (
              <EntryRow key={`${e.hash}-${index}`} entry={e} custodians={props.custodians} />
            ))}
          </tbody>
        </table>
      )}
      {item.acknowledgement !== null ? (
        <AcknowledgementFacts ack={item.acknowledgement} />
      ) : item.ownKeySigned ? (
        <p className="notice">Your own key signed an entry behind this {kind}: another reviewer must acknowledge it.</p>
      ) : (
        <AcknowledgeForm subject={{ kind, id: item.id }} by={props.by} disabled={!item.verified} onDone={props.onChanged} />
      )}
    </li>
  );
}
