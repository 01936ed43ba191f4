import { canonicalize, type JsonObject } from './canonical';
import type { EntrySignature, SignedEntry } from './entry';
import { MAX_ENTRY_DEPTH, textDepthExceeds, valueDepthExceeds } from './limits';

/**
 * A fast reader of a bundle's entry line for the common case, where the line is the canonical JSON
 * of a well-formed entry record (docs/journal-format.md, sections 2, 3 and 9). Canonical JSON has
 * one layout: `{"entry":{"actor":…,"data":…,"device":"…","hash":"…","prev":"…","seq":…,"sigs":[…],
 * "time":…,"type":"…","v":1,"vault":"…"},"kind":"entry"}`. Every member but `actor` and `data`
 * has a fixed syntax, checked in place, member by member; only `data` is parsed, and its text is
 * proven canonical by one scan (provenCanonicalText; canonicalize decides what the scan cannot).
 * The body that is hashed is cut from the line itself.
 *
 * It answers only for lines it can prove canonical and well formed, and then gives exactly the
 * entry JSON.parse gives and exactly canonicalBodyText of it; for anything else it answers null,
 * and the caller takes the general path (which reports what is wrong). It parses nothing nested
 * deeper than MAX_ENTRY_DEPTH allows, so a line needs no depth check before it.
 */

const HEAD = '{"entry":{"actor":';
const DEVICE = ',"device":"';
const DATA = ',"data":';
/** `},"kind":"entry"}`: what closes the entry and the record. */
const RECORD_END = 17;

/** 1 for the char codes of lowercase hex digits. */
const HEX = new Uint8Array(128);
for (const c of '0123456789abcdef') HEX[c.charCodeAt(0)] = 1;

/** Whether text[at, at + length) is lowercase hex. */
export function hexAt(text: string, at: number, length: number): boolean {
  if (at + length > text.length) return false;
  for (let i = at; i < at + length; i++) if (HEX[text.charCodeAt(i)] !== 1) return false;
  return true;
}

/**
 * Lowercase hex members a line may repeat, known to be well formed already (checked when they
 * were given): a member equal to one is taken as it is, without a second pass over its digits.
 */
interface Known {
  device: string | null;
  vault: string | null;
  deviceKey: string | null;
  /** The hash of the last line this reader took (checked then): the next line's `prev` as a rule. */
  prev: string | null;
  /** `,"device":"…","hash":"` with the known device: a line that has it there has that device. */
  deviceSpan: string | null;
  /** `{"key":"…","sig":"` with the known device key, as the first signature starts. */
  keySpan: string | null;
  /** `","v":1,"vault":"…"},"kind":"entry"}` with the known vault: how a line of that vault ends after its type. */
  vaultSpan: string | null;
}

/** Whether `span` (when known) is written at `at`: one slice compared whole. */
function spanAt(text: string, at: number, span: string | null): boolean {
  return span !== null && text.slice(at, at + span.length) === span;
}

/** The member of `length` lowercase hex digits at `at`: the known value when the line repeats it, else the digits when they are hex; null otherwise. */
function hexMember(text: string, at: number, length: number, known: string | null): string | null {
  const value = text.slice(at, at + length);
  if (value === known) return known;
  return hexAt(text, at, length) ? value : null;
}

/**
 * Whether `literal` is written at `at`. A slice compared whole: V8 compares strings in one native
 * step, several times faster per call than startsWith with a position or a loop of charCodeAt.
 */
function has(text: string, at: number, literal: string): boolean {
  return text.slice(at, at + literal.length) === literal;
}

/** The value of the integer integerEnd last read (it reads the digits anyway). */
let integerValue = 0;

/**
 * End of a canonical non-negative integer (no sign, no leading zero, at most 16 digits) starting
 * at `at`, or -1; its value is left in integerValue (exact up to 2^53; a larger one comes out
 * at least 2^53, which the caller refuses as not a safe integer).
 */
