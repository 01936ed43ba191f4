import type { breakGlassChannels } from '../../shared/api/channels/break-glass';
import type { Handler } from '../app/router';
import type { BreakGlassService } from './break-glass-service';

type BreakGlassChannel = keyof typeof breakGlassChannels;

/**
 * Handlers of the break-glass channels. `breakGlass` returns the open vault's service or throws
 * VAULT_LOCKED. use-password returns the password because its custodian asked to see it; nothing
 * here logs a payload.
 */
export function breakGlassHandlers(breakGlass: () => BreakGlassService): { [C in BreakGlassChannel]: Handler<C> } {
  return {
    'break-glass:open': (request) => breakGlass().openSession(request),
    'break-glass:list': (request) => ({ sessions: breakGlass().list(request) }),
    'break-glass:get': (request) => breakGlass().get(request.sessionId),
    'break-glass:use-password': (request) => breakGlass().usePassword(request),
    'break-glass:use-mfa': (request) => breakGlass().useMfa(request),
    'break-glass:close': (request) => breakGlass().closeSession(request),
    'break-glass:resume': (request) => breakGlass().resume(request),
    'break-glass:runbook': (request) => breakGlass().runbook(request),
  };
}
