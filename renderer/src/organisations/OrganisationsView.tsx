import type { ReactElement } from 'react';
import { ErrorNotice } from '../components/ErrorNotice';
import type { Session } from '../session/session';
import { AddOrganisationForm } from './AddOrganisationForm';
import { ChannelOrganisationForm } from './ChannelOrganisationForm';
import { useOrganisations } from './useOrganisations';

const ORIGIN_LABELS = { approved: 'added by two custodians', founding: 'founding', migrated: 'from an earlier vault' } as const;

/**
 * Organisations: the records rule 3 compares (by id, never by typed text), each with its
 * custodians; an acting admin proposes a new one, or names who holds a root inbox or recovery phone.
 */
export function OrganisationsView({ session }: { readonly session: Session }): ReactElement {
  const organisations = useOrganisations(session.actor?.id ?? '');
  const list = organisations.value?.organisations ?? [];
  const nameOf = (id: string): string => session.custodians.find((c) => c.id === id)?.name ?? id;
  const admin = session.actor?.role === 'admin' ? session.actor : null;
  return (
    <>
      <section className="panel" aria-labelledby="organisations-heading">
        <h2 id="organisations-heading">Organisations</h2>
        <p className="muted">
          Rule 3 compares custodians by their organisation record. Adding an organisation, or moving a custodian to another, needs a second
          custodian&apos;s approval.
        </p>
        <ErrorNotice error={organisations.error} />
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Organisation</th>
              <th scope="col">Custodians</th>
              <th scope="col">Origin</th>
            </tr>
          </thead>
          <tbody>
            {list.map((o) => (
              <tr key={o.id}>
                <td>
                  {o.name} <span className="muted">{o.id.slice(0, 8)}</span>
                </td>
                <td>{o.members.length === 0 ? 'none' : o.members.map(nameOf).join(', ')}</td>
                <td>{ORIGIN_LABELS[o.origin]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {admin !== null && (
        <>
          <AddOrganisationForm admin={admin} onProposed={organisations.refresh} />
          <ChannelOrganisationForm admin={admin} organisations={list} onProposed={organisations.refresh} />
        </>
      )}
    </>
  );
}