export function integerEnd(text: string, at: number): number {
  let i = at;
  let value = 0;
  while (i < text.length && i - at < 17) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    i += 1;
  }
  if (i === at || i - at > 16 || (text.charCodeAt(at) === 48 && i - at > 1)) return -1;
  integerValue = value;
  return i;
}

/** End of an entry type (`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$`, at most 128 characters) starting at `at`, or -1; it ends at a quote. */
function typeEnd(text: string, at: number): number {
  let wordStart = true;
  for (let i = at; i < text.length && i - at <= 128; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return wordStart || i === at ? -1 : i;
    const letter = c >= 97 && c <= 122;
    if (wordStart) {
      if (!letter) return -1;
      wordStart = false;
    } else if (c === 0x2e) wordStart = true;
    else if (!letter && !(c >= 48 && c <= 57) && c !== 0x2d) return -1;
  }
  return -1;
}

/**
 * The fixed-syntax members after `data`, starting at `at` (the `,` of `,"device":"`), through the
 * end of the record: their values, and the offsets the body is cut at; null unless exact.
 */
function readTail(text: string, at: number, known: Known) {
  let i = at + DEVICE.length;
  let device: string | null = known.device;
  if (!spanAt(text, at, known.deviceSpan)) {
    device = hexMember(text, i, 64, null);
    if (!has(text, i + 64, '","hash":"')) return null;
  }
  if (device === null) return null;
  i += 74;
  if (!hexAt(text, i, 64) || !has(text, i + 64, '","prev":"')) return null;
  const hash = text.slice(i, i + 64);
  const prevAt = i + 64 + 1;
  i += 74;
  const prev = hexMember(text, i, 64, known.prev);
  if (prev === null || !has(text, i + 64, '","seq":')) return null;
  i += 72;
  const seqEnd = integerEnd(text, i);
  if (seqEnd < 0 || !has(text, seqEnd, ',"sigs":[')) return null;
  const seq = integerValue;
  const sigsAt = seqEnd;
  i = seqEnd + 9;
  const sigs: EntrySignature[] = [];
  for (;;) {
    let key: string | null = known.deviceKey;
    if (sigs.length !== 0 || !spanAt(text, i, known.keySpan)) {
      if (sigs.length === 16 || !has(text, i, '{"key":"')) return null;
      key = hexMember(text, i + 8, 64, null);
      if (!has(text, i + 72, '","sig":"')) return null;
    }
    if (key === null) return null;
    if (!hexAt(text, i + 81, 128) || !has(text, i + 209, '"}')) return null;
    sigs.push({ key, sig: text.slice(i + 81, i + 209) });
    i += 211;
    if (text.charCodeAt(i) === 0x2c) i += 1;
    else break;
  }
  if (!has(text, i, '],"time":')) return null;
  const timeAt = i + 1;
  i += 9;
  const timeEnd = integerEnd(text, i);
  if (timeEnd < 0 || !has(text, timeEnd, ',"type":"')) return null;
  const time = integerValue;
  i = timeEnd + 9;
  const end = typeEnd(text, i);
  if (end < 0) return null;
  const type = text.slice(i, end);
  let vault: string | null = known.vault;
  if (!(spanAt(text, end, known.vaultSpan) && end + known.vaultSpan!.length === text.length)) {
    if (!has(text, end, '","v":1,"vault":"')) return null;
    i = end + 17;
    vault = hexMember(text, i, 32, null);
    if (!has(text, i + 32, '"},"kind":"entry"}') || i + 32 + 18 !== text.length) return null;
  }
  if (vault === null) return null;
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(time)) return null;
  return { device, hash, prev, seq, sigs, time, type, vault, prevAt, sigsAt, timeAt };
}

/** How deep `data` may nest: the entry is depth 1 and its `data` depth 2 (limits.ts), so data counts from 1 to this. */
const DATA_DEPTH = MAX_ENTRY_DEPTH - 1;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
/** The largest safe integer's digits: a 16-digit integer is safe when it is not above this. */
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

