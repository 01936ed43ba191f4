import type { Sodium } from '../shared/sodium';
import { REQUEST_CLOCK_SKEW_MS, SIGNED_HEADERS, requestSignatureMessage } from '../shared/sync/wire';
import { WireFailure } from './errors';
import type { DeviceRecord, StorageQueries } from './storage/storage';

/** Per-device request budget: a token bucket of `capacity` refilled at `perSecond`. */
export interface RateLimit {
  readonly capacity: number;
  readonly perSecond: number;
}

/** In-process token buckets; each server process limits on its own (docs/operations.md). */
export class RequestBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: RateLimit) {}

  /** Takes one token for key; false when the bucket is empty. */
  take(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.limit.capacity, at: now };
    const tokens = Math.min(this.limit.capacity, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now });
      return false;
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    if (this.buckets.size > 100_000) this.buckets.clear(); // bounded memory; a reset only forgives
    return true;
  }
}

export interface SignedRequest {
  readonly method: string;
  /** Path with query string, exactly as sent. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  /** The :device path parameter, when the route has one. */
  readonly pathDevice: string | null;
}

const header = (headers: SignedRequest['headers'], name: string): string | null => {
  const v = headers[name];
  return typeof v === 'string' ? v : null;
};

/**
 * Authenticates a device request: well-formed headers, a fresh timestamp, an enrolled and
 * unrevoked device, the path's device matching the signer, a valid signature, an unused nonce
 * and budget left. Throws WireFailure with the code of the first check that fails.
 */
export async function authenticateDevice(
  request: SignedRequest,
  queries: StorageQueries,
  buckets: RequestBuckets,
  sodium: Sodium,
  now: number,
): Promise<DeviceRecord> {
  const device = header(request.headers, SIGNED_HEADERS.device);
  const timestamp = header(request.headers, SIGNED_HEADERS.timestamp);
  const nonce = header(request.headers, SIGNED_HEADERS.nonce);
  const signature = header(request.headers, SIGNED_HEADERS.signature);
  if (device === null || timestamp === null || nonce === null || signature === null) {
    throw new WireFailure(401, 'UNAUTHENTICATED', `this endpoint needs a signed request (${Object.values(SIGNED_HEADERS).join(', ')})`);
  }
  if (!/^[0-9a-f]{64}$/.test(device) || !/^\d{1,16}$/.test(timestamp) || !/^[0-9a-f]{32,64}$/.test(nonce) || !/^[0-9a-f]{128}$/.test(signature)) {
    throw new WireFailure(401, 'UNAUTHENTICATED', 'a signed-request header is malformed (device: 64 hex, timestamp: ms, nonce: 32–64 hex, signature: 128 hex)');
  }
  const sentAt = Number(timestamp);
  if (Math.abs(now - sentAt) > REQUEST_CLOCK_SKEW_MS) {
    throw new WireFailure(401, 'STALE_REQUEST', `the request is timestamped ${Math.round((now - sentAt) / 1000)} s from server time (±${REQUEST_CLOCK_SKEW_MS / 1000} s allowed): check the device clock`);
  }
  const record = await queries.getDevice(device);
  if (record === null) throw new WireFailure(401, 'UNKNOWN_DEVICE', 'this device is not enrolled: enrol it with a one-time token first');
  if (record.revokedAt !== null) throw new WireFailure(403, 'DEVICE_REVOKED', 'this device was revoked by an administrator');
  if (request.pathDevice !== null && request.pathDevice !== device) {
    throw new WireFailure(403, 'WRONG_DEVICE', 'a device may only act on its own journal');
  }
  const bodySha256 = sodium.to_hex(sodium.crypto_hash_sha256(request.body));
  const message = requestSignatureMessage({ method: request.method, path: request.path, bodySha256, timestamp, nonce }, sodium);
  let valid = false;
  try {
    valid = sodium.crypto_sign_verify_detached(sodium.from_hex(signature), message, sodium.from_hex(device));
  } catch {
    valid = false;
  }
  if (!valid) throw new WireFailure(401, 'BAD_REQUEST_SIGNATURE', 'the request signature does not verify under the device key');
  // Only after the signature: an attacker must not be able to burn a device's nonces or budget.
  if (!buckets.take(device, now)) throw new WireFailure(429, 'RATE_LIMITED', 'too many requests from this device: retry after a pause');
  const fresh = await queries.rememberNonce(device, nonce, sentAt + REQUEST_CLOCK_SKEW_MS);
  if (!fresh) throw new WireFailure(401, 'REPLAYED_NONCE', 'this request nonce was already used: a request is never accepted twice');
  return record;
}
