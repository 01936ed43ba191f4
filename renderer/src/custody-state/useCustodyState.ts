import type { ResponseOf } from '../../../shared/api/contract';
import { halfkey } from '../api/halfkey';
import { usePolled, type Polled } from '../api/usePolled';

/** What custody:state answers: per account with a half out, who has which half, why and until when. */
export type CustodyState = ResponseOf<'custody:state'>;
export type AccountOut = CustodyState['accounts'][number];
export type HalfOut = AccountOut['out'][number];

/**
 * How often the live state is read again. Checkouts made elsewhere (another custodian, the CLI)
 * and leases that run out show within this; the page's own checkouts refresh it at once.
 */
export const CUSTODY_STATE_POLL_MS = 5000;

const readState = () => halfkey().custodyState({});

/** The live custody state, read now, every few seconds, and on `refresh()` (after a checkout or check-in). */
export function useCustodyState(): Polled<CustodyState> {
  return usePolled(readState, 'custody-state', CUSTODY_STATE_POLL_MS);
}