/**
 * Per level of the value being scanned (level 1 is the outermost): whether it is an object, and
 * where its last member name's text starts and ends (-1: none yet). Shared scratch: the scan
 * runs to completion without calling out.
 */
const levelIsObject = new Uint8Array(DATA_DEPTH + 1);
const levelNameStart = new Int32Array(DATA_DEPTH + 1);
const levelNameEnd = new Int32Array(DATA_DEPTH + 1);

/**
 * End of the string token starting at `at` (a quote) when it is written exactly as canonical JSON
 * writes its value (JSON.stringify's escapes: `\"`, `\\`, the five short control escapes, `\u00xx`
 * in lowercase for the other control characters; every other character as itself, surrogates
 * only in pairs), or -1. With `plain`, any escape also answers -1 (member names are compared as
 * written, which is their value only when nothing is escaped).
 */
function canonicalStringEnd(text: string, at: number, plain: boolean): number {
  const n = text.length;
  let i = at + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      if (plain) return -1;
      const e = text.charCodeAt(i + 1);
      if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
      else if (e === 0x75 && text.charCodeAt(i + 2) === ZERO && text.charCodeAt(i + 3) === ZERO) {
        const hi = text.charCodeAt(i + 4);
        const lo = text.charCodeAt(i + 5);
        const high = hi === ZERO ? 0 : hi === 0x31 ? 16 : -1;
        const low = lo >= ZERO && lo <= NINE ? lo - ZERO : lo >= 0x61 && lo <= 0x66 ? lo - 0x61 + 10 : -1;
        const code = high + low;
        // \u00xx is written only for a control character with no short escape (b t n f r).
        if (high < 0 || low < 0 || code === 8 || code === 9 || code === 10 || code === 12 || code === 13) return -1;
        i += 6;
      } else return -1;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A high surrogate followed by a low one is a character; any other is refused (canonicalize throws).
      const next = text.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return -1;
      i += 2;
    } else i += 1;
  }
  return -1;
}

/** End of the number token at `at` when it is a safe integer written canonically (no `-0`, no leading zero, fraction or exponent), or -1. */
function canonicalIntegerEnd(text: string, at: number): number {
  let i = at;
  if (text.charCodeAt(i) === MINUS) i += 1;
  const digits = i;
  const first = text.charCodeAt(i);
  if (first === ZERO) {
    // 0 alone; -0 is written 0.
    if (digits !== at) return -1;
    i += 1;
  } else if (first > ZERO && first <= NINE) {
    do i += 1;
    while (text.charCodeAt(i) >= ZERO && text.charCodeAt(i) <= NINE);
  } else return -1;
  const length = i - digits;
  // A fraction or an exponent after the digits is refused by the caller, which reads only `,`, `}` or `]` there.
  return length > 16 || (length === 16 && text.slice(digits, i) > MAX_SAFE_DIGITS) ? -1 : i;
}

/** Whether text[a0, a1) sorts strictly before text[b0, b1) by UTF-16 code units (RFC 8785 section 3.2.3). */
function sortsBefore(text: string, a0: number, a1: number, b0: number, b1: number): boolean {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let k = 0; k < n; k++) {
    const a = text.charCodeAt(a0 + k);
    const b = text.charCodeAt(b0 + k);
    if (a !== b) return a < b;
  }
  return a1 - a0 < b1 - b0;
}

/**
 * Whether a JSON text is, as written, the canonical JSON (canonical.ts) of the value it holds,
 * nested no deeper than DATA_DEPTH (counted as valueDepthExceeds counts): no whitespace; every
 * string as canonicalStringEnd requires; every number a safe integer written as canonical JSON
 * writes it; every object's member names unescaped and in strictly increasing order by UTF-16
 * code units (so none repeats). One pass over the text, no allocation.
 *
 * True proves canonicalize(JSON.parse(text)) === text. False means only "not proven": a text
 * with an escaped member name, for one, is canonical or not, and the caller then asks
 * canonicalize() itself.
 */
