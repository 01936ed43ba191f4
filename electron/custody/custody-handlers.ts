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
  return {
    'custody:account-add': ({ by, ...input }) => custody().addAccount(by, input),
    'custody:account-list': (request) => custody().listAccounts(request),
    'custody:half-set': ({ by, accountId, item, secret }) => {
      const { generation, kind } = custody().setHalf(by, accountId, item, secret);
      return { accountId, item, kind, generation };
    },
    'custody:assign': ({ by, ...request }) => custody().assign(by, request),
    'custody:checkout': ({ by, ...request }) => custody().checkout(by, request),
    'custody:checkin': ({ by, checkoutId }) => custody().checkin(by, checkoutId),
    'custody:reveal': ({ by, checkoutId, seconds }) => custody().reveal(by, checkoutId, seconds),
    'custody:copy': ({ by, checkoutId, seconds }) => custody().copy(by, checkoutId, seconds),
    'custody:totp-code': ({ by, checkoutId }) => custody().totpCode(by, checkoutId),
    'custody:totp-enrolment-codes': ({ by, checkoutId }) => custody().totpEnrolmentCodes(by, checkoutId),
    'custody:rotate': ({ by, ...request }) => {
      const { accountId, item, generation, retiredGeneration, password, expiresAt } = custody().rotate(by, request);
      return { accountId, item, generation, retiredGeneration, password, expiresAt };
    },
    'custody:seed-export-request': ({ by, accountId, reason }) => custody().requestSeedExport(by, accountId, reason),
    'custody:seed-export-approve': ({ by, requestId }) => custody().approveSeedExport(by, requestId),
    'custody:seed-export-collect': ({ by, requestId }) => custody().collectSeedExport(by, requestId),
    'custody:token-checkout': ({ by, ...request }) => custody().tokenCheckout(by, request),
    'custody:token-checkin': ({ by, checkoutId, location }) => custody().tokenCheckin(by, checkoutId, location),
    'custody:unassign': ({ by, ...request }) => custody().unassign(by, request),
    'custody:checkout-list': (filter) => ({ checkouts: custody().listCheckouts(filter) }),
    'custody:seed-export-list': ({ accountId }) => ({ requests: custody().listSeedExports(accountId) }),
  };
}
