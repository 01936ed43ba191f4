import type { Handler } from '../app/router';
import { runReconcile } from './reconcile-service';

/** `reconcile:*`: the router has validated the request; no vault is needed (the journal is a file). */
export function reconcileHandlers(): { 'reconcile:run': Handler<'reconcile:run'> } {
  return {
    'reconcile:run': (request) => runReconcile(request),
  };
}