export function provenCanonicalText(text: string): boolean {
  const n = text.length;
  let depth = 0;
  let i = 0;
  for (;;) {
    // A value starts at i.
    const c = text.charCodeAt(i);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > DATA_DEPTH) return false;
      const object = c === OPEN_BRACE;
      levelIsObject[depth] = object ? 1 : 0;
      levelNameStart[depth] = -1;
      levelNameEnd[depth] = -1;
      i += 1;
      if (text.charCodeAt(i) === (object ? CLOSE_BRACE : CLOSE_BRACKET)) {
        i += 1;
        depth -= 1;
      } else {
        if (object && !(i = memberNameEnd(text, i, depth))) return false;
        continue;
      }
    } else if (c === QUOTE) {
      i = canonicalStringEnd(text, i, false);
      if (i < 0) return false;
    } else if (c === 0x74) {
      if (!has(text, i, 'true')) return false;
      i += 4;
    } else if (c === 0x66) {
      if (!has(text, i, 'false')) return false;
      i += 5;
    } else if (c === 0x6e) {
      if (!has(text, i, 'null')) return false;
      i += 4;
    } else {
      i = canonicalIntegerEnd(text, i);
      if (i < 0) return false;
    }
    // A value ended at i: close its containers, or go on to the next member or item.
    for (;;) {
      if (depth === 0) return i === n;
      const d = text.charCodeAt(i);
      if (d === COMMA) {
        i += 1;
        if (levelIsObject[depth] === 1 && !(i = memberNameEnd(text, i, depth))) return false;
        break;
      }
      if (d !== (levelIsObject[depth] === 1 ? CLOSE_BRACE : CLOSE_BRACKET)) return false;
      i += 1;
      depth -= 1;
    }
  }
}

/**
 * Reads the member name at `at` (and its colon) in the object at `depth`: the position of its
 * value, or 0 when the name is escaped or does not sort after the object's previous name.
 */
function memberNameEnd(text: string, at: number, depth: number): number {
  if (text.charCodeAt(at) !== QUOTE) return 0;
  const end = canonicalStringEnd(text, at, true);
  if (end < 0 || text.charCodeAt(end) !== COLON) return 0;
  const previous = levelNameStart[depth]!;
  if (previous >= 0 && !sortsBefore(text, previous, levelNameEnd[depth]!, at + 1, end - 1)) return 0;
  levelNameStart[depth] = at + 1;
  levelNameEnd[depth] = end - 1;
  return end + 1;
}

/**
 * The value of an entry's `data` text when that text is exactly its canonical JSON (and nests no
 * deeper than MAX_ENTRY_DEPTH allows), or null. The common case is proven by one scan of the text
 * (provenCanonicalText) instead of re-encoding the value; anything that scan does not prove is
 * decided by canonicalize itself, as before.
 */
export function canonicalDataOf(dataText: string): JsonObject | null {
  // The scan first: what it proves nests no deeper than the limit, and a text it does not prove is
  // depth-checked before JSON.parse sees it, so no line makes the parser walk deeper than that.
  const proven = provenCanonicalText(dataText);
  if (!proven && textDepthExceeds(dataText, DATA_DEPTH)) return null;
  try {
    const data = JSON.parse(dataText) as JsonObject;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
    if (proven) return data;
    return valueDepthExceeds(data, DATA_DEPTH) || canonicalize(data) !== dataText ? null : data;
  } catch {
    return null;
  }
}

/** An entry line read: the entry JSON.parse gives, and canonicalBodyText of it (what is hashed). */
export interface EntryLine {
  readonly entry: SignedEntry;
  readonly body: string;
}

/** Values a run of lines from one journal repeats on nearly every line (the verifier's state knows them). */
export interface RepeatedMembers {
  readonly device?: string | null;
  readonly vault?: string | null;
  /** The device key, which signs first. */
  readonly deviceKey?: string | null;
}

const HEX64 = /^[0-9a-f]{64}$/;
const VAULT_HEX = /^[0-9a-f]{32}$/;
const checked = (value: string | null | undefined, pattern: RegExp): string | null =>
  typeof value === 'string' && pattern.test(value) ? value : null;

