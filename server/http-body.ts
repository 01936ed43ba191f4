import type { z } from 'zod';
import { WireFailure } from './errors';

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
