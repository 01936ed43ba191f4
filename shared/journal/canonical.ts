/**
 * RFC 8785 (JCS) canonical JSON for the journal's value space: objects, arrays, strings,
 * booleans, null and safe integers. Floating-point numbers are refused, so the RFC's
 * number-serialisation rules reduce to the decimal form of an integer.
 */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

export class CanonicalEncodingError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot canonicalise ${path}: ${reason}`);
    this.name = 'CanonicalEncodingError';
  }
}

/** Any UTF-16 code unit D800–DFFF at all: the quick test, false for nearly every string. */
const SURROGATE = /[\uD800-\uDFFF]/;
/** A surrogate that is not half of a pair: in `u` mode a pair reads as one code point, a lone one as category Cs. */
const LONE = /\p{Cs}/u;
const LONE_SURROGATE = 'holds a lone surrogate (a UTF-16 code unit U+D800–U+DFFF outside a pair), which is not Unicode text';

/** Whether a string holds a lone surrogate, which I-JSON and so RFC 8785 refuse (docs/journal-format.md, section 2.1). */
export function hasLoneSurrogate(text: string): boolean {
  return SURROGATE.test(text) && LONE.test(text);
}

/** Canonical JSON text of a value (RFC 8785, integers only). */
export function canonicalize(value: unknown): string {
  return encode(value, '$');
}

function encode(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new CanonicalEncodingError(path, 'only safe integers are allowed (no floating point)');
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      // RFC 8785 takes I-JSON (RFC 7493): text, so a lone surrogate is refused (section 2.1); otherwise
      // JSON.stringify escapes exactly as RFC 8785 section 3.2.2.2 requires.
      if (hasLoneSurrogate(value)) throw new CanonicalEncodingError(path, `the string ${LONE_SURROGATE}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item, i) => encode(item, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalEncodingError(path, 'only plain objects are allowed');
      const record = value as Record<string, unknown>;
      // RFC 8785 sorts member names by UTF-16 code units, which is what the default sort compares.
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort();
      for (const k of keys) if (hasLoneSurrogate(k)) throw new CanonicalEncodingError(`${path}.${k}`, `the member name ${LONE_SURROGATE}`);
      return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalEncodingError(path, `type ${typeof value} is not JSON`);
  }
}

/** Thrown inside canonicalTextProblem at the first departure from the canonical form. */
class NotCanonical extends Error {}

/**
 * Why a JSON text (one that parses) is not the canonical encoding of what it holds, or null when
 * it is. Only for reporting: a verifier first compares the text with canonicalize(parsed), which
 * catches all of these, and asks here for a reason a person can act on.
 */
export function canonicalTextProblem(text: string): string | null {
  let i = 0;
  const fail = (reason: string): never => {
    throw new NotCanonical(`${reason} at character ${i + 1}`);
  };
  const stringToken = (): string => {
    const start = i;
    i += 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i += 1;
    const token = text.slice(start, i);
    const value = JSON.parse(token) as string;
    if (hasLoneSurrogate(value)) {
      i = start;
      fail(`the string ${token.slice(0, 40)} ${LONE_SURROGATE}`);
    }
    if (JSON.stringify(value) !== token) {
      i = start;
      fail(`the string ${token.slice(0, 40)} is not escaped as RFC 8785 requires`);
    }
    return value;
  };
  const value = (): void => {
    const c = text[i];
    if (c === undefined) return fail('the text ends early');
    if (/\s/.test(c)) return fail('whitespace (canonical JSON has none)');
    if (c === '"') {
      stringToken();
      return;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      const names = new Set<string>();
      let last: string | null = null;
      i += 1;
      if (text[i] === close) {
        i += 1;
        return;
      }
      for (;;) {
        if (c === '{') {
          if (text[i] !== '"') return fail('whitespace (canonical JSON has none)');
          const at = i;
          const name = stringToken();
          if (names.has(name)) {
            i = at;
            return fail(`member "${name.slice(0, 40)}" appears twice`);
          }
          if (last !== null && name < last) {
            i = at;
            return fail(`member "${name.slice(0, 40)}" is out of order (members are sorted by name)`);
          }
          names.add(name);
          last = name;
          if (text[i] !== ':') return fail('whitespace (canonical JSON has none)');
          i += 1;
        }
        value();
        if (text[i] === close) {
          i += 1;
          return;
        }
        if (text[i] !== ',') return fail('whitespace (canonical JSON has none)');
        i += 1;
      }
    }
    const literal = /true|false|null/y;
    literal.lastIndex = i;
    if (literal.test(text)) {
      i = literal.lastIndex;
      return;
    }
    const number = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    number.lastIndex = i;
    const m = number.exec(text);
    if (m === null) return fail('not JSON');
    if (m[1] !== undefined || m[2] !== undefined)
      return fail(`the number ${m[0]} is not an integer (floating-point numbers are not allowed)`);
    if (!Number.isSafeInteger(Number(m[0]))) return fail(`the integer ${m[0]} is outside the safe range ±(2^53 − 1)`);
    if (m[0] === '-0') return fail('-0 (written 0 in canonical JSON)');
    i = number.lastIndex;
  };
  try {
    value();
    if (i < text.length) fail(/^\s+$/.test(text.slice(i)) ? 'whitespace (canonical JSON has none)' : 'text after the value');
    return null;
  } catch (error) {
    if (error instanceof NotCanonical) return error.message;
    return 'not JSON';
  }
}
