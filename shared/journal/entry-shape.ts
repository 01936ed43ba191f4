import { z } from 'zod';
import { ENTRY_VERSION, type SignedEntry } from './entry';
import { ENTRY_TYPE_PATTERN, HEX32, VAULT_ID } from './entry-types';

const SIG128 = /^[0-9a-f]{128}$/;

/** The exact shape of a stored or exported entry (docs/journal-format.md); unknown fields are refused. */
export const entrySchema = z
  .object({
    v: z.literal(ENTRY_VERSION),
    vault: z.string().regex(VAULT_ID),
    device: z.string().regex(HEX32),
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    prev: z.string().regex(HEX32),
    time: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    type: z.string().max(128).regex(ENTRY_TYPE_PATTERN),
    actor: z.string().min(1).max(256).nullable(),
    data: z.record(z.string(), z.unknown()),
    hash: z.string().regex(HEX32),
    sigs: z
      .array(z.object({ key: z.string().regex(HEX32), sig: z.string().regex(SIG128) }).strict())
      .min(1)
      .max(16),
  })
  .strict();

const ENTRY_FIELDS = 11;
const counter = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const hex64 = (s: unknown): s is string => typeof s === 'string' && HEX32.test(s);

/**
 * Strings that passed their pattern recently. A journal repeats its vault, device and signing
 * keys on every entry, and each entry's prev is the hash checked just before it, so comparing
 * with these (a few dozen bytes each) replaces most regular-expression tests on the hot path.
 * A string only ever gets here by passing the same test (one memo per pattern, never shared),
 * so the answers cannot change.
 */
function memoTest(pattern: RegExp): (s: unknown) => s is string {
  const passed: string[] = [];
  return (s: unknown): s is string => {
    if (typeof s !== 'string') return false;
    if (passed.includes(s)) return true;
    if (!pattern.test(s)) return false;
    if (passed.length >= 8) passed.shift();
    passed.push(s);
    return true;
  };
}
const stableHex64 = memoTest(HEX32);
const stableVault = memoTest(VAULT_ID);
let lastHash = '';
const prevHex64 = (s: unknown): s is string => typeof s === 'string' && (s === lastHash || HEX32.test(s));
const plainObject = (o: unknown): o is Record<string, unknown> => {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const proto = Object.getPrototypeOf(o) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * The same acceptance as entrySchema for the usual case, without building a parsed copy: the
 * verifier runs this on every entry and asks zod only when it says no, for zod's error message.
 * It may refuse more than the schema (then zod decides), never accept more.
 */
export function isWellFormedEntry(raw: unknown): raw is SignedEntry {
  if (!plainObject(raw) || Object.keys(raw).length !== ENTRY_FIELDS) return false;
  const e = raw;
  if (e.v !== ENTRY_VERSION || !stableVault(e.vault) || !stableHex64(e.device) || !counter(e.seq) || !prevHex64(e.prev) || !counter(e.time))
    return false;
  if (typeof e.type !== 'string' || e.type.length > 128 || !ENTRY_TYPE_PATTERN.test(e.type)) return false;
  if (e.actor !== null && (typeof e.actor !== 'string' || e.actor.length === 0 || e.actor.length > 256)) return false;
  if (!plainObject(e.data) || !hex64(e.hash) || !Array.isArray(e.sigs) || e.sigs.length < 1 || e.sigs.length > 16) return false;
  for (const s of e.sigs as unknown[]) {
    if (!plainObject(s) || Object.keys(s).length !== 2 || !stableHex64(s.key) || typeof s.sig !== 'string' || !SIG128.test(s.sig))
      return false;
  }
  lastHash = e.hash;
  return true;
}
