import type { Handler } from '../router';
import type { CustodyService } from '../services/custody/custody-service';

type CustodyChannel =
  | 'vault:account-add'
  | 'vault:account-list'
  | 'vault:half-set'
  | 'vault:assign'
  | 'vault:checkout'
  | 'vault:checkin'
  | 'vault:reveal'
  | 'vault:copy'
  | 'vault:totp-code'
  | 'vault:totp-enrolment-codes'
  | 'vault:rotate'
  | 'vault:seed-export-request'
  | 'vault:seed-export-approve'
  | 'vault:seed-export-collect'
  | 'vault:token-checkout'
  | 'vault:token-checkin'
  | 'vault:unassign'
  | 'vault:checkout-list'
  | 'vault:seed-export-list';

/**
 * Handlers of the custody channels. `custody` returns the open vault's custody service, or throws
 * VAULT_LOCKED when no vault is open. Reveal and rotate return a secret because the person asked
 * to see it; nothing here logs a payload.
 */
export function custodyHandlers(custody: () => CustodyService): { [C in CustodyChannel]: Handler<C> } {
  return {
    'vault:account-add': ({ by, ...input }) => custody().addAccount(by, input),
    'vault:account-list': (request) => custody().listAccounts(request),
    'vault:half-set': ({ by, accountId, item, secret }) => {
      const { generation, kind } = custody().setHalf(by, accountId, item, secret);
      return { accountId, item, kind, generation };
    },
    'vault:assign': ({ by, ...request }) => custody().assign(by, request),
    'vault:checkout': ({ by, ...request }) => custody().checkout(by, request),
    'vault:checkin': ({ by, checkoutId }) => custody().checkin(by, checkoutId),
    'vault:reveal': ({ by, checkoutId, seconds }) => custody().reveal(by, checkoutId, seconds),
    'vault:copy': ({ by, checkoutId, seconds }) => custody().copy(by, checkoutId, seconds),
    'vault:totp-code': ({ by, checkoutId }) => custody().totpCode(by, checkoutId),
    'vault:totp-enrolment-codes': ({ by, checkoutId }) => custody().totpEnrolmentCodes(by, checkoutId),
    'vault:rotate': ({ by, ...request }) => {
      const { accountId, item, generation, retiredGeneration, password, expiresAt } = custody().rotate(by, request);
      return { accountId, item, generation, retiredGeneration, password, expiresAt };
    },
    'vault:seed-export-request': ({ by, accountId, reason }) => custody().requestSeedExport(by, accountId, reason),
    'vault:seed-export-approve': ({ by, requestId }) => custody().approveSeedExport(by, requestId),
    'vault:seed-export-collect': ({ by, requestId }) => custody().collectSeedExport(by, requestId),
    'vault:token-checkout': ({ by, ...request }) => custody().tokenCheckout(by, request),
    'vault:token-checkin': ({ by, checkoutId, location }) => custody().tokenCheckin(by, checkoutId, location),
    'vault:unassign': ({ by, ...request }) => custody().unassign(by, request),
    'vault:checkout-list': (filter) => ({ checkouts: custody().listCheckouts(filter) }),
    'vault:seed-export-list': ({ accountId }) => ({ requests: custody().listSeedExports(accountId) }),
  };
}
