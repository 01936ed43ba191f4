import { hash } from 'node:crypto';
import { entryHashBytes, verifyEntrySignature, type SignedEntry } from '../shared/journal/entry';
import { ENTRY_TYPES } from '../shared/journal/entry-types';
import type { ChainState } from '../shared/journal/verifier';
import type { Sodium } from '../shared/sodium';
import {
  MAX_ROTATIONS_PER_PROOF,
  REQUEST_CLOCK_SKEW_MS,
  ROTATION_HEADER,
  SIGNED_HEADERS,
  requestSignatureMessage,
} from '../shared/sync/wire';
import { WireFailure } from './errors';
import { nestingBeyond } from './http-body';
import type { DeviceRecord, StorageQueries } from './storage/storage';

/** Per-device request budget: a token bucket of `capacity` refilled at `perSecond`. */
export interface RateLimit {
  readonly capacity: number;
  readonly perSecond: number;
}

/** Takes one request token for a key (a device, or `ip:ADDRESS`); false when its budget is spent. */
export interface RateLimiter {
  take(key: string, now: number): Promise<boolean>;
}

/** In-process token buckets: right for one server process (the SQLite single node). */
export class RequestBuckets implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: RateLimit) {}

  /** Takes one token for key; false when the bucket is empty. */
  take(key: string, now: number): Promise<boolean> {
    const b = this.buckets.get(key) ?? { tokens: this.limit.capacity, at: now };
    // A clock set back refills nothing (and keeps the later time) instead of draining the bucket.
    const at = Math.max(now, b.at);
    const tokens = Math.min(this.limit.capacity, b.tokens + ((at - b.at) / 1000) * this.limit.perSecond);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at });
      return Promise.resolve(false);
    }
    this.buckets.set(key, { tokens: tokens - 1, at });
    if (this.buckets.size > 100_000) this.buckets.clear(); // bounded memory; a reset only forgives
    return Promise.resolve(true);
  }
}

/** Token buckets in the database (`rate_buckets`): every process sharing it spends one budget per key. */
export class SharedBuckets implements RateLimiter {
  constructor(
    private readonly queries: Pick<StorageQueries, 'takeRateToken'>,
    private readonly limit: RateLimit,
  ) {}

  take(key: string, now: number): Promise<boolean> {
    return this.queries.takeRateToken(key, this.limit.capacity, this.limit.perSecond, now);
  }
}

/**
 * Per-address budget of FAILED authentications (device signatures, reviewer bearer tokens): a
 * forged request costs the server its whole body, a database lookup and signature checks before
 * it is refused, so an address that keeps failing is refused early, before its body is read.
 * Only failures spend the budget: an address whose requests authenticate is never refused here.
 * The budget is the limiter's (shared through the database on PostgreSQL); whether an address is
 * refused is remembered in this process from the failure that found the budget empty, so the
 * early check costs an honest request no database round trip. On several processes an address
 * gets at most one more expensive failure per process before each learns it is refused.
 */
export class FailedAuthentications {
  private readonly refusedUntil = new Map<string, number>();
  constructor(
    private readonly limiter: RateLimiter,
    private readonly limit: RateLimit,
  ) {}

  /** True while this address is known to have spent its failure budget: answer 429 without reading the request. */
  refused(address: string, now: number): boolean {
    const until = this.refusedUntil.get(address);
    if (until === undefined) return false;
    if (now < until) return true;
    this.refusedUntil.delete(address);
    return false;
  }

  /** Charges one failed authentication to the address; false when its budget was already spent (it is refused from now until a token refills). */
  async charge(address: string, now: number): Promise<boolean> {
    if (await this.limiter.take(`authfail:${address}`, now)) return true;
    if (this.refusedUntil.size > 100_000) this.refusedUntil.clear(); // bounded memory; a reset only forgives
    this.refusedUntil.set(address, now + 1000 / this.limit.perSecond);
    return false;
  }
}

/** Default failure budget per address: a burst of 20, then one every 10 s (refilled within the 10 minutes idle buckets are kept). */
export const FAILED_AUTH_LIMIT: RateLimit = { capacity: 20, perSecond: 0.1 };

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
 * The key a rotation proof would vouch for, from its shape alone (no hashing, no signatures):
 * the proof (JSON in the rotation header) is the device's `device.key-rotated` entries the
 * server does not hold yet, oldest first (or one such entry on its own); each must be this
 * device's, beyond what the server holds and after the one before it, first signed by the key
 * before it and naming the next key. Null when the shape is wrong. The request signature is
 * checked under this key before `rotationChainValid` spends any signature check on the entries,
 * so a forged header costs the server one verification, like any bad request.
 */
