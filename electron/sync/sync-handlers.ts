import type { Handler } from '../router';
import { qrCodeOf } from '../services/qr-code';
import type { SyncService } from '../services/sync/sync-service';

/** `sync:*` handlers: status, enrolment with a one-time token, an immediate round, re-pinning a rotated server key. */
export function syncHandlers(sync: SyncService): {
  'sync:status': Handler<'sync:status'>;
  'sync:enroll': Handler<'sync:enroll'>;
  'sync:now': Handler<'sync:now'>;
  'sync:repin': Handler<'sync:repin'>;
  'sync:fingerprint-qr': Handler<'sync:fingerprint-qr'>;
} {
  return {
    'sync:status': () => sync.status(),
    'sync:enroll': (request) => sync.enroll(request.url, request.token, request.fingerprint),
    'sync:now': () => sync.now(),
    'sync:repin': (request) => sync.repin(request.fingerprint),
    'sync:fingerprint-qr': async () => {
      const fingerprint = sync.status().serverFingerprint;
      return { fingerprint, qrDataUrl: fingerprint === null ? null : (await qrCodeOf(fingerprint)).dataUrl };
    },
  };
}
