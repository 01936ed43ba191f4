import { sodiumNow, type Sodium } from '../sodium';
import { canonicalize, type JsonObject } from './canonical';
import { ENTRY_SIGNATURE_DOMAIN } from './entry-types';
import { bytesToHex } from './hex';

/** Format version of a journal entry; bumps only with docs/journal-format.md. */
export const ENTRY_VERSION = 1;
/** The `prev` of the genesis entry. */
export const GENESIS_PREV = '0'.repeat(64);
export { ENTRY_SIGNATURE_DOMAIN };

/**
 * The signed part of a journal entry. Every field is hashed: the canonical JSON of this object
 * (RFC 8785) is the input of SHA-256, and that hash is what the chain links and the keys sign.
 */
export interface EntryBody {
  readonly v: typeof ENTRY_VERSION;
  /** Vault id: 32 lowercase hex characters. */
  readonly vault: string;
  /** Device id: the device's Ed25519 public key, 64 lowercase hex characters. */
  readonly device: string;
  /** 0 for genesis, then +1 per entry, per (vault, device). */
  readonly seq: number;
  /** Hash of entry seq-1 (hex), GENESIS_PREV for seq 0. */
  readonly prev: string;
  /** Milliseconds since the Unix epoch, integer. */
  readonly time: number;
  /** Entry type, dotted lowercase (e.g. `vault.genesis`, `checkout.opened`). */
  readonly type: string;
  /** The acting custodian's id, or null for the device acting alone. */
  readonly actor: string | null;
  /** Type-specific data; never a secret. */
  readonly data: JsonObject;
}

/** One signature over an entry: the signer's Ed25519 public key and the detached signature, both hex. */
export interface EntrySignature {
  readonly key: string;
  readonly sig: string;
}

/** An entry as stored and exported: the body, its hash (hex) and its signatures (device first). */
export interface SignedEntry extends EntryBody {
  readonly hash: string;
  readonly sigs: readonly EntrySignature[];
}

/** Something that can sign: an Ed25519 key pair held in memory of the main process only. */
export interface EntrySigner {
  /** Public key, hex. */
  readonly publicKey: string;
  /** Detached Ed25519 signature of message. */
  sign(message: Uint8Array): Uint8Array;
}

/** The fields of an entry as they go into the hash, in a fresh object (drops hash and sigs). */
export function entryBodyOf(entry: EntryBody): EntryBody {
  const { v, vault, device, seq, prev, time, type, actor, data } = entry;
  return { v, vault, device, seq, prev, time, type, actor, data };
}

/**
 * The canonical JSON (RFC 8785) of an entry's body: exactly canonicalize(entryBodyOf(entry)),
 * with the nine member names written in their sorted order instead of sorted per call (the
 * per-entry paths, appends and verification, call this once per entry). Anything unusual (a
 * missing field, a non-integer number) takes the general encoder, which also reports the problem.
 */
export function canonicalBodyText(entry: EntryBody): string {
  const { v, vault, device, seq, prev, time, type, actor, data } = entry;
  if (
    typeof vault !== 'string' || typeof device !== 'string' || typeof prev !== 'string' || typeof type !== 'string' ||
    (actor !== null && typeof actor !== 'string') || data === undefined ||
    !Number.isSafeInteger(v) || !Number.isSafeInteger(seq) || !Number.isSafeInteger(time)
  ) {
    return canonicalize(entryBodyOf(entry));
  }
  // Sorted by UTF-16 code units: actor, data, device, prev, seq, time, type, v, vault. Integers
  // print as String() does (and -0 as 0), strings as JSON.stringify escapes them (RFC 8785 3.2.2.2).
  let dataText: string;
  try {
    dataText = canonicalize(data);
  } catch {
    // The general encoder throws the same refusal with the path from the entry ($.data.…).
    return canonicalize(entryBodyOf(entry));
  }
  return `{"actor":${actor === null ? 'null' : JSON.stringify(actor)},"data":${dataText},"device":${JSON.stringify(device)},"prev":${JSON.stringify(prev)},"seq":${seq},"time":${time},"type":${JSON.stringify(type)},"v":${v},"vault":${JSON.stringify(vault)}}`;
}

/**
 * The canonical JSON of an entry's body (what is hashed) and of its bundle line
 * (`{"entry":…,"kind":"entry"}`), encoding `data` once for both: a verifier compares the line it
 * read with the second to refuse anything but the canonical form. Throws CanonicalEncodingError
 * on a value canonical JSON cannot hold (a float, an unsafe integer).
 */
