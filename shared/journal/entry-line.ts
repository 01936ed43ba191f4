import { canonicalize, type JsonObject } from './canonical';
import type { EntrySignature, SignedEntry } from './entry';
import { MAX_ENTRY_DEPTH, valueDepthExceeds } from './limits';

/**
 * A fast reader of a bundle's entry line for the common case, where the line is the canonical JSON
 * of a well-formed entry record (docs/journal-format.md, sections 2, 3 and 9). Canonical JSON has
 * one layout: `{"entry":{"actor":…,"data":…,"device":"…","hash":"…","prev":"…","seq":…,"sigs":[…],
 * "time":…,"type":"…","v":1,"vault":"…"},"kind":"entry"}`. Every member but `actor` and `data`
 * has a fixed syntax, so one anchored pattern checks them all; only `data` is parsed and
 * re-encoded. The body that is hashed is cut from the line itself.
 *
 * It answers only for lines it can prove canonical and well formed, and then gives exactly the
 * entry JSON.parse gives and exactly canonicalBodyText of it; for anything else it answers null,
 * and the caller takes the general path (which reports what is wrong).
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

/** End of a canonical non-negative integer (no sign, no leading zero, at most 16 digits) starting at `at`, or -1. */
export function integerEnd(text: string, at: number): number {
  let i = at;
  while (i < text.length && i - at < 17) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i += 1;
  }
  if (i === at || i - at > 16 || (text.charCodeAt(at) === 48 && i - at > 1)) return -1;
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
function readTail(text: string, at: number) {
  let i = at + DEVICE.length;
  if (!hexAt(text, i, 64) || !text.startsWith('","hash":"', i + 64)) return null;
  const device = text.slice(i, i + 64);
  i += 74;
  if (!hexAt(text, i, 64) || !text.startsWith('","prev":"', i + 64)) return null;
  const hash = text.slice(i, i + 64);
  const prevAt = i + 64 + 1;
  i += 74;
  if (!hexAt(text, i, 64) || !text.startsWith('","seq":', i + 64)) return null;
  const prev = text.slice(i, i + 64);
  i += 72;
  const seqEnd = integerEnd(text, i);
  if (seqEnd < 0 || !text.startsWith(',"sigs":[', seqEnd)) return null;
  const seq = Number(text.slice(i, seqEnd));
  const sigsAt = seqEnd;
  i = seqEnd + 9;
  const sigs: EntrySignature[] = [];
  for (;;) {
    if (sigs.length === 16 || !text.startsWith('{"key":"', i) || !hexAt(text, i + 8, 64) || !text.startsWith('","sig":"', i + 72))
      return null;
    if (!hexAt(text, i + 81, 128) || !text.startsWith('"}', i + 209)) return null;
    sigs.push({ key: text.slice(i + 8, i + 72), sig: text.slice(i + 81, i + 209) });
    i += 211;
    if (text.charCodeAt(i) === 0x2c) i += 1;
    else break;
  }
  if (!text.startsWith('],"time":', i)) return null;
  const timeAt = i + 1;
  i += 9;
  const timeEnd = integerEnd(text, i);
  if (timeEnd < 0 || !text.startsWith(',"type":"', timeEnd)) return null;
  const time = Number(text.slice(i, timeEnd));
  i = timeEnd + 9;
  const end = typeEnd(text, i);
  if (end < 0 || !text.startsWith('","v":1,"vault":"', end)) return null;
  const type = text.slice(i, end);
  i = end + 17;
  if (!hexAt(text, i, 32) || !text.startsWith('"},"kind":"entry"}', i + 32) || i + 32 + 18 !== text.length) return null;
  const vault = text.slice(i, i + 32);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(time)) return null;
  return { device, hash, prev, seq, sigs, time, type, vault, prevAt, sigsAt, timeAt };
}

export function readCanonicalEntryLine(text: string): { readonly entry: SignedEntry; readonly body: string } | null {
  if (!text.startsWith(HEAD)) return null;
  // Only fixed-syntax members follow `data`, none of which can hold this text: its last
  // occurrence is the entry's own `device` member.
  const deviceAt = text.lastIndexOf(DEVICE);
  if (deviceAt < 0) return null;
  const tail = readTail(text, deviceAt);
  if (tail === null) return null;

  let actor: string | null = null;
  let dataAt: number;
  if (text.startsWith('null,"data":', HEAD.length)) dataAt = HEAD.length + 12;
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
  let data: JsonObject;
  try {
    data = JSON.parse(dataText) as JsonObject;
    if (valueDepthExceeds(data, MAX_ENTRY_DEPTH - 1) || canonicalize(data) !== dataText) return null;
  } catch {
    return null;
  }

  // Cut from the line: `"actor":…,"device":"…"`, `,"prev":"…","seq":…` and `,"time":…,"vault":"…"`.
  const body = `{${text.slice(HEAD.length - 8, deviceAt + 76)}${text.slice(tail.prevAt, tail.sigsAt)}${text.slice(tail.timeAt, text.length - RECORD_END)}}`;
  // Members in the order JSON.parse gives them (the line's).
  const { device, hash, prev, seq, sigs, time, type, vault } = tail;
  const entry = { actor, data, device, hash, prev, seq, sigs, time, type, v: 1, vault };
  return { entry: entry as unknown as SignedEntry, body };
}
