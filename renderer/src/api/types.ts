import type { ResponseOf } from '../../../shared/api/contract';
import type { ApiError, ApiResult } from '../../../shared/api/result';

/**
 * The shapes the screens pass to one another, named once from the API contract so that no screen
 * owns a type another screen imports (which is how import circles start).
 */

/** What app:status reports: vault, journal and sync state. */
export type AppStatus = ResponseOf<'app:status'>;

/** A custodian as custodian:list shows it (public identity, unlocked or not). */
export type Custodian = ResponseOf<'custodian:list'>['custodians'][number];

/** An account as custody:account-list returns it (no secrets). */
export type Account = ResponseOf<'custody:account-list'>['accounts'][number];

/** An open checkout as custody:checkout-list returns it (with its reason and ticket). */
export type Checkout = ResponseOf<'custody:checkout-list'>['checkouts'][number];

export type { ApiError, ApiResult };

/** A two-person change as proposal:list shows it (summary, proposer, expiry). */
export type Proposal = ResponseOf<'proposal:list'>['proposals'][number];
