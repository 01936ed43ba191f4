import type { z } from 'zod';
import { WireFailure } from './errors';

/**
 * How deeply a request body (and the JSON of the rotation header) may nest arrays and objects.
 * A batch of valid entries needs the format's entry depth plus two (the body object and its
 * `entries` array); this leaves room above any depth the journal format allows, and far below
 * what makes recursive code (canonical JSON, the structured clone that hands a batch to the
 * signature workers) run out of stack. Entries deeper than the format's own limit are refused by
 * the journal verifier (422 ENTRY_INVALID, MALFORMED_ENTRY); see docs/sync-protocol.md, "Errors".
 */
export const MAX_BODY_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The byte offset at which JSON text first nests deeper than `max` arrays and objects, or null
 * when it never does. One pass over the bytes with a counter, no recursion and no parse: strings
 * are skipped to their closing quote (UTF-8 continuation bytes never equal an ASCII bracket or
 * quote), so a bracket inside a string does not count. Text that is not JSON at all is left to
 * JSON.parse to refuse.
 */
export function nestingBeyond(bytes: Uint8Array, max: number = MAX_BODY_DEPTH): number | null {
  const n = bytes.length;
  let depth = 0;
  let i = 0;
  while (i < n) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // Find the quote that ends the string: one preceded by an even run of backslashes.
      let from = i + 1;
      for (;;) {
        const q = bytes.indexOf(QUOTE, from);
        if (q < 0) return null;
        let k = q - 1;
        while (k > i && bytes[k] === BACKSLASH) k--;
        if ((q - 1 - k) % 2 === 0) {
          i = q + 1;
          break;
        }
        from = q + 1;
      }
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > max) return i;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth -= 1;
    i += 1;
  }
  return null;
}

/** Refuses a body (or header) nesting deeper than MAX_BODY_DEPTH: 400 BODY_TOO_DEEP, before anything parses it. */
export function refuseDeepJson(bytes: Uint8Array, what = 'the request body'): void {
  const at = nestingBeyond(bytes);
  if (at !== null)
    throw new WireFailure(400, 'BODY_TOO_DEEP', `${what} nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels (at byte ${at})`);
}

/** Parses a raw JSON body against a zod schema; any problem is a 400 naming the field, never a 5xx. */
export function parseBody<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  // A view over the body's bytes, not a copy of them (a batch is up to 4 MiB).
  const text = raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8') : '';
  if (text.length === 0) throw new WireFailure(400, 'BAD_REQUEST', 'the request needs a JSON body');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WireFailure(400, 'BAD_REQUEST', 'the request body is not valid JSON');
  }
  return parseValue(schema, json, 'body');
}

/** Validates an already-parsed value (query strings, params). */
export function parseValue<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${what}.${issue.path.join('.')}` : what;
  throw new WireFailure(400, 'BAD_REQUEST', `${where}: ${issue?.message ?? 'does not match the schema'}`);
}

/** The raw bytes of a request body as the content-type parser left them (empty for none). */
export const rawBody = (body: unknown): Uint8Array => (body instanceof Uint8Array ? body : new Uint8Array(0));
