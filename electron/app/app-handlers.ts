import type { AppServices } from './app-services';
import type { Handler } from './router';

export function appHandlers(services: AppServices): { 'app:status': Handler<'app:status'> } {
  return {
    'app:status': () => services.status(),
  };
}
