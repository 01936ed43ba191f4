import { useCallback, useEffect, useState, type FormEvent, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Facts } from '../components/Facts';
import { Field } from '../components/Field';
import { shortHash } from '../components/shortHash';
import { custodianLabel, type Session } from '../session/session';
import { JournalExport } from './JournalExport';
import { VerifyReport } from './VerifyReport';

type Entry = ResponseOf<'journal:list'>['entries'][number];
type Head = ResponseOf<'journal:head'>;

interface Filters {
  readonly type: string;
  readonly actor: string;
  readonly account: string;
}

/** The entry's data as short `key=value` text; entries hold no secrets by construction. */
function summary(entry: Entry): string {
  return Object.entries(entry.data)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' · ');
}

/** The journal: head, entries filtered by type, actor and account, verification and export. */
export function JournalView({ session }: { readonly session: Session }): ReactElement {
  const [head, setHead] = useState<Head | null>(null);
  const [entries, setEntries] = useState<readonly Entry[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [draft, setDraft] = useState<Filters>({ type: '', actor: '', account: '' });
  const [filters, setFilters] = useState<Filters>(draft);

  const load = useCallback(async (f: Filters) => {
    const headResult = await attempt(() => halfkey().journalHead({}));
    const listResult = await attempt(() =>
      halfkey().journalList({
        limit: 500,
        ...(f.type === '' ? {} : { type: f.type }),
        ...(f.actor === '' ? {} : { actor: f.actor }),
        ...(f.account === '' ? {} : { account: f.account }),
      }),
    );
    setHead(headResult.ok ? headResult.value : null);
    setEntries(listResult.ok ? listResult.value.entries : []);
    setError(!listResult.ok ? listResult.error : !headResult.ok ? headResult.error : null);
  }, []);
  useEffect(() => {
    void load(filters);
  }, [load, filters]);

  const apply = (event: FormEvent): void => {
    event.preventDefault();
    setFilters({ type: draft.type.trim(), actor: draft.actor.trim(), account: draft.account.trim() });
  };

  return (
    <>
      <section className="panel" aria-labelledby="journal-heading">
        <h2 id="journal-heading">Journal</h2>
        {head !== null && (
          <Facts
            items={[
              { label: 'Entries', value: head.size },
              {
                label: 'Head',
                value: head.seq === null || head.hash === null ? 'empty' : `#${head.seq} · ${shortHash(head.hash, 16)}`,
                mono: true,
                title: head.hash ?? undefined,
              },
            ]}
          />
        )}
        <form noValidate className="filters" aria-label="Journal filters" onSubmit={apply}>
          <Field label="Type" value={draft.type} onChange={(type) => setDraft({ ...draft, type })} placeholder="checkout.opened" />
          <div className="field">
            <label htmlFor="journal-actor">Actor</label>
            <select id="journal-actor" value={draft.actor} onChange={(event) => setDraft({ ...draft, actor: event.target.value })}>
              <option value="">anyone</option>
              {session.custodians.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <Field label="Account" value={draft.account} onChange={(account) => setDraft({ ...draft, account })} placeholder="123456789012" />
          <button type="submit">Filter</button>
        </form>
        <ErrorNotice error={error} />
        <p className="muted" aria-live="polite">
          {entries.length === 1 ? '1 entry' : `${entries.length} entries`}
        </p>
        {entries.length > 0 && (
          <table className="table journal-table">
            <caption className="visually-hidden">Journal entries</caption>
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Time</th>
                <th scope="col">Type</th>
                <th scope="col">Actor</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.seq}>
                  <td className="mono">{e.seq}</td>
                  <td>{new Date(e.time).toLocaleString()}</td>
                  <td className="mono">{e.type}</td>
                  <td>{e.actor === null ? <span className="muted">device</span> : custodianLabel(session.custodians, e.actor)}</td>
                  <td className="journal-data">{summary(e)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <VerifyReport />
      <JournalExport />
    </>
  );
}