/**
 * Reads the entry lines of one journal in order (readCanonicalEntryLine's rule, line by line). The
 * device, vault and device key given (each checked here once), and the hash of the last line
 * read, spare the hex check of the same members on each line that repeats them: a member equal
 * to a checked value is well formed. A line that repeats none is checked digit by digit, so what
 * it accepts does not depend on them.
 */
export class EntryLineReader {
  private readonly known: Known;

  constructor(repeated: RepeatedMembers = {}) {
    const device = checked(repeated.device, HEX64);
    const vault = checked(repeated.vault, VAULT_HEX);
    const deviceKey = checked(repeated.deviceKey, HEX64);
    this.known = {
      device,
      vault,
      deviceKey,
      prev: null,
      deviceSpan: device && `${DEVICE}${device}","hash":"`,
      keySpan: deviceKey && `{"key":"${deviceKey}","sig":"`,
      vaultSpan: vault && `","v":1,"vault":"${vault}"},"kind":"entry"}`,
    };
  }

  read(text: string): EntryLine | null {
    const line = readLine(text, this.known);
    if (line !== null) this.known.prev = line.entry.hash;
    return line;
  }
}

const NOTHING_KNOWN: Known = { device: null, vault: null, deviceKey: null, prev: null, deviceSpan: null, keySpan: null, vaultSpan: null };

export function readCanonicalEntryLine(text: string): EntryLine | null {
  return readLine(text, NOTHING_KNOWN);
}

/**
 * `text.lastIndexOf(needle)`, searched forward: V8 searches forward several times faster than
 * backward (about 0.3 against 2.4 µs over an export line's 2 KB receipt, Node 20), and a needle
 * that occurs once, the usual case here, is found by two forward searches.
 */
export function lastOccurrence(text: string, needle: string): number {
  const first = text.indexOf(needle);
  if (first < 0 || text.indexOf(needle, first + 1) < 0) return first;
  return text.lastIndexOf(needle);
}

function readLine(text: string, known: Known): EntryLine | null {
  if (!has(text, 0, HEAD)) return null;
  // Only fixed-syntax members follow `data`, none of which can hold this text: its last
  // occurrence is the entry's own `device` member.
  const deviceAt = lastOccurrence(text, DEVICE);
  if (deviceAt < 0) return null;
  const tail = readTail(text, deviceAt, known);
  if (tail === null) return null;

  let actor: string | null = null;
  let dataAt: number;
  if (has(text, HEAD.length, 'null,"data":')) dataAt = HEAD.length + 12;
  else {
    // A canonical string never holds an unescaped quote, so `,"data":` cannot occur inside it.
    const end = text.indexOf(DATA, HEAD.length);
    if (end < 0 || text.charCodeAt(HEAD.length) !== 0x22) return null;
    const token = text.slice(HEAD.length, end);
    let parsed: unknown;
    try {
      parsed = JSON.parse(token);
    } catch {
      return null;
    }
    if (typeof parsed !== 'string' || parsed.length === 0 || parsed.length > 256 || JSON.stringify(parsed) !== token) return null;
    actor = parsed;
    dataAt = end + DATA.length;
  }
  const dataText = text.slice(dataAt, deviceAt);
  if (dataText.charCodeAt(0) !== 0x7b) return null;
  const data = canonicalDataOf(dataText);
  if (data === null) return null;

  // Cut from the line: `"actor":…,"device":"…"`, `,"prev":"…","seq":…` and `,"time":…,"vault":"…"`.
  const body = `{${text.slice(HEAD.length - 8, deviceAt + 76)}${text.slice(tail.prevAt, tail.sigsAt)}${text.slice(tail.timeAt, text.length - RECORD_END)}}`;
  // Members in the order JSON.parse gives them (the line's).
  const { device, hash, prev, seq, sigs, time, type, vault } = tail;
  const entry = { actor, data, device, hash, prev, seq, sigs, time, type, v: 1, vault };
  return { entry: entry as unknown as SignedEntry, body };
}