function rotationCandidate(
  proof: string | null,
  record: Pick<DeviceRecord, 'device' | 'headSeq'>,
  current: string,
): { readonly key: string; readonly entries: readonly SignedEntry[] } | null {
  if (proof === null || proof.length > MAX_ROTATIONS_PER_PROOF * 1_024) return null;
  // Deep nesting would run the hashing below out of stack: such a proof vouches for nothing.
  if (nestingBeyond(Buffer.from(proof, 'utf8')) !== null) return null;
  try {
    const parsed = JSON.parse(proof) as unknown;
    const entries = (Array.isArray(parsed) ? parsed : [parsed]) as SignedEntry[];
    if (entries.length === 0 || entries.length > MAX_ROTATIONS_PER_PROOF) return null;
    let key = current;
    let after = record.headSeq ?? -1;
    for (const entry of entries) {
      if (
        typeof entry !== 'object' ||
        entry === null ||
        entry.type !== ENTRY_TYPES.deviceKeyRotated ||
        entry.device !== record.device ||
        !(entry.seq > after)
      )
        return null;
      const next = (entry.data as Record<string, unknown> | null)?.newDeviceKey;
      if (!Array.isArray(entry.sigs) || entry.sigs[0]?.key !== key || typeof next !== 'string') return null;
      key = next;
      after = entry.seq;
    }
    return { key, entries };
  } catch {
    // Anything malformed vouches for nothing; the request is then refused as badly signed.
    return null;
  }
}

