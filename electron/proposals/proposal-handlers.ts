import type { proposalChannels } from '../../shared/api/channels/proposal';
import type { Handler } from '../app/router';
import type { ProposalService } from './proposal-service';

type ProposalChannel = keyof typeof proposalChannels;

/**
 * Handlers of the proposal channels. `proposals` returns the open vault's service or throws
 * VAULT_LOCKED. Passphrases pass straight to the vault and are never logged.
 */
export function proposalHandlers(proposals: () => ProposalService): { [C in ProposalChannel]: Handler<C> } {
  return {
    'proposal:list': ({ state, limit }) => ({ proposals: proposals().list({ state, limit }) }),
    'proposal:approve': (request) => proposals().approve(request),
    'proposal:withdraw': ({ by, proposalId, reason }) => ({ proposal: proposals().withdraw(by, proposalId, reason) }),
  };
}