export function canonicalEntryTexts(entry: SignedEntry): { readonly body: string; readonly line: string } {
  const { v, vault, device, seq, prev, time, type, actor, data, hash, sigs } = entry;
  if (
    typeof vault !== 'string' || typeof device !== 'string' || typeof prev !== 'string' || typeof type !== 'string' || typeof hash !== 'string' ||
    (actor !== null && typeof actor !== 'string') || data === undefined || !Array.isArray(sigs) ||
    !Number.isSafeInteger(v) || !Number.isSafeInteger(seq) || !Number.isSafeInteger(time)
  ) {
    return { body: canonicalBodyText(entry), line: canonicalize({ entry: entry as unknown as JsonObject, kind: 'entry' }) };
  }
  const a = actor === null ? 'null' : JSON.stringify(actor);
  const d = canonicalize(data);
  const dev = JSON.stringify(device);
  const p = JSON.stringify(prev);
  const t = JSON.stringify(type);
  const va = JSON.stringify(vault);
  return {
    body: `{"actor":${a},"data":${d},"device":${dev},"prev":${p},"seq":${seq},"time":${time},"type":${t},"v":${v},"vault":${va}}`,
    line: `{"entry":{"actor":${a},"data":${d},"device":${dev},"hash":${JSON.stringify(hash)},"prev":${p},"seq":${seq},"sigs":${signaturesText(sigs)},"time":${time},"type":${t},"v":${v},"vault":${va}},"kind":"entry"}`,
  };
}

/** canonicalize(sigs), written directly for the usual `{ key, sig }` strings (the general encoder sorts per object). */
function signaturesText(sigs: readonly EntrySignature[]): string {
  let text = '[';
  for (let i = 0; i < sigs.length; i++) {
    const s = sigs[i] as unknown;
    if (typeof s !== 'object' || s === null || Object.getPrototypeOf(s) !== Object.prototype) return canonicalize(sigs);
    const { key, sig } = s as Partial<EntrySignature>;
    if (typeof key !== 'string' || typeof sig !== 'string' || Object.keys(s).length !== 2) return canonicalize(sigs);
    text += `${i === 0 ? '' : ','}{"key":${JSON.stringify(key)},"sig":${JSON.stringify(sig)}}`;
  }
  return `${text}]`;
}

/** SHA-256 of the canonical JSON of the entry body. */
export function entryHashBytes(body: EntryBody, sodium: Sodium = sodiumNow()): Uint8Array {
  return sodium.crypto_hash_sha256(sodium.from_string(canonicalBodyText(body)));
}

/** The exact bytes an entry signature covers: the domain prefix followed by the 32-byte entry hash. */
export function entrySignatureMessage(hash: Uint8Array, sodium: Sodium = sodiumNow()): Uint8Array {
  const prefix = sodium.from_string(ENTRY_SIGNATURE_DOMAIN);
  const message = new Uint8Array(prefix.length + hash.length);
  message.set(prefix, 0);
  message.set(hash, prefix.length);
  return message;
}

/** Hashes and signs a body; the device signer comes first, then any custodian co-signers. */
export function signEntry(body: EntryBody, signers: readonly EntrySigner[], sodium: Sodium = sodiumNow()): SignedEntry {
  return signHashedEntry(body, entryHashBytes(body, sodium), signers, sodium);
}

/**
 * Signs a body whose hash the caller already computed (entryHashBytes, or the same SHA-256 from
 * a native library), so a hot path hashes each entry once. A wrong hash yields an entry that fails
 * verification with HASH_MISMATCH, never a silently different one.
 */
export function signHashedEntry(body: EntryBody, hash: Uint8Array, signers: readonly EntrySigner[], sodium: Sodium = sodiumNow()): SignedEntry {
  const message = entrySignatureMessage(hash, sodium);
  return {
    ...entryBodyOf(body),
    hash: bytesToHex(hash),
    sigs: signers.map((s) => ({ key: s.publicKey, sig: bytesToHex(s.sign(message)) })),
  };
}

/** Checks one detached signature of an entry hash; false on any malformed input. */
export function verifyEntrySignature(hashHex: string, signature: EntrySignature, sodium: Sodium = sodiumNow()): boolean {
  if (!/^[0-9a-f]{64}$/.test(hashHex) || !/^[0-9a-f]{64}$/.test(signature.key) || !/^[0-9a-f]{128}$/.test(signature.sig)) return false;
  try {
    return sodium.crypto_sign_verify_detached(
      sodium.from_hex(signature.sig),
      entrySignatureMessage(sodium.from_hex(hashHex), sodium),
      sodium.from_hex(signature.key),
    );
  } catch {
    return false;
  }
}

/** An in-memory signer over an Ed25519 secret key (64 bytes, libsodium layout). */
export function ed25519Signer(secretKey: Uint8Array, sodium: Sodium = sodiumNow()): EntrySigner {
  const publicKey = sodium.to_hex(sodium.crypto_sign_ed25519_sk_to_pk(secretKey));
  return { publicKey, sign: (message) => sodium.crypto_sign_detached(message, secretKey) };
}
