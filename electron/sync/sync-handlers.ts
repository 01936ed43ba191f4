import type { Handler } from '../app/router';
import { qrCodeOf } from '../base/qr-code';
import type { SyncService } from './sync-service';

/** `sync:*` handlers: status, enrolment with a one-time token, an immediate round, re-pinning a rotated server key. */
export function syncHandlers(sync: SyncService): {
  'sync:status': Handler<'sync:status'>;
  'sync:enrol': Handler<'sync:enrol'>;
  'sync:now': Handler<'sync:now'>;
  'sync:repin': Handler<'sync:repin'>;
  'sync:fingerprint-qr': Handler<'sync:fingerprint-qr'>;
} {
  return {
    'sync:status': () => sync.status(),
    'sync:enrol': (request) => sync.enroll(request.url, request.token, request.fingerprint),
    'sync:now': () => sync.now(),
    'sync:repin': (request) => sync.repin(request.fingerprint),
    'sync:fingerprint-qr': async () => {
      const fingerprint = sync.status().serverFingerprint;
      return { fingerprint, qrDataUrl: fingerprint === null ? null : (await qrCodeOf(fingerprint)).dataUrl };
    },
  };
}
