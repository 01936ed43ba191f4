import type { ResponseOf } from '../../../shared/api/contract';
import { halfkey } from '../api/halfkey';
import { usePolled, type Polled } from '../api/usePolled';

/** An organisation record as organisation:list shows it, with its custodians' ids. */
export type Organisation = ResponseOf<'organisation:list'>['organisations'][number];

const read = () => halfkey().organisationList({});

/** The vault's organisations, read now, when `key` changes and every 10 s. */
export function useOrganisations(key: string): Polled<ResponseOf<'organisation:list'>> {
  return usePolled(read, key, 10_000);
}

/** An organisation's display name by id (the id itself when unknown). */
export function organisationName(organisations: readonly Organisation[], id: string | null): string {
  if (id === null) return 'none';
  return organisations.find((o) => o.id === id)?.name ?? id;
}
