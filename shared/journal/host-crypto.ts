import { ENTRY_SIGNATURE_DOMAIN } from './entry-types';
import type { EntrySignature, Sha256Text } from './entry';
import type { JournalPrimitives } from './primitives';

/**
 * The part of Node's `crypto` module the journal's hot paths use. shared/ never imports Node: the
 * one module that passes `node:crypto` itself is server/native-primitives.ts, which the server,
 * the main process, its workers and the CLI all import.
 */
export interface HostCrypto<Key> {
  /** One-shot digest; a string `data` is hashed as its UTF-8 bytes. */
  hash(algorithm: 'sha256', data: Uint8Array | string, outputEncoding: 'binary'): string;
  createHash(algorithm: 'sha256'): { update(data: string | Uint8Array, inputEncoding?: 'utf8'): unknown; digest(encoding: 'hex'): string };
  createPublicKey(key: { key: string; format: 'der'; type: 'spki'; encoding: 'hex' }): Key;
  verify(algorithm: null, data: Uint8Array, key: Key, signature: Uint8Array): boolean;
}

/**
 * The journal primitives with an entry check that also takes malformed input (workers hand it raw
 * JSON), and SHA-256 of a text's UTF-8 bytes, with no encoding step (what sealEntry hashes).
 */
export interface HostPrimitives extends JournalPrimitives {
  readonly sha256Text: Sha256Text;
  readonly verifyEntrySignature: (hashHex: string, signature: Partial<EntrySignature> | null) => boolean;
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow. */
const SPKI_ED25519 = '302a300506032b6570032100';
const HEX = /^[0-9a-f]*$/;

/**
 * The journal's primitives on the host's crypto (OpenSSL under Node): SHA-256 and Ed25519 that
 * compute exactly what libsodium does (test/unit/journal-primitives.test.ts checks both agree),
 * without wasm calls and copies. Public keys are parsed once each and cached; a journal has a
 * handful (device, custodians), never one per entry.
 */
export function hostPrimitives<Key>(crypto: HostCrypto<Key>): HostPrimitives {
  const domain = new TextEncoder().encode(ENTRY_SIGNATURE_DOMAIN);
  const keys = new Map<string, Key | null>();
  const publicKey = (hex: string): Key | null => {
    let key = keys.get(hex);
    if (key === undefined) {
      try {
        key =
          hex.length === 64 && HEX.test(hex)
            ? crypto.createPublicKey({ key: SPKI_ED25519 + hex, format: 'der', type: 'spki', encoding: 'hex' })
            : null;
      } catch {
        key = null;
      }
      if (keys.size < 10_000) keys.set(hex, key);
    }
    return key;
  };
  return {
    // The digest as a one-byte string copied into a small array: about half the cost of asking for a
    // Buffer, whose separately allocated memory also makes more work for the garbage collector.
    sha256: (data) => bytesOfBinary(crypto.hash('sha256', data, 'binary')),
    sha256Text: (text) => bytesOfBinary(crypto.hash('sha256', text, 'binary')),
    textDigest: () => {
      const digest = crypto.createHash('sha256');
      return {
        update: (text) => void (typeof text === 'string' ? digest.update(text, 'utf8') : digest.update(text)),
        hex: () => digest.digest('hex'),
      };
    },
    verifyEntrySignature: (hashHex, sig) => {
      if (sig === null || typeof sig.key !== 'string' || typeof sig.sig !== 'string' || sig.sig.length !== 128 || hashHex.length !== 64)
        return false;
      const key = publicKey(sig.key);
      if (key === null) return false;
      // Message (domain ‖ hash) and signature decoded in one pass each, refusing any character that
      // is not lowercase hex: no pattern test followed by a second walk over the same text.
      const message = new Uint8Array(domain.length + 32);
      message.set(domain, 0);
      const signature = new Uint8Array(64);
      if (!hexInto(hashHex, message, domain.length) || !hexInto(sig.sig, signature, 0)) return false;
      try {
        return crypto.verify(null, message, key, signature);
      } catch {
        return false;
      }
    },
  };
}

function bytesOfBinary(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Value of a lowercase hex digit's char code, or 16 for any other character. */
const NIBBLE = Array.from({ length: 128 }, (_, code) =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : 16,
);

/** Decodes lowercase hex (whole bytes) into `out` at `offset`; false, with `out` partly written, on any other character. */
function hexInto(hex: string, out: Uint8Array, offset: number): boolean {
  for (let i = 0, j = offset; i < hex.length; i += 2, j++) {
    const hi = NIBBLE[hex.charCodeAt(i)] ?? 16;
    const lo = NIBBLE[hex.charCodeAt(i + 1)] ?? 16;
    if ((hi | lo) > 15) return false;
    out[j] = (hi << 4) | lo;
  }
  return true;
}