/** The expensive half of a rotation proof: every entry hashes correctly and is signed by the key before it and by the key it names. */
function rotationChainValid(entries: readonly SignedEntry[], current: string, sodium: Sodium): boolean {
  let key = current;
  try {
    for (const entry of entries) {
      if (sodium.to_hex(entryHashBytes(entry, sodium)) !== entry.hash) return false;
      const next = (entry.data as Record<string, unknown>).newDeviceKey as string;
      const [first, ...others] = entry.sigs;
      if (first?.key !== key || !verifyEntrySignature(entry.hash, first, sodium)) return false;
      if (!others.some((s) => s?.key === next && verifyEntrySignature(entry.hash, s, sodium))) return false;
      key = next;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The key that signs this device's requests now: the device id (its genesis key) until the
 * server has verified a `device.key-rotated` entry in the device's chain, then the newest key
 * that chain established. An older key no longer authenticates anything.
 */
export function currentDeviceKey(record: DeviceRecord): string {
  if (record.chainState === null) return record.device;
  const state = JSON.parse(record.chainState) as Partial<ChainState>;
  return typeof state.deviceKey === 'string' ? state.deviceKey : record.device;
}

/**
 * Proof of possession at enrolment: the signature over enrolSignatureMessage verifies under the
 * device key being enrolled or, when the device rotated its key before enrolling, under the key
 * a valid rotation proof (the same header as on signed requests) establishes from it.
 */
export function enrolmentSignatureValid(
  enrolment: { readonly device: string; readonly signature: string; readonly message: Uint8Array; readonly rotationProof: string | null },
  sodium: Sodium,
): boolean {
  const verifies = (key: string): boolean => {
    try {
      return sodium.crypto_sign_verify_detached(sodium.from_hex(enrolment.signature), enrolment.message, sodium.from_hex(key));
    } catch {
      return false;
    }
  };
  if (verifies(enrolment.device)) return true;
  const candidate = rotationCandidate(enrolment.rotationProof, { device: enrolment.device, headSeq: null }, enrolment.device);
  return candidate !== null && verifies(candidate.key) && rotationChainValid(candidate.entries, enrolment.device, sodium);
}

/** A request's nonce, checked unused but not yet recorded (authenticateDeviceDeferringNonce). */
export interface PendingNonce {
  readonly device: string;
  readonly nonce: string;
  readonly expiresAt: number;
}

export const replayedNonce = (): WireFailure =>
  new WireFailure(401, 'REPLAYED_NONCE', 'this request nonce was already used: a request is never accepted twice');

/**
 * Authenticates a device request: well-formed headers, a fresh timestamp, an enrolled and
 * unrevoked device, the path's device matching the header, a valid signature by the device's
 * current key, an unused nonce and budget left. Throws WireFailure with the code of the first check that fails.
 */
export async function authenticateDevice(
  request: SignedRequest,
  queries: StorageQueries,
  limiter: RateLimiter,
  sodium: Sodium,
  now: number,
): Promise<DeviceRecord> {
  const { record, nonce } = await signedBy(request, queries, limiter, sodium, now);
  if (!(await queries.rememberNonce(nonce.device, nonce.nonce, nonce.expiresAt))) throw replayedNonce();
  return record;
}

/**
 * authenticateDevice, except that the nonce is only checked unused, not recorded: the caller
 * records it (rememberNonce) before it answers, either in the transaction that carries out the
 * request (a replay racing it then finds the nonce there and is refused) or, when the request
 * fails, on its own. An ingest thus commits its nonce with its batch: one durable write, not two.
 */
export async function authenticateDeviceDeferringNonce(
  ...args: Parameters<typeof signedBy>
): Promise<{ readonly record: DeviceRecord; readonly nonce: PendingNonce }> {
  const signed = await signedBy(...args);
  if (await args[1].nonceUsed(signed.nonce.device, signed.nonce.nonce)) throw replayedNonce();
  return signed;
}

/** Every check of authenticateDevice but the nonce's, in its order; returns the device and the request's nonce. */
async function signedBy(
  request: SignedRequest,
  queries: StorageQueries,
  limiter: RateLimiter,
  sodium: Sodium,
  now: number,
): Promise<{ readonly record: DeviceRecord; readonly nonce: PendingNonce }> {
  const device = header(request.headers, SIGNED_HEADERS.device);
  const timestamp = header(request.headers, SIGNED_HEADERS.timestamp);
  const nonce = header(request.headers, SIGNED_HEADERS.nonce);
  const signature = header(request.headers, SIGNED_HEADERS.signature);
  if (device === null || timestamp === null || nonce === null || signature === null) {
    throw new WireFailure(401, 'UNAUTHENTICATED', `this endpoint needs a signed request (${Object.values(SIGNED_HEADERS).join(', ')})`);
  }
  if (
    !/^[0-9a-f]{64}$/.test(device) ||
    !/^\d{1,16}$/.test(timestamp) ||
    !/^[0-9a-f]{32,64}$/.test(nonce) ||
    !/^[0-9a-f]{128}$/.test(signature)
  ) {
    throw new WireFailure(
      401,
      'UNAUTHENTICATED',
      'a signed-request header is malformed (device: 64 hex, timestamp: ms, nonce: 32–64 hex, signature: 128 hex)',
    );
  }
  const sentAt = Number(timestamp);
  if (Math.abs(now - sentAt) > REQUEST_CLOCK_SKEW_MS) {
    throw new WireFailure(
      401,
      'STALE_REQUEST',
      `the request is timestamped ${Math.round((now - sentAt) / 1000)} s from server time (±${REQUEST_CLOCK_SKEW_MS / 1000} s allowed): check the device clock`,
    );
  }
  const record = await queries.getDevice(device);
  if (record === null) throw new WireFailure(401, 'UNKNOWN_DEVICE', 'this device is not enrolled: enrol it with a one-time token first');
  if (record.revokedAt !== null) throw new WireFailure(403, 'DEVICE_REVOKED', 'this device was revoked by an administrator');
  if (request.pathDevice !== null && request.pathDevice !== device) {
    throw new WireFailure(403, 'WRONG_DEVICE', 'a device may only act on its own journal');
  }
  // node:crypto's SHA-256: a batch body is hundreds of kilobytes, which wasm hashes several times slower.
  const bodySha256 = hash('sha256', request.body, 'hex');
  const message = requestSignatureMessage({ method: request.method, path: request.path, bodySha256, timestamp, nonce }, sodium);
  const verifies = (key: string): boolean => {
    try {
      return sodium.crypto_sign_verify_detached(sodium.from_hex(signature), message, sodium.from_hex(key));
    } catch {
      return false;
    }
  };
  const current = currentDeviceKey(record);
  let valid = verifies(current);
  if (!valid) {
    // Until the server has ingested a rotation, the device's new key is vouched for by the rotation entry itself.
    const candidate = rotationCandidate(header(request.headers, ROTATION_HEADER), record, current);
    valid = candidate !== null && verifies(candidate.key) && rotationChainValid(candidate.entries, current, sodium);
  }
  if (!valid)
    throw new WireFailure(
      401,
      'BAD_REQUEST_SIGNATURE',
      "the request signature does not verify under the device's current key (after a key rotation only the new key signs)",
    );
  // Only after the signature: an attacker must not be able to burn a device's nonces or budget.
  if (!(await limiter.take(device, now)))
    throw new WireFailure(429, 'RATE_LIMITED', 'too many requests from this device: retry after a pause');
  return { record, nonce: { device, nonce, expiresAt: sentAt + REQUEST_CLOCK_SKEW_MS } };
}
