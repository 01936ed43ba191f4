import type { organisationChannels } from '../../shared/api/channels/organisation';
import type { policyChannels } from '../../shared/api/channels/policy';
import type { Handler } from '../app/router';
import type { CustodyService } from './custody-service';

type OrganisationChannel = keyof typeof organisationChannels | keyof typeof policyChannels;

/**
 * Handlers of the organisation, roster-change and policy channels. `custody` returns the open
 * vault's custody service, or throws VAULT_LOCKED. Every change is a proposal; nothing here applies one.
 */
export function organisationHandlers(custody: () => CustodyService): { [C in OrganisationChannel]: Handler<C> } {
  return {
    'organisation:list': () => ({ organisations: custody().organisations.list() }),
    'organisation:add': (request) => custody().organisations.proposeAdd(request),
    'custodian:role-change': (request) => custody().roles.propose(request),
    'custodian:organisation-change': (request) => custody().organisations.proposeMove(request),
    'policy:show': () => custody().policy.current(),
    'policy:change': (request) => custody().policy.propose(request),
  };
}
