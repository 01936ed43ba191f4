import { halfkey } from '../api/halfkey';
import type { ApiError, Proposal } from '../api/types';
import { usePolled } from '../api/usePolled';

/** The open proposals, read by the shell for the navigation badge and shared with the Proposals screen. */
export interface OpenProposals {
  readonly proposals: readonly Proposal[];
  readonly error: ApiError | null;
  readonly refresh: () => Promise<void>;
}

/** As often as the custodian list: a proposal made on another screen shows in the badge within seconds. */
const POLL_MS = 3000;

const readOpen = () => halfkey().proposalList({});

/** Loads the open proposals (again whenever `key` changes, and every few seconds). */
export function useOpenProposals(key: string): OpenProposals {
  const { value, error, refresh } = usePolled(readOpen, key, POLL_MS);
  return { proposals: value?.proposals ?? [], error, refresh };
}
