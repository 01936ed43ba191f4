import type { custodyChannels } from '../../shared/api/channels/custody';
import type { Handler } from '../app/router';
import type { CustodyService } from './custody-service';

type CustodyChannel = keyof typeof custodyChannels;

/**
 * Handlers of the custody channels. `custody` returns the open vault's custody service, or throws
 * VAULT_LOCKED when no vault is open. Reveal and rotate return a secret because the person asked
 * to see it; nothing here logs a payload.
 */
export function custodyHandlers(custody: () => CustodyService): { [C in CustodyChannel]: Handler<C> } {
  // Invariant: the router checked each request against its channel's schema, so the services trust it as is (STYLE rule 13); it keeps only the response schema's fields.
  return {
    'custody:account-add': (request) => custody().accounts.add(request),
    'custody:account-list': (request) => custody().accounts.list(request),
    'custody:half-set': (request) => custody().halves.set(request),
    'custody:assign': (request) => custody().assignments.proposeAssign(request),
    'custody:unassign': (request) => custody().assignments.proposeUnassign(request),
    'custody:channel-organisation': (request) => custody().organisations.proposeChannel(request),
    'custody:reseal': (request) => custody().assignments.proposeReseal(request),
    'custody:rotate': (request) => custody().rotations.rotate(request),
    'custody:rotation-confirm': (request) => custody().rotations.proposeConfirm(request),
    'custody:rotation-abandon': (request) => custody().rotations.abandon(request),
    'custody:checkout': (request) => custody().checkouts.open(request),
    'custody:checkin': (request) => custody().checkouts.checkin(request),
    'custody:token-checkout': (request) => custody().checkouts.openToken(request),
    'custody:token-checkin': (request) => custody().checkouts.checkinToken(request),
    'custody:checkout-list': (request) => ({ checkouts: custody().checkouts.list(request) }),
    'custody:state': () => custody().checkouts.state(),
    'custody:reveal': (request) => custody().checkouts.reveal(request),
    'custody:copy': (request) => custody().checkouts.copy(request),
    'custody:totp-code': (request) => custody().checkouts.totpCode(request),
    'custody:totp-enrolment-codes': (request) => custody().checkouts.totpEnrolmentCodes(request),
    'custody:seed-export-request': (request) => custody().seedExports.request(request),
    'custody:seed-export-collect': (request) => custody().seedExports.collect(request),
    'custody:seed-export-list': (request) => ({ requests: custody().seedExports.list(request) }),
  };
}
