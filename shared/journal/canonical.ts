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
      // JSON.stringify escapes exactly as RFC 8785 section 3.2.2.2 requires, lone surrogates included.
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item, i) => encode(item, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalEncodingError(path, 'only plain objects are allowed');
      const record = value as Record<string, unknown>;
      // RFC 8785 sorts member names by UTF-16 code units, which is what the default sort compares.
      const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalEncodingError(path, `type ${typeof value} is not JSON`);
  }
}
