import type { Sodium } from '../shared/sodium';

/** A fresh bearer secret (enrolment tokens, reviewer sessions): 32 random bytes, base64url. */
export function newToken(sodium: Sodium): string {
  return sodium.to_base64(sodium.randombytes_buf(32), sodium.base64_variants.URLSAFE_NO_PADDING);
}

/** Tokens are stored only as their SHA-256, so a copy of the database cannot be used to enrol or sign in. */
export function hashToken(token: string, sodium: Sodium): string {
  return sodium.to_hex(sodium.crypto_hash_sha256(sodium.from_string(token)));
}

/** Parses a TTL such as `15m`, `2h`, `30s`, `1d` into milliseconds. */
export function parseTtl(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  if (!match) throw new Error(`--ttl must look like 30s, 15m, 2h or 1d, not "${text}"`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
