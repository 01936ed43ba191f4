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
    typeof vault !== 'string' ||
    typeof device !== 'string' ||
    typeof prev !== 'string' ||
    typeof type !== 'string' ||
    (actor !== null && typeof actor !== 'string') ||
    data === undefined ||
    !Number.isSafeInteger(v) ||
    !Number.isSafeInteger(seq) ||
    !Number.isSafeInteger(time)
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
    typeof vault !== 'string' ||
    typeof device !== 'string' ||
    typeof prev !== 'string' ||
    typeof type !== 'string' ||
    typeof hash !== 'string' ||
    (actor !== null && typeof actor !== 'string') ||
    data === undefined ||
    !Array.isArray(sigs) ||
    !Number.isSafeInteger(v) ||
    !Number.isSafeInteger(seq) ||
    !Number.isSafeInteger(time)
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

/** The entry-signature domain as bytes, encoded once. */
const DOMAIN = new TextEncoder().encode(ENTRY_SIGNATURE_DOMAIN);

/** The exact bytes an entry signature covers: the domain prefix followed by the 32-byte entry hash. */
export function entrySignatureMessage(hash: Uint8Array): Uint8Array {
  const message = new Uint8Array(DOMAIN.length + hash.length);
  message.set(DOMAIN, 0);
  message.set(hash, DOMAIN.length);
  return message;
}

/** SHA-256 of a text's UTF-8 bytes, as a fresh array: an entry hash is this of the canonical body. */
export type Sha256Text = (text: string) => Uint8Array;

/** libsodium's Sha256Text: what sealEntry hashes with where no native SHA-256 is injected. */
export const sodiumSha256Text =
  (sodium: Sodium = sodiumNow()): Sha256Text =>
  (text) =>
    sodium.crypto_hash_sha256(sodium.from_string(text));

/** An entry being written: every body field set; sealEntry fills in `hash` and `sigs`. */
export type UnsealedEntry = EntryBody & { hash: string; sigs: readonly EntrySignature[] };

/**
 * THE entry signing path: the journal store, the tests and every tool that writes entries sign
 * through here. Fills in `entry.hash` (SHA-256 of the canonical body) and `entry.sigs` (each
 * signer's Ed25519 signature over the domain-prefixed hash, in the order given: the device
 * first, then any custodian co-signers) and returns the hash as bytes, for a Merkle frontier.
 *
 * It is the store's fast path: the body is encoded and hashed once, SHA-256 is injected (the
 * Node side passes node:crypto's `sha256Text`, which hashes the text without an encoding step;
 * sodiumSha256Text elsewhere), and the entry object the caller built with every field is filled
 * in place, so nothing is copied per entry. `bodyText`, when the caller already encoded the body
 * (the store does, to check its size), must be canonicalBodyText(entry): a different text gives
 * an entry that fails verification with HASH_MISMATCH, never a silently different one.
 * signEntryReference below is the same rule written plainly; test/unit/journal-signing.test.ts
 * checks that both give the same entries.
 */
export function sealEntry(
  entry: UnsealedEntry,
  signers: readonly EntrySigner[],
  sha256Text: Sha256Text,
  bodyText: string = canonicalBodyText(entry),
): Uint8Array {
  const digest = sha256Text(bodyText);
  const message = entrySignatureMessage(digest);
  entry.hash = bytesToHex(digest);
  entry.sigs = signers.map((s) => ({ key: s.publicKey, sig: bytesToHex(s.sign(message)) }));
  return digest;
}

/** Hashes and signs a body with sealEntry (libsodium's SHA-256); the device signer comes first, then any custodian co-signers. */
export function signEntry(body: EntryBody, signers: readonly EntrySigner[], sodium: Sodium = sodiumNow()): SignedEntry {
  const entry: UnsealedEntry = { ...entryBodyOf(body), hash: '', sigs: [] };
  sealEntry(entry, signers, sodiumSha256Text(sodium));
  return entry;
}

/**
 * The signing rule of docs/journal-format.md written plainly, for reading and for checking the
 * fast path against: the general RFC 8785 encoder over the body's fields, SHA-256 of its UTF-8
 * bytes, the domain prefix, each signer in turn, everything in fresh arrays. Nothing writes
 * entries with it; test/unit/journal-signing.test.ts checks sealEntry agrees with it byte for byte.
 */
export function signEntryReference(body: EntryBody, signers: readonly EntrySigner[], sodium: Sodium = sodiumNow()): SignedEntry {
  const hash = sodium.crypto_hash_sha256(sodium.from_string(canonicalize(entryBodyOf(body))));
  const message = new Uint8Array([...sodium.from_string(ENTRY_SIGNATURE_DOMAIN), ...hash]);
  return {
    ...entryBodyOf(body),
    hash: sodium.to_hex(hash),
    sigs: signers.map((s) => ({ key: s.publicKey, sig: sodium.to_hex(s.sign(message)) })),
  };
}

/** Checks one detached signature of an entry hash; false on any malformed input. */
export function verifyEntrySignature(hashHex: string, signature: EntrySignature, sodium: Sodium = sodiumNow()): boolean {
  if (!/^[0-9a-f]{64}$/.test(hashHex) || !/^[0-9a-f]{64}$/.test(signature.key) || !/^[0-9a-f]{128}$/.test(signature.sig)) return false;
  try {
    return sodium.crypto_sign_verify_detached(
      sodium.from_hex(signature.sig),
      entrySignatureMessage(sodium.from_hex(hashHex)),
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
